"""How to read and map inputs (kept free of pandas: the fast path reads these too)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LoadOptions:
    """How to read and map the inputs; every field defaults to detection."""

    columns: dict[str, str] = field(default_factory=dict)  # role -> header (--map, [columns])
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = None
    date_format: str | None = None
    sheet: str | None = None
    strict: bool = False
    #: how the messages tell the user to map a column: "--map" (purchases on the command line)
    #: or a custlens.toml table such as "[columns.contacts]"
    map_with: str = "--map"
    #: refuse a column most of whose present values cannot be read (off where these are a few rows
    #: of files whose columns were checked whole: the DuckDB engine's customer card)
    check_columns: bool = True
    #: role -> the decimal mark of its column, chosen on the whole files (that customer card again)
    decimals: dict[str, str] = field(default_factory=dict)

    def map_advice(self, role: str, column: str = "COLUMN") -> str:
        if self.map_with == "--map":
            return f"--map {role}={column}"
        return f"{self.map_with} {role} = \"{column}\" to custlens.toml"
