"""CLV on the full CDNOW master file: fit time and the 39-week holdout check.

    .venv/bin/python bench/bench_clv.py [PATH]     # default: ../shared/data/cdnow/cdnow_master.csv

Loads the 69,659 purchase lines (23,570 customers), fits BG/NBD and Gamma-Gamma on the
calibration period ending 1997-09-30 (median of 5 fits, in-process, loading excluded), then
compares predicted and actual purchase days in 1997-10-01..1998-06-30.
"""

import statistics
import sys
import time
from pathlib import Path

from custlens import clv
from custlens.io import load_purchases

HERE = Path(__file__).resolve().parent
DEFAULT = HERE.parent.parent / "shared" / "data" / "cdnow" / "cdnow_master.csv"


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    purchases, _ = load_purchases([str(path)])
    times = []
    for _ in range(5):
        start = time.perf_counter()
        model, cal = clv.fit(purchases, end="1997-09-30")
        times.append(time.perf_counter() - start)
    params = model.params()
    print(f"data: {path.name}: {len(purchases):,} lines, {len(cal):,} customers")
    print(f"fit (calibration + BG/NBD + Gamma-Gamma): median {statistics.median(times):.2f} s "
          f"(min {min(times):.2f}, max {max(times):.2f}) over 5 runs")
    print("BG/NBD: " + ", ".join(f"{k} = {params[k]:.4f}" for k in ("r", "alpha", "a", "b"))
          + f", LL = {params['log_likelihood']:.2f}, converged {params['converged']}")
    print("Gamma-Gamma: " + ", ".join(f"{k} = {params[k]:.4f}" for k in ("p", "q", "gamma"))
          + f" on {params['gg_customers']:,} repeat buyers")
    _, table, summary = clv.holdout(purchases, end="1997-09-30", holdout_end="1998-06-30")
    print(f"holdout 1997-10-01..1998-06-30: actual {summary['total_actual']:,.0f} purchase days, "
          f"predicted {summary['total_predicted']:,.1f}; MAE {summary['mae']:.4f} per customer")
    print(table.to_string(index=False))


if __name__ == "__main__":
    main()
