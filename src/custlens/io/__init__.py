"""Reading exports: formats, encodings, delimiters, number and date styles, column roles.

The names below are imported on first use, so that ``custlens.io.options`` and
``custlens.io.read`` can be used without importing pandas.
"""

import importlib

_WHERE = {
    "LoadOptions": "options", "LoadReport": "load", "load": "load", "load_contacts": "load", "load_costs": "load",
    "load_interactions": "load", "load_purchases": "load", "load_segment_file": "load",
    "RawTable": "read", "ReadOptions": "read", "expand_paths": "read", "read_table": "read",
}

__all__ = [
    "LoadOptions", "LoadReport", "RawTable", "ReadOptions", "expand_paths", "load", "load_contacts", "load_costs",
    "load_interactions", "load_purchases", "load_segment_file", "read_table",
]


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
