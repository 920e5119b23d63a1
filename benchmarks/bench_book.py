"""Benchmark: `make book` on a fresh clone, venv included (what the budget of issues #9-#12 is).

Clones the repository's committed state (``git clone`` of HEAD) into a temporary folder and
runs ``make venv`` then ``make book`` there, timing each step from the command lines make
echoes. Nothing is shared with the working copy: a new ``.venv`` (uv, or pip, installs
from its local cache: a machine that must download wheels takes longer), a new twin, first
level, scores, calibrations, execution cache and site. Only the data directory (pain21) is
shared, read-only, as on the project's machines. Writes the ``book`` section of
``benchmarks/results.md``. Budget: <= 6 min on 2 cores, venv included (issue #27).

Each step's row also gives the cores it kept busy on average (the machine's busy jiffies
from ``/proc/stat``, sampled twice a second, over the step's wall time): on a quiet machine
a step below ``N_JOBS`` leaves a core idle, which is where overlapping steps can help.

Usage: ``python benchmarks/bench_book.py [--preset full] [--n-jobs 2] [--rev REV] [--keep]``
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _machine import machine_line, replace_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BUDGET_MIN = 6.0  # issue #27 (was 10, issues #9-#12)
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


class BusySampler(threading.Thread):
    """Busy cores of the whole machine over time, from ``/proc/stat`` (twice a second)."""

    def __init__(self, period: float = 0.5):
        super().__init__(daemon=True)
        self.period, self.samples, self._halt = period, [], threading.Event()

    @staticmethod
    def _jiffies() -> tuple[float, float]:
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    def run(self) -> None:
        busy0, total0 = self._jiffies()
        while not self._halt.wait(self.period):
            busy, total = self._jiffies()
            if total > total0:
                self.samples.append((time.perf_counter(),
                                     (busy - busy0) / (total - total0) * os.cpu_count()))
            busy0, total0 = busy, total

    def stop(self) -> None:
        self._halt.set()
        self.join()

    def mean(self, start: float, end: float) -> float:
        """Mean busy cores between two ``time.perf_counter`` readings."""
        inside = [b for t, b in self.samples if start < t <= end]
        return sum(inside) / len(inside) if inside else float("nan")


def _timed(cmd, cwd, env, log) -> list[tuple[float, str]]:
    """Run ``cmd``; return ``(seconds since start, line)`` for every output line.

    The last element is ``(total seconds, "")``; ``_timed.start`` holds the start's
    ``time.perf_counter`` reading (to place the lines on the sampler's clock).
    """
    start = time.perf_counter()
    _timed.start = start
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


def _steps(lines, spans: bool = False) -> dict:
    """Seconds per step: from one recognised command line to the next.

    With ``spans``, ``(start, end)`` offsets of each step (its first occurrence to its last).
    """
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
        if spans:
            out[name] = (out.get(name, (t, nxt))[0], nxt)
        else:
            out[name] = out.get(name, 0.0) + nxt - t
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the clone (for inspection)")
    parser.add_argument("--rev", default="HEAD", help="the commit to clone (default: HEAD)")
    parser.add_argument("--section", default="book",
                        help="section of results.md to write (default: book; e.g. book_small "
                             "for a profile of the small preset that keeps the full one)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-book-"))
    clone = tmp / "mindpain"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    subprocess.run(["git", "checkout", "--quiet", args.rev], cwd=clone, check=True)
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
    sampler = BusySampler()
    sampler.start()
    with open(log_path, "w") as log:
        cpu0 = _children_cpu()
        venv = _timed(["make", "venv"], clone, env, log)
        venv_start = _timed.start
        cpu1 = _children_cpu()
        book = _timed(["make", "book", f"PRESET={args.preset}", f"N_JOBS={args.n_jobs}"],
                      clone, env, log)
        book_start = _timed.start
        cpu2 = _children_cpu()
    sampler.stop()
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
    busy = {"venv (make venv)": sampler.mean(venv_start, venv_start + venv[-1][0])}
    busy.update({k: sampler.mean(book_start + a, book_start + b)
                 for k, (a, b) in _steps(book, spans=True).items() if k != "venv (make venv)"})
    total = venv[-1][0] + book[-1][0]
    chapters = [re.match(r"(\S+\.md): executed in ([\d.]+) s", line) for _, line in book]
    rows = ["| step | seconds | busy cores (of the machine's) |", "|---|---|---|"]
    for name, sec in steps.items():
        rows.append(f"| {name} | {sec:.0f} | {busy.get(name, float('nan')):.2f} |")
        if name.endswith("(execute)"):
            rows += [f"| &nbsp;&nbsp;{m.group(1).split('/')[-1]} (own time) | "
                     f"{float(m.group(2)):.0f} | |" for m in chapters if m]
    within = total / 60 <= BUDGET_MIN
    whole = sampler.mean(venv_start, book_start + book[-1][0])
    rows.append(f"| **total, fresh clone, venv included** | **{total:.0f}** ({total / 60:.1f} "
                f"min; budget {BUDGET_MIN:.0f} min: {'within' if within else 'OVER'}) | "
                f"{whole:.2f} |")
    rows.append(f"| CPU seconds (user+sys of every process): venv / book | "
                f"{cpu1 - cpu0:.0f} / {cpu2 - cpu1:.0f} | |")
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
