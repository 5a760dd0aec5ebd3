"""custlens against hand-written baselines and the peer libraries, as whole processes.

    .venv/bin/pip install -e '.[bench]'            # polars for its baseline (not a custlens dependency)
    .venv/bin/python bench/bench_peers.py --sizes 1e6,1e7 --runs 3 [--lifetimes PYTHON] [--pymc PYTHON]
    .venv/bin/python bench/bench_peers.py --sizes 1e8 --formats parquet --only "custlens rfm,DuckDB"

Data (bench/generate.py, written once to bench/data/lines-N/): N order lines of customer_id
(string, ~N/20 customers, Pareto-skewed), order_date (timestamp), amount (log-normal, 2% negative
returns), as Parquet and CSV. Every task reads the file and writes a per-customer table to
Parquet; each is timed as a fresh process (interpreter start-up included), peak RSS included.
The runs are interleaved (run 1 of every task, then run 2…, each round in a seeded shuffled
order: :func:`round_order`), so that a slow minute of a shared machine hits every task alike;
the table shows the median with min–max, and each task's median divided by the fastest
hand-written baseline's. ``--lifetimes``/``--pymc`` name Python
interpreters where lifetimes / pymc-marketing are installed (``make bench-peers`` makes them);
tasks whose interpreter lacks the package are reported as not installable. ``--only`` keeps the
tasks whose name contains one of the comma-separated texts. Prints Markdown for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
from pathlib import Path

from common import machine_line, measure
from generate import generate

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
OUT = HERE / "out"


DUCKDB = """
import sys, duckdb
src, out = sys.argv[1], sys.argv[2]
read = f"read_parquet('{src}')" if src.endswith(".parquet") else f"read_csv_auto('{src}')"
duckdb.sql(f'''COPY (SELECT customer_id, min(order_date::DATE) AS first_order, max(order_date::DATE) AS last_order,
  count(DISTINCT order_date::DATE) FILTER (WHERE amount >= 0) AS frequency, sum(amount) AS monetary
  FROM {read} GROUP BY customer_id) TO '{out}' (FORMAT PARQUET)''')
"""

# The same columns as `custlens summary` minus the checks: what a careful analyst would write to get
# the median gap too (distinct order days, lag() over each customer's days, median).
DUCKDB_SAME_WORK = """
import sys, duckdb
src, out = sys.argv[1], sys.argv[2]
read = f"read_parquet('{src}')" if src.endswith(".parquet") else f"read_csv_auto('{src}')"
duckdb.sql(f'''COPY (
  WITH lines AS (SELECT customer_id, order_date::DATE AS day, amount FROM {read}),
  days AS (SELECT DISTINCT customer_id, day FROM lines WHERE amount >= 0),
  gaps AS (SELECT customer_id, day, day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap FROM days),
  per AS (SELECT customer_id, min(day) AS first_order, max(day) AS last_order, count(*) AS frequency,
                 median(gap) AS median_gap_days FROM gaps GROUP BY customer_id),
  money AS (SELECT customer_id, sum(amount) AS monetary FROM lines GROUP BY customer_id)
  SELECT * FROM per JOIN money USING (customer_id)) TO '{out}' (FORMAT PARQUET)''')
"""

POLARS = """
import sys, polars as pl
src, out = sys.argv[1], sys.argv[2]
frame = pl.scan_parquet(src) if src.endswith(".parquet") else pl.scan_csv(src, try_parse_dates=True)
(frame.with_columns(pl.col("order_date").dt.date().alias("day"))
 .group_by("customer_id")
 .agg(pl.col("day").min().alias("first_order"), pl.col("day").max().alias("last_order"),
      pl.col("day").filter(pl.col("amount") >= 0).n_unique().alias("frequency"), pl.col("amount").sum().alias("monetary"))
 .sink_parquet(out))
