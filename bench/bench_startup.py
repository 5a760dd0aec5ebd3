"""Start-up: `custlens --help` and every `custlens CMD --help`, as whole processes (target < 0.3 s).

    .venv/bin/python bench/bench_startup.py [--runs 5]

Prints a Markdown table for bench/RESULTS.md: median and max of ``--runs`` fresh processes.
"""

from __future__ import annotations

import argparse
import statistics
import sys

from common import machine_line, measure

from custlens.cli import cli

TARGET = 0.3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(machine_line(args.runs))
    print("| command | median s | max s | under 0.3 s |")
    print("|---|---|---|---|")
    worst = 0.0
    for words in [[], *([name] for name in sorted(cli.commands))]:
        cmd = [sys.executable, "-m", "custlens", *words, "--help"]
        seconds = [measure(cmd)[0] for _ in range(args.runs)]
        worst = max(worst, max(seconds))
        print(f"| `custlens {' '.join(words + ['--help'])}` | {statistics.median(seconds):.3f} | "
              f"{max(seconds):.3f} | {'yes' if max(seconds) < TARGET else 'NO'} |", flush=True)
    print(f"\nslowest: {worst:.3f} s")


if __name__ == "__main__":
    main()
