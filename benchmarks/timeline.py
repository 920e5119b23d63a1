"""pytest plugin: the test suite's timeline, per worker and per work unit (issue #27).

``pytest --durations`` says how long each test took, not when it ran, on which worker, or
what the machine's cores did meanwhile. This plugin writes, for every test phase (setup, call,
teardown), the worker, the start and end (seconds since the epoch) and the CPU seconds of the
worker and the children it reaped; the controller samples the machine's busy cores from
``/proc/stat`` twice a second. ``python benchmarks/timeline.py DIR`` prints what each worker
did, one line per work unit (``tests/conftest.py``'s ``work_unit``), its idle gaps, and the
machine's busy cores over the run.

Usage (from the repository root)::

    TIMELINE_DIR=benchmarks/_work/timeline PYTHONPATH=benchmarks:tests \\
        PYTEST_ADDOPTS="-p timeline" make test
    .venv/bin/python benchmarks/timeline.py benchmarks/_work/timeline
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from pathlib import Path

import pytest

_DIR = os.environ.get("TIMELINE_DIR")
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _record(item, phase: str, t0: float, c0: float) -> None:
    if not _DIR:
        return
    from conftest import work_unit  # tests/conftest.py: the unit the workers are handed

    folder = Path(_DIR)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{_WORKER}.tsv", "a") as fh:
        fh.write(f"{_WORKER}\t{work_unit(item)}\t{item.nodeid}\t{phase}\t{t0:.3f}\t{time.time():.3f}"
                 f"\t{_cpu() - c0:.3f}\n")


def _timed(item, phase):
    t0, c0 = time.time(), _cpu()
    try:
        return (yield)
    finally:
        _record(item, phase, t0, c0)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Record the setup phase (fixtures)."""
    return (yield from _timed(item, "setup"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Record the test itself."""
    return (yield from _timed(item, "call"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    """Record the teardown phase."""
    return (yield from _timed(item, "teardown"))


#: Kinds of process, by a word of their command line (the first that matches names it).
KINDS = (("chromium", "chromium"), ("playwright/driver", "playwright"),
         ("jupyter-book", "jupyter-book"), ("ipykernel", "kernel"), ("loky", "loky"),
         ("xdist", "pytest worker"), ("exec(eval(sys.stdin", "pytest worker"),
         ("mindpain_book.buildtools", "buildtools"), ("-m pytest", "pytest"),
         ("multiprocessing", "python pool"), ("python", "python other"))
_TICK = os.sysconf("SC_CLK_TCK")


def _kind(cmdline: str) -> str:
    return next((kind for word, kind in KINDS if word in cmdline), "other")


def _processes() -> dict:
    """pid -> (start tick, CPU seconds so far, kind) of every process now running."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(
                errors="replace")
        except OSError:
            continue
        # after the command name: state is field 0, utime 11, stime 12, starttime 19
        found[stat.parent.name] = (fields[19], (int(fields[11]) + int(fields[12])) / _TICK,
                                   _kind(cmd) if cmd else "kernel thread")
    return found


class _Busy(threading.Thread):
    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out, self.halt = out, threading.Event()
        self.kinds: dict[str, float] = {}

    @staticmethod
    def _jiffies():
        fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4], sum(fields)

    def run(self):
        busy0, total0 = self._jiffies()
        seen = _processes()
        with open(self.out, "a", buffering=1) as fh, \
                open(self.out.with_name("kinds.tsv"), "a", buffering=1) as kinds:
            while not self.halt.wait(0.5):
                busy, total = self._jiffies()
                if total > total0:
                    fh.write(f"{time.time():.3f}\t"
                             f"{(busy - busy0) / (total - total0) * os.cpu_count():.3f}\n")
                busy0, total0 = busy, total
                now = _processes()
                spent: dict[str, float] = {}
                for pid, (start, cpu, kind) in now.items():
                    before = seen.get(pid)
                    base = before[1] if before and before[0] == start else 0.0
                    spent[kind] = spent.get(kind, 0.0) + cpu - base
                seen = now
                kinds.write(f"{time.time():.3f}\t" + "\t".join(
                    f"{k}={v:.2f}" for k, v in spent.items() if v > 0) + "\n")


