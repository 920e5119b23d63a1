"""Benchmark: `make book` on a fresh clone, venv included (what the budget of issues #9-#12 is).

Clones the repository's committed state (``git clone`` of HEAD) into a temporary folder and
runs ``make venv`` then ``make book`` there, timing each step from the command lines make
echoes. Nothing is shared with the working copy: a new ``.venv`` (uv, or pip, installs
from its local cache: a machine that must download wheels takes longer), a new twin, first
level, scores, calibrations, execution cache and site. Only the data directory (pain21) is
shared, read-only, as on the project's machines. Writes the ``book`` section of
``benchmarks/results.md``. Budget: <= 10 min on 2 cores, venv included.

Usage: ``python benchmarks/bench_book.py [--preset full] [--n-jobs 2] [--keep]``
"""

from __future__ import annotations

import argparse
import os
import re
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
#: How an echoed command line of the Makefile names its step.
STEPS = [
    (re.compile(r"-m venv|pip install|pip check|cff-schema|zipfile"), "venv (make venv)"),
    (re.compile(r"mindpain twin "), "twin generation"),
    (re.compile(r"buildtools prepare-book"), "prepare build cache"),
    (re.compile(r"buildtools stage-data"), "first level and scores (stage-data)"),
    (re.compile(r"buildtools execute"), "chapters executed, side by side (execute)"),
    (re.compile(r"jupyter-book build"), "jupyter-book build (from the execution cache)"),
    (re.compile(r"buildtools check-site"), "site check"),
]


def _timed(cmd, cwd, env, log) -> list[tuple[float, str]]:
    """Run ``cmd``; return ``(seconds since start, line)`` for every output line."""
    start = time.perf_counter()
    lines = []
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, bufsize=1) as proc:
        for line in proc.stdout:
            lines.append((time.perf_counter() - start, line.rstrip("\n")))
            log.write(line)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed (exit {proc.returncode}); see {log.name}")
    lines.append((time.perf_counter() - start, ""))
    return lines


def _children_cpu() -> float:
    """CPU seconds (user+sys) of the finished child processes so far."""
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _steps(lines) -> dict:
    """Seconds per step: from one recognised command line to the next."""
    marks = []
    for t, line in lines:
        for pattern, name in STEPS:
            if pattern.search(line) and not line.startswith(("[", " ")):
                if not marks or marks[-1][1] != name:
                    marks.append((t, name))
                break
    end = lines[-1][0]
    out = {}
    for (t, name), nxt in zip(marks, [m[0] for m in marks[1:]] + [end], strict=True):
        out[name] = out.get(name, 0.0) + nxt - t
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the clone (for inspection)")
    parser.add_argument("--section", default="book",
                        help="section of results.md to write (default: book; e.g. book_small "
                             "for a profile of the small preset that keeps the full one)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-book-"))
    clone = tmp / "mindpain"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout.strip()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MINDPAIN_", "VIRTUAL_"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if ".venv" not in p)
    shared = ROOT.parent / "shared" / "data"
    if shared.is_dir():  # as the Makefile does on the project's machines
        env["MINDPAIN_DATA"] = str(shared)
    log_path = HERE / "_work" / f"bench_{args.section}.log"
    log_path.parent.mkdir(exist_ok=True)
    load = os.getloadavg()[0]
    with open(log_path, "w") as log:
        cpu0 = _children_cpu()
        venv = _timed(["make", "venv"], clone, env, log)
        cpu1 = _children_cpu()
        book = _timed(["make", "book", f"PRESET={args.preset}", f"N_JOBS={args.n_jobs}"],
                      clone, env, log)
        cpu2 = _children_cpu()
    tables = ""
    if args.preset == "full":  # the results held against the recorded checksums
        check = subprocess.run(["make", "--no-print-directory", "tables-check"], cwd=clone,
                               env=env, capture_output=True, text=True)
        tables = check.stdout.strip().splitlines()[-1] if check.stdout.strip() else "no output"
        tables = (f"\n\nResult tables (`make tables-check`, against "
                  f"`benchmarks/results_tables_full.sha256`): {tables}"
                  f"{'' if check.returncode == 0 else ' (DIFFER)'}.")
    steps = {"venv (make venv)": venv[-1][0]}
    steps.update({k: v for k, v in _steps(book).items() if k != "venv (make venv)"})
    total = venv[-1][0] + book[-1][0]
    chapters = [re.match(r"(\S+\.md): executed in ([\d.]+) s", line) for _, line in book]
    rows = ["| step | seconds |", "|---|---|"]
    for name, sec in steps.items():
        rows.append(f"| {name} | {sec:.0f} |")
        if name.endswith("(execute)"):
            rows += [f"| &nbsp;&nbsp;{m.group(1).split('/')[-1]} (own time) | "
                     f"{float(m.group(2)):.0f} |" for m in chapters if m]
    within = total / 60 <= BUDGET_MIN
    rows.append(f"| **total, fresh clone, venv included** | **{total:.0f}** ({total / 60:.1f} "
                f"min; budget {BUDGET_MIN:.0f} min: {'within' if within else 'OVER'}) |")
    rows.append(f"| CPU seconds (user+sys of every process): venv / book | "
                f"{cpu1 - cpu0:.0f} / {cpu2 - cpu1:.0f} |")
    text = (f"### Book, `make book` on a fresh clone (`PRESET={args.preset}`, "
            f"`N_JOBS={args.n_jobs}`, commit {commit})\n\n{machine_line()}\n\n"
            + f"Load average (1 min) at the start: {load:.1f}.\n\n"
            + "\n".join(rows) + "\n\nChapters run two at a time, so their own times add up to "
            f"more than the execute step. `python benchmarks/bench_book.py --preset "
            f"{args.preset} --section {args.section}`; the log is "
            f"`benchmarks/_work/{log_path.name}`." + tables + "\n")
    replace_section(HERE / "results.md", args.section, text)
    print(text)
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if within and "DIFFER" not in tables else 1


if __name__ == "__main__":
    sys.exit(main())
