"""pytest plugin: where the suite's CPU time goes, per test and per file (load-robust durations).

``pytest --durations`` reports wall time, which on a shared machine grows with everyone
else's work. This plugin reports CPU seconds (user+sys) of the test process and of the child
processes it has reaped (subprocesses such as ``jupyter-book``, the BIDS validator, a
kernel), per test phase (setup, call, teardown) — a module fixture's cost lands on the first
test that uses it. Pool workers that outlive a test (joblib's loky) are not counted.

Usage (from the repository root)::

    PYTHONPATH=benchmarks .venv/bin/python -m pytest -p cpu_durations -p no:xdist [ARGS]

Prints the slowest tests and files by CPU seconds at the end; ``CPU_DURATIONS=FILE`` also
writes every test's figures to ``FILE`` (TSV: nodeid, cpu, wall).
"""

from __future__ import annotations

import os
import resource
import time
from collections import defaultdict

import pytest

_CPU: dict[str, float] = defaultdict(float)
_WALL: dict[str, float] = defaultdict(float)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def _add(item, cpu: float, wall: float) -> None:
    _CPU[item.nodeid] += _cpu() - cpu
    _WALL[item.nodeid] += time.perf_counter() - wall


def _timed(item):
    """Wrap one phase of a test: run it, then add its CPU and wall seconds to the test's."""
    cpu, wall = _cpu(), time.perf_counter()
    try:
        return (yield)
    finally:
        _add(item, cpu, wall)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    """Time the setup phase (fixtures)."""
    return (yield from _timed(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Time the test itself."""
    return (yield from _timed(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item):
    """Time the teardown phase."""
    return (yield from _timed(item))


def pytest_terminal_summary(terminalreporter):
    """Print the slowest tests and files by CPU seconds."""
    if not _CPU:
        return
    files: dict[str, float] = defaultdict(float)
    for nodeid, cpu in _CPU.items():
        files[nodeid.split("::")[0]] += cpu
    write = terminalreporter.write_line
    write(f"\nCPU seconds (user+sys, with reaped children): total {sum(_CPU.values()):.1f}")
    write("slowest files:")
    for path, cpu in sorted(files.items(), key=lambda kv: -kv[1])[:25]:
        write(f"  {cpu:8.1f}  {path}")
    write("slowest tests:")
    for nodeid, cpu in sorted(_CPU.items(), key=lambda kv: -kv[1])[:40]:
        write(f"  {cpu:8.1f}  (wall {_WALL[nodeid]:7.1f})  {nodeid}")
    out = os.environ.get("CPU_DURATIONS")
    if out:
        with open(out, "w") as fh:
            fh.write("nodeid\tcpu\twall\n")
            for nodeid, cpu in _CPU.items():
                fh.write(f"{nodeid}\t{cpu:.3f}\t{_WALL[nodeid]:.3f}\n")
