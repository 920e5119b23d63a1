"""Benchmark of the test suite: what it holds (tests, assertions) and how long its tiers take.

``count`` (the default) counts, per test file, the tests pytest collects (parametrized cases
and doctests included) and, from the source, the ``assert`` statements, the ``pytest.raises``
/ ``pytest.warns`` checks and the parametrized cases written out as literals; with
``--against REV`` the same source counts of the committed revision ``REV`` are shown beside
them, and the command fails if a file lost an assertion (a speed-up must not drop any).

``time`` runs ``make check`` and/or ``make test`` in this working copy (its ``.venv`` made
beforehand) and records wall time, CPU time (user+sys of every process the target started,
from the kernel's accounting of the finished children) and the machine's load average
before and after: on a shared machine the wall time grows with the others' work, the CPU
time much less. Writes the ``tests`` section of ``benchmarks/results.md``.

Usage::

    python benchmarks/bench_tests.py count [--against REV]
    python benchmarks/bench_tests.py time [--target check] [--target test] [--against REV]
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _machine import machine_line, replace_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Budgets of issue #27 (seconds, 2 cores, quiet machine).
BUDGETS = {"check": 90.0, "test": 480.0}
CHECKS = {"raises", "warns", "fail", "approx"}


def _literal_cases(decorator: ast.expr) -> int:
    """Cases of ``@pytest.mark.parametrize(names, [..])`` written as a literal, else 0."""
    if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "parametrize" and len(decorator.args) >= 2):
        return 0
    values = decorator.args[1]
    return len(values.elts) if isinstance(values, ast.List | ast.Tuple) else 0


def source_counts(text: str) -> Counter:
    """Count asserts, pytest checks, test functions and literal parametrized cases."""
    counts = Counter()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Assert):
            counts["assert"] += 1
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr in CHECKS and isinstance(node.func.value, ast.Name)
              and node.func.value.id == "pytest"):
            counts["pytest." + node.func.attr] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name.startswith("test"):
                counts["test functions"] += 1
            counts["parametrized cases"] += sum(_literal_cases(d) for d in node.decorator_list)
    return counts


def function_counts(text: str) -> dict[str, Counter]:
    """The counts of :func:`source_counts` per function of a test module, by name.

    Top-level functions and methods, by their own name (a test moved into a class keeps
    its identity); a nested function counts in the function around it. The code outside
    every function counts under ``"<module>"``.
    """
    tree = ast.parse(text)
    out: dict[str, Counter] = {}
    inside = Counter()
    for node in tree.body:
        defs = ([(node.name, node)] if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                else [(n.name, n) for n in node.body
                      if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
                if isinstance(node, ast.ClassDef) else [])
        for name, fn in defs:
            out[name] = out.get(name, Counter()) + source_counts(ast.unparse(fn))
            inside += out[name]
    rest = source_counts(text) - inside
    if rest:
        out["<module>"] = rest
    return out


def doctest_examples(text: str) -> int:
    """Number of ``>>>`` examples in a module's source (run by ``--doctest-modules``)."""
    return sum(1 for line in text.splitlines() if line.lstrip().startswith(">>> "))


def tree_counts(read, paths) -> dict[str, Counter]:
    """Counts per test function (``tests::name``, over every test file) and per package
    module (``src/...``: its doctest examples)."""
    out = {}
    for path in paths:
        text = read(path)
        if text is None:
            continue
        if path.startswith("tests/"):
            for name, counts in function_counts(text).items():
                key = f"tests::{name}" if name != "<module>" else f"{path}::<module>"
                out[key] = out.get(key, Counter()) + counts
        else:
            n = doctest_examples(text)
            if n:
                out[path] = Counter({"doctest examples": n})
    return out


