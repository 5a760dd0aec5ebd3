"""Time `custlens summary`, `rfm`, `pareto`, `lapsed`, `recommend` and `kpi` end to end, as whole processes, on
generated exports (with `--locale ru`, also `pareto --by margin` on the export's text costs).

    .venv/bin/python bench/bench_reports.py                 # 1e5 and 1e6 lines, 3 runs each
    .venv/bin/python bench/bench_reports.py --sizes 1e5 --runs 5
    .venv/bin/python bench/bench_reports.py --sizes 1e6,1e7 --locale ru   # a Russian export, both engines

Data: `custlens.sampledata` (string customer ids, order lines, ~2% returns, guest checkouts),
written once to bench/data/ as CSV and Parquet. Each measurement is a fresh process
(interpreter start-up included); peak RSS is the child's ru_maxrss. Prints a Markdown table
for bench/RESULTS.md. The baseline is a careful hand-written pandas groupby over the same
Parquet file (no validation, no output formatting): the floor custlens is measured against.
With ``--locale ru`` the export is a Russian one (cp1251, ';', decimal commas, dd.mm.yyyy,
Russian headers; CSV only), read by each engine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import machine_line, measure

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE / "out"
LINES_PER_CUSTOMER = 6.03  # measured on the generator: 1,206,447 lines for 200,000 customers

BASELINE = """
import sys, pandas as pd
f = pd.read_parquet(sys.argv[1], columns=["customer_id", "order_id", "date", "amount"])
f = f[f["customer_id"] != ""]
g = f.groupby("customer_id").agg(first=("date", "min"), last=("date", "max"),
                                  frequency=("order_id", "nunique"), monetary=("amount", "sum"))
g.to_parquet(sys.argv[2])
"""


def ensure_data(lines: int, locale: str = "en") -> dict[str, Path]:
    customers = max(1, round(lines / LINES_PER_CUSTOMER))
    folder = DATA / (f"{lines:.0e}".replace("+0", "").replace("+", "") + ("" if locale == "en" else f"-{locale}"))
    paths = {"csv": folder / "csv" / "purchases.csv"}
    if locale == "en":
        paths["parquet"] = folder / "parquet" / "purchases.parquet"
    custlens = [sys.executable, "-m", "custlens", "sample-data"]
    for fmt, path in paths.items():
        if not path.exists():
            subprocess.run([*custlens, str(path.parent), "--customers", str(customers), "--seed", "1",
                            "--format", fmt, "--locale", locale, "-q"], check=True)
    return paths


def regional_tasks(csv: Path) -> dict[str, list[str]]:
    """The reports on a Russian export, by each engine."""
    custlens = [sys.executable, "-m", "custlens"]
    tasks = {}
    for engine in ("duckdb", "pandas"):
        tasks[f"custlens summary (Russian CSV → parquet), --engine {engine}"] = [
            *custlens, "summary", str(csv), "-o", str(OUT / "s.parquet"), "-q", "--engine", engine]
        tasks[f"custlens kpi --split 2025-01-01 --window 90d (Russian CSV), --engine {engine}"] = [
            *custlens, "kpi", str(csv), "--split", "2025-01-01", "--window", "90d", "-o", str(OUT / "k.csv"), "-q",
            "--engine", engine]
        tasks[f"custlens lapsed (Russian CSV, products and categories), --engine {engine}"] = [
            *custlens, "lapsed", str(csv), "-o", str(OUT / "l.csv"), "-q", "--engine", engine]
        tasks[f"custlens recommend (Russian CSV), --engine {engine}"] = [
            *custlens, "recommend", str(csv), "-o", str(OUT / "c.csv"), "-q", "--engine", engine]
        tasks[f"custlens pareto --by margin (Russian CSV, text costs), --engine {engine}"] = [
            *custlens, "pareto", str(csv), "--by", "margin", "-o", str(OUT / "m.csv"), "-q", "--engine", engine]
    return tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e5,1e6", help="order lines, comma-separated (default 1e5,1e6)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--locale", choices=["en", "ru"], default="en", help="ru: a Russian export, both engines")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine_line(args.runs))
    print("| lines | what | median s | min–max s | peak RSS MiB |")
    print("|---|---|---|---|---|")
    for size in args.sizes.split(","):
        lines = int(float(size))
        paths = ensure_data(lines, args.locale)
        tasks = regional_tasks(paths["csv"]) if args.locale == "ru" else {
            "custlens summary (CSV → parquet)": [sys.executable, "-m", "custlens", "summary", str(paths["csv"]),
                                                 "-o", str(OUT / "s.parquet"), "-q"],
            "custlens summary (Parquet → parquet)": [sys.executable, "-m", "custlens", "summary",
                                                     str(paths["parquet"]), "-o", str(OUT / "s.parquet"), "-q"],
            "custlens rfm (Parquet → parquet)": [sys.executable, "-m", "custlens", "rfm",
                                                 str(paths["parquet"]), "-o", str(OUT / "r.parquet"), "-q"],
            "custlens pareto (Parquet → parquet)": [sys.executable, "-m", "custlens", "pareto",
                                                    str(paths["parquet"]), "-o", str(OUT / "p.parquet"), "-q"],
            "custlens lapsed (Parquet → parquet)": [sys.executable, "-m", "custlens", "lapsed",
                                                    str(paths["parquet"]), "-o", str(OUT / "l.parquet"), "-q"],
            "custlens recommend (Parquet → parquet)": [sys.executable, "-m", "custlens", "recommend",
                                                       str(paths["parquet"]), "-o", str(OUT / "c.parquet"), "-q"],
            "custlens kpi --split 2025-01-01 --window 90d (Parquet)": [
                sys.executable, "-m", "custlens", "kpi", str(paths["parquet"]), "--split", "2025-01-01", "--window",
                "90d", "-o", str(OUT / "k.csv"), "-q"],
            "pandas groupby baseline (Parquet)": [sys.executable, "-c", BASELINE, str(paths["parquet"]),
                                                  str(OUT / "b.parquet")],
        }
        for name, cmd in tasks.items():
            runs = [measure(cmd) for _ in range(args.runs)]
            if any(err for _, _, err in runs):
                raise SystemExit(f"failed: {' '.join(cmd)}: {next(err for _, _, err in runs if err)}")
            seconds = [s for s, _, _ in runs]
            rss = max(r for _, r, _ in runs) / 1024
            print(f"| {lines:,} | {name} | {statistics.median(seconds):.2f} | "
                  f"{min(seconds):.2f}–{max(seconds):.2f} | {rss:,.0f} |", flush=True)


if __name__ == "__main__":
    start = time.time()
    main()
    print(f"\n(took {time.time() - start:.0f} s)")
