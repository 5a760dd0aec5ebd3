"""Reading exports: formats, encodings, delimiters, number and date styles, column roles."""

from .load import (LoadOptions, LoadReport, load, load_contacts, load_costs, load_interactions, load_purchases,
                   load_segment_file)
from .read import RawTable, ReadOptions, expand_paths, read_table

__all__ = [
    "LoadOptions", "LoadReport", "RawTable", "ReadOptions", "expand_paths", "load", "load_contacts", "load_costs",
    "load_interactions", "load_purchases", "load_segment_file", "read_table",
]
