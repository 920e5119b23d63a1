"""``verify``: the results tables computed twice from scratch, compared byte for byte.

``python -m mindpain_book.buildtools verify [--preset small]`` (``make verify``) runs the
chapters that write the results tables (:data:`RESULT_CHAPTERS`) into two fresh folders
(:func:`build_results`) and fails unless every file is identical in both
(:func:`compare_builds`); a file that differs only by the build folder's own path, which it
records, is reported as such.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from mindpain.core.config import PROJECT_ROOT
from mindpain_book.reproducibility import hash_tree

#: Chapters that write the results tables (each computes what it needs from the dataset).
RESULT_CHAPTERS = ("04_randomized_trial", "05_long_term_meditators")


def run_chapter(chapter: Path, env: dict, timeout: int = 1800) -> None:
    """Execute one MyST chapter (jupytext + nbclient) with ``env`` as its environment."""
    import jupytext
    import nbclient

    nb = jupytext.read(chapter)
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(chapter.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build_results(out: Path, preset: str, chapters=RESULT_CHAPTERS) -> list:
    """Generate the data and results tables from scratch under ``out``; return the manifest."""
    out = Path(out)
    env = dict(os.environ, MINDPAIN_PRESET=preset, MINDPAIN_WORK=str(out / "work"),
               MINDPAIN_RESULTS=str(out / "results"), MPLBACKEND="Agg")
    env.pop("MINDPAIN_BIDS", None)
    for name in chapters:
        run_chapter(PROJECT_ROOT / "notebooks" / f"{name}.md", env)
    return [("results", *row) for row in hash_tree(out / "results")] + \
        [("work", *row) for row in hash_tree(out / "work")]


def compare_builds(first: list, second: list) -> list[str]:
    """Differences between two manifests of :func:`build_results` (empty when identical)."""
    a = {(root, path): sha for root, path, _, sha in first}
    b = {(root, path): sha for root, path, _, sha in second}
    problems = [f"{root}/{path}: only in the first build" for root, path in sorted(a.keys() - b)]
    problems += [f"{root}/{path}: only in the second build" for root, path in sorted(b.keys() - a)]
    problems += [f"{root}/{path}: differs" for root, path in sorted(a.keys() & b.keys())
                 if a[root, path] != b[root, path]]
    return problems


def _same_but_location(first: Path, second: Path, relpath: str) -> bool:
    """Whether ``relpath`` in two build folders differs only by the folders' own paths."""
    try:
        a = (Path(first) / relpath).read_text()
        b = (Path(second) / relpath).read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return a.replace(str(first), "<build>") == b.replace(str(second), "<build>")


def verify(preset: str = "small", keep: Path | None = None, jobs: int = 1) -> int:
    """Build the results twice from scratch and compare them byte for byte (exit status).

    With ``jobs`` 2 the two builds run at once, in two processes.
    """
    from concurrent.futures import ProcessPoolExecutor

    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="mindpain-verify-"))
    try:
        folders = [base / name for name in ("first", "second")]
        with ProcessPoolExecutor(max_workers=max(1, min(int(jobs), 2))) as pool:
            builds = list(pool.map(build_results, folders, [preset] * 2))
        problems, located = [], []
        for line in compare_builds(*builds):
            path = line.rsplit(": ", 1)[0]
            if line.endswith(": differs") and _same_but_location(*folders, path):
                located.append(path)
            else:
                problems.append(line)
        for path in located:
            print(f"{path}: identical except for the build folder's own path, which it records")
        for line in problems:
            print(line, file=sys.stderr)
        n_tables = sum(1 for root, *_ in builds[0] if root == "results")
        if not problems:
            print(f"verify ({preset}): {n_tables} results files and {len(builds[0]) - n_tables} "
                  "data files byte-identical in two builds from scratch")
        return 1 if problems or not n_tables else 0
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)
