"""Names the CLI lists in --help and custlens.toml accepts, without heavy imports: the output
formats and the extensions that select them, and the summary engines; and what both CSV writers
(pandas and DuckDB) share: the first characters that make a spreadsheet run a text cell as a
formula (those cells get an apostrophe) and how dates are written."""

FORMATS = ["table", "csv", "tsv", "json", "jsonl", "parquet", "xlsx"]
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
BINARY = {"parquet", "xlsx"}
ENGINES = ["auto", "duckdb", "pandas"]
#: a text cell starting with one of these gets a leading apostrophe in CSV, TSV and XLSX
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: how a date is written as text (CSV, TSV, JSON): with the time when a column has one
DAY_TEXT, TIME_TEXT = "%Y-%m-%d", "%Y-%m-%d %H:%M:%S"
