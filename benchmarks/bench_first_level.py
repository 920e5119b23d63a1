"""Benchmark: first level on the full twin: wall time, peak memory, and recovery.

Runs ``mindpain first-level`` on a twin in a child process (its peak RSS is read through
``getrusage(RUSAGE_CHILDREN)``, the maximum over children, i.e. the largest single
process), then the baseline group map of naive participants and its spatial correlation
with the planted pattern, and writes the figures into the ``first_level`` section of
``benchmarks/results.md``. Budget (issue): <= 10 min on 2 cores, <= 4 GB peak memory,
recovery r >= 0.8.

Usage: ``python benchmarks/bench_first_level.py --twin DIR [--n-jobs 2]`` (a full twin made
by ``mindpain twin --out DIR --preset full``).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import BUDGET_HEADER, budget_row, machine_line, replace_section

HERE = Path(__file__).resolve().parent
BUDGET = {"seconds": 600.0, "memory_gb": 4.0, "recovery_r": 0.8}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--twin", required=True, help="twin (BIDS) folder")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--out", default=None, help="derivatives folder (default: temporary)")
    args = parser.parse_args()
    twin = Path(args.twin)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-fl-")) / "fl"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [sys.executable, "-m", "mindpain", "first-level", str(twin), "--out", str(out),
           "--n-jobs", str(args.n_jobs), "--quiet"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    seconds = time.perf_counter() - start
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
    start = time.perf_counter()
    subprocess.run(cmd, check=True)
    rerun = time.perf_counter() - start

    from mindpain.first_level import group as group_level

    truth = twin / "derivatives" / "twin-truth"
    mask = truth / "space-MNI152NLin6Asym_res-twin_desc-brain_mask.nii.gz"
    group = group_level.group_map(out, group_level.naive_subjects(twin), mask_img=mask)
    r = group_level.spatial_correlation(
        group["effect"], truth / "space-MNI152NLin6Asym_res-twin_desc-plantedHotVsWarm_effect"
        ".nii.gz", mask)
    n_runs = len(list(twin.rglob("sub-*_bold.nii.gz")))

    rows = [
        BUDGET_HEADER,
        budget_row(f"wall time (s), {n_runs} runs, n_jobs={args.n_jobs}", seconds,
                   BUDGET["seconds"], ".1f"),
        budget_row("peak memory of one process (GB, max RSS)", peak_gb, BUDGET["memory_gb"]),
        budget_row("second run, nothing to recompute (s)", rerun, None, ".1f"),
        budget_row(f"recovery: r(baseline group hot>warm, planted), n={group['n']}", r,
                   BUDGET["recovery_r"], ".3f", above=True),
    ]
    text = (f"### First level (`mindpain first-level`, {twin.name})\n\n{machine_line()}\n\n"
            + "\n".join(rows) + "\n")
    replace_section(HERE / "results.md", "first_level", text)
    print(text)
    if not args.out:
        shutil.rmtree(out.parent, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
