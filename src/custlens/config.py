"""``custlens.toml``: settings a team keeps next to its exports. CLI options override it.

    [columns]            # role = "header in your export"
    customer_id = "Контрагент"
    amount = "Сумма с НДС"

    [load]
    date_format = "%d.%m.%Y"
    decimal = ","
    encoding = "cp1251"

Without ``--config``, ``./custlens.toml`` is read when it exists.
"""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import CustlensError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_NAME = "custlens.toml"
KNOWN_SECTIONS = {"columns", "load", "rfm", "pareto", "segments", "lifecycle", "kpi"}
LOAD_KEYS = {"encoding", "delimiter", "decimal", "date_format", "sheet"}


class ConfigError(CustlensError):
    """custlens.toml cannot be read or holds an unknown setting."""


def load_config(path: str | None = None) -> dict:
    """Read ``path`` (or ``./custlens.toml`` when present); ``{}`` when there is none."""
    if path is None:
        default = Path(DEFAULT_NAME)
        if not default.is_file():
            return {}
        path = str(default)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: no such config file") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e
    unknown = set(data) - KNOWN_SECTIONS
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(sorted(KNOWN_SECTIONS))}")
    for key in data.get("load", {}):
        if key not in LOAD_KEYS:
            raise ConfigError(f"{path}: [load] has no setting {key!r}; known: {', '.join(sorted(LOAD_KEYS))}")
    columns = data.get("columns", {})
    if not all(isinstance(v, str) for v in columns.values()):
        raise ConfigError(f"{path}: [columns] values must be column names in quotes, e.g. amount = \"Сумма\"")
    return data
