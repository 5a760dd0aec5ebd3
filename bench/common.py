"""What the benchmark scripts share: timing a fresh process, and the machine line."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

#: Every task runs as it would on a user's machine: Python caches compiled modules. (This sandbox
#: sets PYTHONDONTWRITEBYTECODE, which makes every run recompile custlens' own modules: +30 ms.)
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

PROBE = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
         "err = (r.stderr.strip().splitlines() or [''])[-1] if r.returncode else ''; "
         "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, repr(err))")


def measure(cmd: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and, when it failed, the last error line of one fresh process."""
    out = subprocess.run([sys.executable, "-c", PROBE, *cmd], capture_output=True, text=True, check=True,
                         env=ENV).stdout
    seconds, rss, err = out.split(" ", 2)
    return float(seconds), int(rss), eval(err)


def machine_line(runs: int) -> str:
    cores = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return (f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}, "
            f"{cores} cores; median of {runs} whole-process runs\n")
