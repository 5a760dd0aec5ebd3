"""Names of the output formats and the file extensions that select them (no heavy imports,
so the CLI can list them in --help without loading pandas)."""

FORMATS = ["table", "csv", "tsv", "json", "jsonl", "parquet", "xlsx"]
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".json": "json", ".jsonl": "jsonl",
              ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".xlsx": "xlsx"}
BINARY = {"parquet", "xlsx"}