def _git_files(rev: str | None) -> list[str]:
    cmd = ["git", "ls-files"] if rev is None else ["git", "ls-tree", "-r", "--name-only", rev]
    names = subprocess.run(cmd + ["tests", "src"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return sorted(n for n in names if n.endswith(".py"))


def counts_at(rev: str | None) -> dict[str, Counter]:
    """Counts of the working copy (``rev`` None) or of the committed revision ``rev``."""
    if rev is None:
        def read(p):
            return (ROOT / p).read_text() if (ROOT / p).is_file() else None
    else:
        def read(p):
            proc = subprocess.run(["git", "show", f"{rev}:{p}"], cwd=ROOT, capture_output=True,
                                  text=True)
            return proc.stdout if proc.returncode == 0 else None
    return tree_counts(read, _git_files(rev))


def collected(marker: str | None = None) -> tuple[int, Counter]:
    """Tests pytest collects (total, per file), optionally only those matching ``-m marker``."""
    cmd = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:xdist"]
    if marker:
        cmd += ["-m", marker]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True).stdout
    ids = [line for line in out.splitlines() if "::" in line]
    return len(ids), Counter(line.split("::")[0] for line in ids)


def count_table(now: dict, before: dict | None, per_file: Counter) -> tuple[str, list[str]]:
    """Markdown table of the counts (and of ``before``); the files that lost an assertion."""
    keys = ["assert", "pytest.raises", "pytest.warns", "pytest.fail", "parametrized cases",
            "test functions", "doctest examples"]
    total = sum((c for c in now.values()), Counter())
    rows = ["| counted | now | " + ("before | " if before else "") + "|",
            "|---|---|" + ("---|" if before else "")]
    rows[0] = rows[0].replace(" | |", " |")
    old = sum((c for c in before.values()), Counter()) if before else None
    rows.append(f"| tests collected | {sum(per_file.values())} |"
                + (" |" if before else ""))
    for key in keys:
        rows.append(f"| {key} | {total[key]} |" + (f" {old[key]} |" if before else ""))
    lost = []
    if before:
        for path, was in before.items():
            is_ = now.get(path, Counter())
            lost += [f"{path}: {k} {was[k]} -> {is_[k]}" for k in keys if is_[k] < was[k]]
    return "\n".join(rows), lost


def run_timed(target: str) -> dict:
    """Run ``make TARGET``; wall and children's CPU seconds, load before and after, status."""
    load0 = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    log = HERE / "_work" / f"bench_tests_{target}.log"
    log.parent.mkdir(exist_ok=True)
    with open(log, "w") as fh:
        status = subprocess.run(["make", "--no-print-directory", target], cwd=ROOT, stdout=fh,
                                stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    tail = log.read_text().strip().splitlines()
    summary = next((ln for ln in reversed(tail) if re.search(r"\d+ (passed|failed)", ln)), "")
    return {"target": target, "wall": wall, "cpu": cpu, "load0": load0,
            "load1": os.getloadavg()[0], "status": status, "summary": summary.strip("= ")}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("count", "time"), nargs="?", default="count")
    parser.add_argument("--against", metavar="REV", help="compare the source counts with REV")
    parser.add_argument("--target", action="append", choices=sorted(BUDGETS),
                        help="make target to time (repeatable; default: check)")
    args = parser.parse_args()
    now = counts_at(None)
    before = counts_at(args.against) if args.against else None
    total, per_file = collected()
    quick, _ = collected("not slow and not heavy")
    table, lost = count_table(now, before, per_file)
    print(table)
    print(f"collected: {total} (quick tier, -m 'not slow and not heavy': {quick})")
    for line in lost:
        print("LOST", line)
    if args.mode == "count":
        return 1 if lost else 0
    rows = ["| target | wall s | CPU s (user+sys) | budget s | load avg before / after | "
            "exit | pytest |", "|---|---|---|---|---|---|---|"]
    for target in args.target or ["check"]:
        r = run_timed(target)
        print(r)
        rows.append(f"| `make {target}` | {r['wall']:.0f} | {r['cpu']:.0f} | "
                    f"{BUDGETS[target]:.0f} | {r['load0']:.1f} / {r['load1']:.1f} | "
                    f"{r['status']} | {r['summary']} |")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    against = f" --against {args.against}" if args.against else ""
    text = (f"### Test suite (`benchmarks/bench_tests.py time`, commit {commit})\n\n"
            f"{machine_line()}\n\n" + "\n".join(rows) + "\n\nWhat the suite holds "
            f"(`benchmarks/bench_tests.py count{against}`): {total} tests collected, {quick} "
            f"of them in the quick tier.\n\n{table}\n")
    replace_section(HERE / "results.md", "tests_run", text)
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
