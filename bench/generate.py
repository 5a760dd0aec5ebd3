"""Deterministic order-line exports for the benchmarks, written chunk by chunk (any size fits in memory).

    .venv/bin/python bench/generate.py 1e7 bench/data/peers-10000000 [--formats parquet,csv]

Each line: ``customer_id`` (string ``C00000042``), ``order_date`` (timestamp, two years),
``amount`` (log-normal, cents, 2% negative returns). There are ``N // 20`` customers, drawn
Pareto-skewed (the top fifth of customers hold most lines, as in real exports). Chunk ``i``
is drawn from ``default_rng([seed, i])``, so a file is the same bytes on every machine and
the first chunks of a large file equal those of a smaller one with the same chunk size.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

CHUNK = 1_000_000
START = np.datetime64("2024-01-01T00:00:00", "s")


def customer_ids(customers: int) -> pa.Array:
    """``C`` + eight or more digits for 0..customers-1."""
    width = max(8, len(str(customers - 1)))
    digits = pa.array(np.arange(customers)).cast(pa.string())
    return pc.binary_join_element_wise("C", pc.utf8_lpad(digits, width=width, padding="0"), "")


def chunk(lines: int, customers: int, seed: int, index: int, ids: pa.Array) -> pa.Table:
    rng = np.random.default_rng([seed, index])
    who = (rng.pareto(1.2, lines) * customers / 10).astype(np.int64) % customers
    stamp = START + rng.integers(0, 730 * 86400, lines).astype("timedelta64[s]")
    amount = np.round(rng.lognormal(3.2, 1.0, lines), 2)
    amount[rng.random(lines) < 0.02] *= -1
    return pa.table({"customer_id": ids.take(pa.array(who)), "order_date": pa.array(stamp),
                     "amount": pa.array(amount)})


def generate(lines: int, folder: Path, formats=("parquet", "csv"), seed: int = 7) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    customers = max(1, lines // 20)
    ids = customer_ids(customers)
    schema = chunk(1, customers, seed, 0, ids).schema
    writers = {}
    if "parquet" in formats:
        writers["parquet"] = pq.ParquetWriter(folder / "lines.parquet.tmp", schema)
    if "csv" in formats:
        writers["csv"] = pacsv.CSVWriter(str(folder / "lines.csv.tmp"), schema)
    for index, start in enumerate(range(0, lines, CHUNK)):
        table = chunk(min(CHUNK, lines - start), customers, seed, index, ids)
        for writer in writers.values():
            writer.write_table(table)
    for fmt, writer in writers.items():
        writer.close()
        (folder / f"lines.{fmt}.tmp").replace(folder / f"lines.{fmt}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("lines", help="number of order lines, e.g. 1e7")
    parser.add_argument("folder", type=Path)
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    generate(int(float(args.lines)), args.folder, tuple(args.formats.split(",")), args.seed)


if __name__ == "__main__":
    main()
