"""Names the CLI lists in --help and custlens.toml accepts, without heavy imports: the output
formats and the extensions that select them, and the summary engines."""

FORMATS = ["table", "csv", "tsv", "json", "jsonl", "parquet", "xlsx"]
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
BINARY = {"parquet", "xlsx"}
ENGINES = ["auto", "duckdb", "pandas"]