_SAMPLER: _Busy | None = None


def pytest_configure(config):
    """Start the busy-core sampler in the controller."""
    global _SAMPLER
    if _DIR and _WORKER == "main" and _SAMPLER is None:
        Path(_DIR).mkdir(parents=True, exist_ok=True)
        (Path(_DIR) / "start").write_text(f"{time.time():.3f}\n")
        _SAMPLER = _Busy(Path(_DIR) / "busy.tsv")
        _SAMPLER.start()


def pytest_unconfigure(config):
    """Stop the sampler."""
    if _SAMPLER is not None:
        _SAMPLER.halt.set()
        _SAMPLER.join()
        (Path(_DIR) / "end").write_text(f"{time.time():.3f}\n")


def summary(folder: Path) -> str:
    """What each worker did, unit by unit, and the machine's busy cores (text)."""
    start = float((folder / "start").read_text())
    end = float((folder / "end").read_text()) if (folder / "end").is_file() else None
    rows = []
    for tsv in sorted(folder.glob("*.tsv")):
        if tsv.name in ("busy.tsv", "kinds.tsv"):
            continue
        for line in tsv.read_text().splitlines():
            worker, unit, nodeid, phase, t0, t1, cpu = line.split("\t")
            rows.append((worker, unit, float(t0) - start, float(t1) - start, float(cpu)))
    busy = [(float(t) - start, float(b)) for t, b in
            (line.split("\t") for line in (folder / "busy.tsv").read_text().splitlines())]

    def busy_mean(a, b):
        inside = [v for t, v in busy if a < t <= b]
        return sum(inside) / len(inside) if inside else float("nan")

    out = []
    for worker in sorted({r[0] for r in rows}):
        mine = sorted((r for r in rows if r[0] == worker), key=lambda r: r[2])
        units: dict = {}
        for _, unit, t0, t1, cpu in mine:
            u = units.setdefault(unit, [t0, t1, 0.0, 0])
            u[1] = max(u[1], t1)
            u[2] += cpu
            u[3] += 1
        out.append(f"worker {worker}: {len(mine)} phases, first at {mine[0][2]:.0f} s, "
                   f"last ends {mine[-1][3]:.0f} s, CPU {sum(r[4] for r in mine):.0f} s")
        last = None
        gaps = 0.0
        for unit, (t0, t1, cpu, n) in sorted(units.items(), key=lambda kv: kv[1][0]):
            gap = t0 - last if last is not None else t0
            gaps += max(gap, 0)
            if t1 - t0 >= 5 or gap >= 3:
                out.append(f"  {t0:7.1f} {t1:7.1f} {t1 - t0:6.1f} s  cpu {cpu:6.1f}  "
                           f"busy {busy_mean(t0, t1):4.2f}  gap {gap:5.1f}  {unit} ({n // 3})")
            last = t1
        out.append(f"  gaps between units: {gaps:.0f} s")
    total = end - start if end else max(r[3] for r in rows)
    out.append(f"run: {total:.0f} s; machine busy cores, mean {busy_mean(0, total):.2f}")
    kinds: dict[str, float] = {}
    if (folder / "kinds.tsv").is_file():
        for line in (folder / "kinds.tsv").read_text().splitlines():
            for pair in line.split("\t")[1:]:
                kind, value = pair.split("=")
                kinds[kind] = kinds.get(kind, 0.0) + float(value)
        out.append("CPU seconds by kind of process (sampled from /proc twice a second): " +
                   ", ".join(f"{k} {v:.0f}" for k, v in sorted(kinds.items(),
                                                                key=lambda kv: -kv[1])))
    step = 30
    out.append("busy cores per 30 s: " + " ".join(
        f"{busy_mean(a, a + step):.1f}" for a in range(0, int(total) + 1, step)))
    return "\n".join(out)


if __name__ == "__main__":
    print(summary(Path(sys.argv[1])))