"""

PANDAS = """
import sys, pandas as pd
src, out = sys.argv[1], sys.argv[2]
f = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src, parse_dates=["order_date"], engine="pyarrow")
f["day"] = f["order_date"].dt.normalize()
g = f.groupby("customer_id").agg(first_order=("day", "min"), last_order=("day", "max"), monetary=("amount", "sum"))
g["frequency"] = f[f["amount"] >= 0].groupby("customer_id")["day"].nunique()
g.to_parquet(out)
"""

ARROW_READ = """
import sys, pyarrow.parquet as pq, pyarrow.csv as pacsv
src = sys.argv[1]
t = pq.read_table(src, columns=["customer_id", "order_date", "amount"]) if src.endswith(".parquet") else pacsv.read_csv(src)
print(t.num_rows)
"""

LIFETIMES = """
import sys, pandas as pd
from lifetimes.utils import summary_data_from_transaction_data
src, out = sys.argv[1], sys.argv[2]
f = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src, parse_dates=["order_date"])
summary_data_from_transaction_data(f, "customer_id", "order_date", monetary_value_col="amount").to_parquet(out)
"""

PYMC = """
import sys, pandas as pd
from pymc_marketing.clv.utils import rfm_summary
src, out = sys.argv[1], sys.argv[2]
f = pd.read_parquet(src) if src.endswith(".parquet") else pd.read_csv(src, parse_dates=["order_date"])
rfm_summary(f, "customer_id", "order_date", monetary_value_col="amount").to_parquet(out)
"""


def round_order(names: list[str], round_: int) -> list[str]:
    """The tasks of round ``round_`` in an order shuffled with the round as seed (the same on every
    machine), so that no task always runs right after the same one. In the table's order `custlens
    summary` always came first, right after pymc-marketing had freed 2.5 GiB, and such a run
    sometimes took twice its time: 6.3 s on 1e7 Parquet lines, 2.6 s right after `custlens rfm`
    (session 9)."""
    shuffled = list(names)
    random.Random(round_).shuffle(shuffled)
    return shuffled


def has_module(python: str, module: str) -> bool:
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1e6", help="order lines, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--formats", default="parquet,csv")
    parser.add_argument("--lifetimes", default=sys.executable, help="a Python with lifetimes installed")
    parser.add_argument("--pymc", default=sys.executable, help="a Python with pymc-marketing installed")
    parser.add_argument("--custlens-only", action="store_true")
    parser.add_argument("--only", help="run only the tasks whose name contains one of these comma-separated texts")
    parser.add_argument("--custlens-args", default="", help="extra options for every custlens command")
    parser.add_argument("--line-reports", action="store_true",
                        help="also time the reports that read every purchase line: kpi, cohorts, clv")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print(machine_line(args.runs))
    print("| lines | input | task | median s | min–max s | peak RSS MiB | × fastest hand-written |")
    print("|---|---|---|---|---|---|---|")
    custlens = [sys.executable, "-m", "custlens"]
    for size in args.sizes.split(","):
        lines = int(float(size))
        folder = DATA / f"lines-{lines}"
        if not all((folder / f"lines.{fmt}").exists() for fmt in args.formats.split(",")):
            generate(lines, folder, tuple(args.formats.split(",")))
        for fmt in args.formats.split(","):
            src = str(folder / f"lines.{fmt}")
            out = str(OUT / "peer.parquet")
            tasks = {f"custlens {name}": [*custlens, name, src, "-o", out, "-q", *args.custlens_args.split()]
                     for name in ("summary", "rfm", "pareto", "segment", "lapsed")}
            if args.line_reports:
                for name, extra in (("kpi", ["--split", "2025-01-01", "--window", "90d"]), ("cohorts", []),
                                    ("clv", [])):
                    tasks[f"custlens {name}"] = [*custlens, name, src, *extra, "-o", str(OUT / "report.csv"), "-q",
                                                 *args.custlens_args.split()]
            if not args.custlens_only:
                for name, code, python, module in (("DuckDB SQL (hand-written)", DUCKDB, sys.executable, "duckdb"),
                                                   ("DuckDB SQL with the median gap (hand-written, same work)",
                                                    DUCKDB_SAME_WORK, sys.executable, "duckdb"),
                                                   ("polars lazy (hand-written)", POLARS, sys.executable, "polars"),
                                                   ("pandas groupby (hand-written)", PANDAS, sys.executable, "pandas"),
                                                   ("pyarrow read only (the floor)", ARROW_READ, sys.executable,
                                                    "pyarrow"),
                                                   ("lifetimes summary_data_from_transaction_data", LIFETIMES,
                                                    args.lifetimes, "lifetimes"),
                                                   ("pymc-marketing rfm_summary", PYMC, args.pymc, "pymc_marketing")):
                    tasks[name] = [python, "-c", code, src, out] if has_module(python, module) else None
            chosen = {name: cmd for name, cmd in tasks.items()
                      if not args.only or any(part in name for part in args.only.split(","))}
            results: dict[str, list] = {name: [] for name, cmd in chosen.items() if cmd is not None}
            for round_ in range(args.runs):  # interleaved, so that a slow minute of the machine hits every task
                for name in round_order(list(results), round_):
                    results[name].append(measure(chosen[name]))
            baselines = [statistics.median(s for s, _, _ in results[n]) for n in results
                         if "hand-written" in n and not any(e for _, _, e in results[n])]
            for name, cmd in chosen.items():
                if cmd is None:
                    print(f"| {lines:,} | {fmt} | {name} | not installable here | | | |", flush=True)
                    continue
                runs = results[name]
                errors = [e for _, _, e in runs if e]
                if errors:
                    print(f"| {lines:,} | {fmt} | {name} | failed: {errors[0][:80]} | | | |", flush=True)
                    continue
                seconds = [s for s, _, _ in runs]
                rss = max(r for _, r, _ in runs) / 1024
                ratio = f"{statistics.median(seconds) / min(baselines):.2f}" if baselines else ""
                print(f"| {lines:,} | {fmt} | {name} | {statistics.median(seconds):.2f} | "
                      f"{min(seconds):.2f}–{max(seconds):.2f} | {rss:,.0f} | {ratio} |", flush=True)


if __name__ == "__main__":
    main()
