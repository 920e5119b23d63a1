"""Benchmark: full twin generation time, disk size and peak memory.

Runs ``mindpain twin --preset full`` in a child process (so its peak RSS, children
included, is measured by the OS), then writes the figures into the twin section of
``benchmarks/results.md``. Budget (issue): <= 5 min on 2 cores, <= 3 GB on disk,
peak memory <= 4 GB.

Usage: ``python benchmarks/bench_twin.py [--preset full|small] [--n-jobs 2]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _machine import BUDGET_HEADER, budget_row, machine_line, replace_section

HERE = Path(__file__).resolve().parent
BUDGET = {"seconds": 300.0, "disk_gb": 3.0, "memory_gb": 4.0}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20220701)
    parser.add_argument("--keep", action="store_true",
                        help="keep the twin in benchmarks/_work for bench_first_level.py")
    args = parser.parse_args()
    work = HERE / "_work" / f"twin-{args.preset}"
    shutil.rmtree(work, ignore_errors=True)
    cmd = [sys.executable, "-m", "mindpain", "twin", "--out", str(work), "--preset", args.preset,
           "--seed", str(args.seed), "--n-jobs", str(args.n_jobs), "--quiet"]
    # /usr/bin/time -v reports the peak RSS of the largest process; children are summed
    # below through getrusage(RUSAGE_CHILDREN) which keeps the maximum over children.
    import resource

    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    size = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    n_runs = len(list(work.rglob("*_bold.nii.gz")))
    figures = {"seconds": seconds, "disk_gb": size / 1e9, "memory_gb": peak_kb / 1e6}
    rows = [
        BUDGET_HEADER,
        budget_row(f"wall time (s), {n_runs} BOLD runs, n_jobs={args.n_jobs}", seconds,
                   BUDGET["seconds"], ".1f"),
        budget_row("disk (GB)", figures["disk_gb"], BUDGET["disk_gb"]),
        budget_row("peak memory of one process (GB, max RSS)", figures["memory_gb"],
                   BUDGET["memory_gb"]),
    ]
    text = (f"### Twin generation (`--preset {args.preset}`)\n\n{machine_line()}\n\n"
            + "\n".join(rows) + "\n")
    replace_section(HERE / "results.md", "twin", text)
    print(text)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
