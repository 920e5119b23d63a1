"""Benchmark: the book's full cold build (what `make book` does on a fresh checkout).

Generates the full twin and builds the site with every chapter executed, into temporary
folders (work, results and build output), so nothing is cached: twin, first level, scores,
calibrations and all five chapters. Writes the step times into the ``book`` section of
``benchmarks/results.md``. Budget (issues #9-#12): <= 10 min on 2 cores, venv included.

Usage: ``python benchmarks/bench_book.py [--preset full] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _machine import machine_line, replace_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUDGET_MIN = 10.0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-book-"))
    env = dict(os.environ, MINDPAIN_PRESET=args.preset, MINDPAIN_WORK=str(tmp / "work"),
               MINDPAIN_RESULTS=str(tmp / "results"), MINDPAIN_N_JOBS=str(args.n_jobs),
               MPLBACKEND="Agg")
    env.pop("MINDPAIN_BIDS", None)
    shared = ROOT.parent / "shared" / "data"
    if not env.get("MINDPAIN_DATA") and shared.is_dir():  # as the Makefile does
        env["MINDPAIN_DATA"] = str(shared)
    bin_dir = Path(sys.executable).parent
    steps = []
    start = time.perf_counter()
    subprocess.run([str(bin_dir / "mindpain"), "twin", "--out",
                    str(tmp / "work" / f"twin-{args.preset}"), "--preset", args.preset,
                    "--n-jobs", str(args.n_jobs), "--quiet"], env=env, check=True)
    steps.append(("twin generation", time.perf_counter() - start))
    t0 = time.perf_counter()
    proc = subprocess.run([str(bin_dir / "jupyter-book"), "build", str(ROOT), "--path-output",
                           str(tmp / "out"), "-W", "--keep-going"], env=env,
                          capture_output=True, text=True)
    steps.append(("jupyter-book build, all chapters executed", time.perf_counter() - t0))
    total = time.perf_counter() - start
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], file=sys.stderr)
        return 1
    per_chapter = [line.split("/")[-1].replace(": Executed notebook in", ":")
                   .replace(" [mystnb]", "") for line in proc.stdout.splitlines()
                   if "Executed notebook in" in line]
    rows = ["| step | seconds |", "|---|---|"]
    rows += [f"| {name} | {sec:.0f} |" for name, sec in steps]
    rows += [f"| &nbsp;&nbsp;{item.split(':')[0]} | {float(item.split(':')[1].split()[0]):.0f} |"
             for item in per_chapter]
    rows.append(f"| **total cold build** | **{total:.0f}** ({total / 60:.1f} min; budget "
                f"{BUDGET_MIN:.0f} min: {'within' if total / 60 <= BUDGET_MIN else 'OVER'}) |")
    text = (f"### Book, full cold build (`--preset {args.preset}`)\n\n{machine_line()}\n\n"
            + "\n".join(rows) + "\n")
    replace_section(HERE / "results.md", "book", text)
    print(text)
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
