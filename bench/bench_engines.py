"""The summary hot path in pandas, polars and DuckDB, in one process, on the same Parquet file.

    .venv/bin/python bench/bench_engines.py [--lines 1e7] [--runs 3]

The same definitions (custlens.summary): per customer first and last counted order day, number
of order days, net amount, and the median gap between order days. pandas is custlens' reference
engine (loader + summary.customers), DuckDB its engine (custlens.engine), polars a hand-written
group_by with per-customer sort/diff/median. Prints the median seconds of ``--runs`` and checks
that the three agree on every customer.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from generate import generate

from custlens import engine
from custlens.io import LoadOptions, load_purchases
from custlens.summary import customers

HERE = Path(__file__).resolve().parent


def with_pandas(path: str):
    return customers(load_purchases([path])[0]).customers


def with_duckdb(path: str):
    return engine.to_pandas(engine.summarize(engine.open_source([path], LoadOptions()))).customers


def with_polars(path: str):
    import polars as pl

    lines = pl.scan_parquet(path).with_columns(pl.col("order_date").dt.date().alias("day"))
    return (lines.group_by("customer_id").agg(
        pl.col("amount").sum().round(2).alias("monetary"),
        pl.col("day").filter(pl.col("amount") >= 0).unique().sort().alias("days"),
    ).filter(pl.col("days").list.len() > 0).with_columns(
        pl.col("days").list.first().alias("first_order"), pl.col("days").list.last().alias("last_order"),
        pl.col("days").list.len().alias("frequency"),
        pl.col("days").list.diff().list.drop_nulls().list.eval(pl.element().dt.total_days())
        .list.median().alias("median_gap_days"),
    ).drop("days").sort("customer_id").collect().to_pandas())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", default="1e7")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = int(float(args.lines))
    folder = HERE / "data" / f"lines-{lines}"
    if not (folder / "lines.parquet").exists():
        generate(lines, folder, ("parquet",))
    path = str(folder / "lines.parquet")
    results = {}
    print(f"| engine | {lines:,} lines: median s | min–max s |\n|---|---|---|")
    for name, run in (("pandas", with_pandas), ("polars", with_polars), ("duckdb", with_duckdb)):
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            results[name] = run(path)
            seconds.append(time.perf_counter() - start)
        print(f"| {name} | {statistics.median(seconds):.2f} | {min(seconds):.2f}–{max(seconds):.2f} |", flush=True)
    reference = results["pandas"]
    for name in ("polars", "duckdb"):
        other = results[name]
        assert list(other["customer_id"]) == list(reference["customer_id"]), name
        for column in ("frequency", "median_gap_days"):
            assert np.allclose(other[column].to_numpy(float), reference[column].to_numpy(float), equal_nan=True), column
        assert np.allclose(other["monetary"], reference["monetary"], rtol=1e-9), name
    print("\nall three agree on every customer (ids, frequency, median gap, monetary)")


if __name__ == "__main__":
    main()
