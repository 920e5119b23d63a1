"""The chapters run unchanged on a user's BIDS dataset (no planted truth, no twin files).

The dataset here is a copy of the small twin without ``derivatives/`` — to the code it
is just a BIDS dataset of the heat task, as a user's would be (``MINDPAIN_BIDS``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jupytext
import nbclient
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def user_bids(small_twin, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("own") / "my-bids"
    shutil.copytree(small_twin, root, ignore=shutil.ignore_patterns("derivatives"))
    return root


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_on_a_users_bids_dataset(chapter, user_bids, tmp_path, monkeypatch):
    monkeypatch.setenv("MINDPAIN_BIDS", str(user_bids))
    monkeypatch.setenv("MINDPAIN_PRESET", "small")
    monkeypatch.setenv("MINDPAIN_WORK", str(user_bids.parent / "work"))
    monkeypatch.setenv("MINDPAIN_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    nb = jupytext.read(chapter)
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(chapter.parent)}}).execute()
    stderr = [o["text"] for c in nb.cells for o in c.get("outputs", [])
              if o.get("name") == "stderr" and "IProgress" not in o["text"]]
    assert stderr == []
    assert not (user_bids / "derivatives").exists(), "analysis wrote into the user's dataset"
