"""``custlens.toml``: settings a team keeps next to its exports. CLI options override it.

    [columns]            # role = "header in your export" (purchases, and every file)
    customer_id = "Контрагент"
    amount = "Сумма с НДС"

    [columns.contacts]   # only for --contacts files (also [columns.interactions], [columns.costs])
    customer_id = "Код клиента"

    [load]
    date_format = "%d.%m.%Y"
    decimal = ","
    encoding = "cp1251"
    engine = "auto"          # or "duckdb", "pandas" (see --engine)
    memory_limit = "4GB"     # the DuckDB engine spills to disk beyond it (default: a quarter of RAM)

Without ``--config``, ``./custlens.toml`` is read when it exists.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .errors import CustlensError
from .formats import ENGINES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_NAME = "custlens.toml"
KNOWN_SECTIONS = {"columns", "load", "rfm", "pareto", "segments", "lifecycle", "kpi"}
LOAD_KEYS = {"encoding", "delimiter", "decimal", "date_format", "sheet", "engine", "memory_limit"}
FILE_KINDS = {"contacts", "interactions", "costs"}


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
    engine, limit = data.get("load", {}).get("engine"), data.get("load", {}).get("memory_limit")
    if engine is not None and engine not in ENGINES:
        raise ConfigError(f"{path}: [load] engine = {engine!r}; use \"auto\", \"duckdb\" or \"pandas\"")
    if limit is not None and not re.fullmatch(r"\d+(\.\d+)?\s*(K|M|G|T)i?B", str(limit), re.IGNORECASE):
        raise ConfigError(f"{path}: [load] memory_limit = {limit!r}; write a size such as \"4GB\" or \"512MB\"")
    for key, value in data.get("columns", {}).items():
        if isinstance(value, dict):
            if key not in FILE_KINDS or not all(isinstance(v, str) for v in value.values()):
                raise ConfigError(f"{path}: [columns.{key}]: use [columns.contacts], [columns.interactions] or "
                                  "[columns.costs], with column names in quotes")
        elif not isinstance(value, str):
            raise ConfigError(f"{path}: [columns] values must be column names in quotes, e.g. amount = \"Сумма\"")
    return data


def column_map(config: dict, kind: str = "purchases") -> dict[str, str]:
    """The role → column map for one kind of file: ``[columns]`` (for every file), then
    ``[columns.<kind>]`` for contacts, interactions and costs."""
    columns = config.get("columns", {})
    shared = {role: column for role, column in columns.items() if isinstance(column, str)}
    return {**shared, **columns.get(kind, {})} if kind != "purchases" else shared
