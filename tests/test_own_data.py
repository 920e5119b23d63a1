"""The chapters run unchanged on a user's dataset, and on a study's own names the same.

Two copies of the small twin are read as a user's data (no planted truth, no twin
description): :func:`_foreign_helpers.standard_copy`, in the book's names, and
:func:`_foreign_helpers.foreign_copy`, the same data laid out as a real study arrives
(task ``pain``, sessions ``1``/``2``, conditions ``high``/``low``, arms in lower case in a
column ``arm``, ratings and practice hours in columns of their own, fMRIPrep derivatives
with a ``T1w`` space beside ``MNI152NLin2009cAsym_res-2``) with its dataset map. Every
chapter runs on both and must write the same result tables (the same data under other
names) and glue the same numbers into its prose and tables, without writing into either
dataset. The copies are made once per test run (``own_layouts``) and each chapter is a work
unit of its own (``tests/conftest.py``), so the two workers run the chapters side by side;
they work in the folder the book's build uses (``shared_work``), where each dataset has
derivatives of its own.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbclient
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))

pytestmark = pytest.mark.slow


def _tree(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def _run_chapter(chapter: Path, bids_dir: Path, results: Path, work: Path, monkeypatch,
                 fmriprep: Path | None = None) -> dict:
    """Execute ``chapter`` on ``bids_dir`` (work folder ``work``); return what it glues."""
    monkeypatch.setenv("MINDPAIN_BIDS", str(bids_dir))
    monkeypatch.setenv("MINDPAIN_PRESET", "small")
    monkeypatch.setenv("MINDPAIN_WORK", str(work))
    monkeypatch.setenv("MINDPAIN_RESULTS", str(results))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    if fmriprep is not None:
        monkeypatch.setenv("MINDPAIN_FMRIPREP", str(fmriprep))
    else:
        monkeypatch.delenv("MINDPAIN_FMRIPREP", raising=False)
    before = _tree(bids_dir)
    nb = jupytext.read(chapter)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(chapter.parent)}}).execute()
    stderr = [o["text"] for c in nb.cells for o in c.get("outputs", [])
              if o.get("name") == "stderr" and "IProgress" not in o["text"]]
    assert stderr == []
    assert _tree(bids_dir) == before, "analysis wrote into the user's dataset"
    return {o["metadata"]["scrapbook"]["name"]: o["data"].get("text/plain")
            for c in nb.cells for o in c.get("outputs", [])
            if "scrapbook" in o.get("metadata", {})}


def _tables(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*.tsv"))}


class ChapterOnAUsersDataset:
    """One chapter on both copies; a class per chapter below, each a work unit of its own."""

    chapter: Path

    def test_chapter_runs_on_a_users_dataset_and_its_own_names_give_the_same_tables(
            self, own_layouts, shared_work, tmp_path, monkeypatch):
        chapter = self.chapter
        standard, foreign = own_layouts["standard"], own_layouts["foreign"]
        glued = _run_chapter(chapter, standard, tmp_path / "standard", shared_work,
                             monkeypatch)
        again = _run_chapter(chapter, foreign, tmp_path / "foreign", shared_work, monkeypatch,
                             fmriprep=foreign / "derivatives" / "fmriprep")
        assert glued, "the chapter glued nothing"
        differ = sorted(k for k in glued.keys() | again.keys() if glued.get(k) != again.get(k))
        assert differ == [], {k: (glued.get(k), again.get(k)) for k in differ[:5]}
        a, b = _tables(tmp_path / "standard"), _tables(tmp_path / "foreign")
        assert set(a) == set(b)
        for name in a:
            left, right = (pd.read_csv(t[name], sep="\t", dtype=str, keep_default_na=False)
                           for t in (a, b))
            pd.testing.assert_frame_equal(left, right, obj=name)


def _chapter_class(chapter: Path) -> type:
    """``TestChapterNN``: the test of :class:`ChapterOnAUsersDataset` for one chapter."""
    name = f"TestChapter{chapter.stem[:2]}"
    return type(name, (ChapterOnAUsersDataset,), {"chapter": chapter, "__doc__":
                                                  f"{chapter.stem} on both copies."})


for _chapter in CHAPTERS:
    _cls = _chapter_class(_chapter)
    globals()[_cls.__name__] = _cls

