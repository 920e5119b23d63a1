"""Data safety of ``mindpain twin``: never replace what mindpain did not make (issue #13).

Each case asserts the exit status, a one-line message on stderr, and that every file the
user had is byte-for-byte unchanged (hashes before and after).
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pytest
from _safety_helpers import hashes, one_line, run_cli
from conftest import TEST_SEED

from mindpain.core.folders import MARKER, partial_dir
from mindpain.twin import generate as gen


@pytest.fixture
def twin_copy(small_twin, tmp_path) -> Path:
    """A finished small twin (with its marker) that a test may change."""
    out = tmp_path / "twin"
    shutil.copytree(small_twin, out)
    return out


@pytest.fixture
def thesis(tmp_path) -> Path:
    """A user's folder: a thesis and a results folder."""
    folder = tmp_path / "mywork"
    (folder / "results").mkdir(parents=True)
    (folder / "thesis.tex").write_text("\\chapter{Years of work}\n")
    (folder / "results" / "table.csv").write_text("a,b\n1,2\n")
    return folder


@pytest.mark.parametrize("flags", [[], ["--overwrite"], ["--if-current"],
                                   ["--overwrite", "--if-current"]])
def test_never_replaces_a_users_folder(thesis, capsys, flags):
    before = hashes(thesis)
    code, _, err = run_cli(["twin", "--out", str(thesis), "--preset", "small", "--quiet", *flags],
                     capsys)
    assert code == 2
    assert "no twin made by mindpain" in one_line(err) and str(thesis) in err
    assert hashes(thesis) == before
    assert not list(thesis.parent.glob(".mindpain-*"))


@pytest.mark.parametrize("flags", [["--overwrite"], ["--if-current"]])
def test_never_replaces_a_twin_holding_a_users_file(twin_copy, capsys, flags):
    (twin_copy / "notes").mkdir()
    (twin_copy / "notes" / "ideas.md").write_text("mine")
    before = hashes(twin_copy)
    code, _, err = run_cli(["twin", "--out", str(twin_copy), "--preset", "small", "--seed",
                      str(TEST_SEED + 1), "--quiet", *flags], capsys)
    assert code == 2
    assert "did not write (e.g. notes/ideas.md)" in one_line(err)
    assert hashes(twin_copy) == before


def test_if_current_does_not_replace_a_twin_of_another_seed(twin_copy, capsys):
    before = hashes(twin_copy)
    code, _, err = run_cli(["twin", "--out", str(twin_copy), "--preset", "small", "--seed",
                      str(TEST_SEED + 1), "--if-current", "--quiet"], capsys)
    assert code == 2
    assert f"seed {TEST_SEED}, not preset small, seed {TEST_SEED + 1}" in one_line(err)
    assert "--overwrite" in err
    assert hashes(twin_copy) == before


def _bold(root: Path) -> Path:
    return next(root.glob("sub-001/ses-pre/func/*_run-1_bold.nii.gz"))


@pytest.mark.parametrize("damage", ["deleted", "emptied", "one byte changed"])
def test_a_damaged_twin_is_not_current(twin_copy, capsys, damage):
    bold = _bold(twin_copy)
    if damage == "deleted":
        bold.unlink()
    elif damage == "emptied":
        bold.write_bytes(b"")
    else:
        data = bytearray(bold.read_bytes())
        data[-10] ^= 0xFF
        bold.write_bytes(bytes(data))
    _, problems, foreign = gen.twin_problems(twin_copy)
    rel = bold.relative_to(twin_copy).as_posix()
    assert len(problems) == 1 and problems[0].startswith(rel) and foreign == []
    before = hashes(twin_copy)
    code, _, err = run_cli(["twin", "--out", str(twin_copy), "--preset", "small", "--seed",
                      str(TEST_SEED), "--quiet"], capsys)
    assert code == 2 and rel in one_line(err) and "--if-current" in err
    assert hashes(twin_copy) == before


def test_if_current_regenerates_a_damaged_twin_and_spares_lookalike_folders(
        small_twin, twin_copy, capsys):
    """A user's ``.twin.partial`` / ``.twin.old`` beside --out are never touched."""
    _bold(twin_copy).unlink()
    lookalikes = {}
    for name in (".twin.partial", ".twin.old"):
        folder = twin_copy.parent / name
        folder.mkdir()
        (folder / "keep.txt").write_text(name)
        lookalikes[name] = hashes(folder)
    crashed = twin_copy.parent / ".mindpain-old-twin-0123456789"  # a swap cut short
    shutil.copytree(small_twin, crashed)
    code, _, err = run_cli(["twin", "--out", str(twin_copy), "--preset", "small", "--seed",
                      str(TEST_SEED), "--if-current", "--quiet", "--n-jobs", "2"], capsys)
    assert code == 0, err
    assert hashes(twin_copy) == hashes(small_twin)
    for name, before in lookalikes.items():
        assert hashes(twin_copy.parent / name) == before
    assert not list(twin_copy.parent.glob(".mindpain-*"))  # partial moved, old backup gone
    # current now: a second call is a no-op that checks content
    assert gen.twin_problems(twin_copy)[1:] == ([], [])


def test_marker_holds_a_manifest_of_every_file(small_twin):
    marker, problems, foreign = gen.twin_problems(small_twin)
    assert marker["kind"] == "twin" and marker["key"]["seed"] == TEST_SEED
    files = {p.relative_to(small_twin).as_posix() for p in small_twin.rglob("*")
             if p.is_file() and p.name != MARKER}
    assert set(marker["files"]) == files
    assert problems == [] and foreign == []


def test_a_twin_from_before_markers_is_recognised(twin_copy):
    (twin_copy / MARKER).unlink()
    marker, problems, foreign = gen.twin_problems(twin_copy)
    assert marker["key"]["seed"] == TEST_SEED and "no content manifest" in problems[0]
    assert foreign == []
    (twin_copy / "thesis.pdf").write_bytes(b"%PDF")
    assert gen.twin_problems(twin_copy)[2] == ["thesis.pdf"]


@pytest.mark.parametrize("where", [".", "..", "link", "a-file", "a-file/below"])
def test_bad_out_paths_giveone_line(tmp_path, monkeypatch, capsys, where):
    work = tmp_path / "work"
    work.mkdir()
    (work / "a-file").write_text("mine")
    (tmp_path / "target").mkdir()
    (work / "link").symlink_to(tmp_path / "target")
    monkeypatch.chdir(work)
    before = hashes(tmp_path)
    code, _, err = run_cli(["twin", "--out", where, "--preset", "small", "--quiet"], capsys)
    assert code == 2 and where.split("/")[0] in one_line(err)
    assert hashes(tmp_path) == before
    assert not list(tmp_path.rglob(".mindpain-*"))


def test_foreign_folder_in_the_way_of_the_partial_build(tmp_path, capsys):
    out = tmp_path / "twin"
    partial = partial_dir(out)
    partial.mkdir()
    (partial / "x.txt").write_text("not ours")
    code, _, err = run_cli(["twin", "--out", str(out), "--preset", "small", "--quiet"], capsys)
    assert code == 2 and "was not made by mindpain" in one_line(err)
    assert (partial / "x.txt").read_text() == "not ours" and not out.exists()


def test_disk_full_is_one_line(tmp_path, monkeypatch, capsys):
    def full(root, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(root / "participants.tsv"))

    monkeypatch.setattr(gen.bids, "write_top_level", full)
    code, _, err = run_cli(["twin", "--out", str(tmp_path / "twin"), "--preset", "small",
                      "--quiet"], capsys)
    assert code == 2
    assert "No space left on device; free some space" in one_line(err)
    assert "participants.tsv" in err


def test_interruption_is_one_line(tmp_path, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(gen.bids, "write_top_level", interrupted)
    code, _, err = run_cli(["twin", "--out", str(tmp_path / "twin"), "--preset", "small",
                      "--quiet"], capsys)
    assert code == 130 and "interrupted" in one_line(err)


def test_folder_lock_is_exclusive_between_processes(tmp_path):
    """While one process builds a folder, another cannot take its build lock."""
    import subprocess
    import sys

    from mindpain.core.folders import folder_lock

    probe = ("import fcntl, sys, pathlib; locks = list(pathlib.Path(sys.argv[1]).glob("
             "'.mindpain-lock-twin-*'))\nif not locks:\n    print('gone'); sys.exit()\n"
             "h = open(locks[0], 'a')\n"
             "try:\n    fcntl.flock(h, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except BlockingIOError:\n    print('held')")
    with folder_lock(tmp_path / "twin"):
        inside = subprocess.run([sys.executable, "-c", probe, str(tmp_path)],
                                capture_output=True, text=True, check=True).stdout.strip()
    after = subprocess.run([sys.executable, "-c", probe, str(tmp_path)],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert (inside, after) == ("held", "gone")
    assert not (tmp_path / "twin").exists()  # the lock makes no folder and leaves no file


def test_two_processes_making_one_twin_at_once_both_succeed(tmp_path):
    """Two chapters run side by side may both ask for the twin: one makes it, one keeps it."""
    import subprocess
    import sys

    out = tmp_path / "twin"
    cmd = [sys.executable, "-m", "mindpain.cli", "twin", "--out", str(out), "--preset",
           "small", "--seed", str(TEST_SEED), "--n-jobs", "1", "--if-current"]
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert sum("complete and current" in o for o, _ in results) == 1, results
    marker, damage, foreign = gen.twin_problems(out)
    assert marker is not None and not damage and not foreign
    assert not partial_dir(out).exists()


def test_a_current_twin_is_kept_without_taking_the_lock(twin_copy, monkeypatch):
    """Using a current twin needs no lock, so a twin in a read-only folder stays usable."""
    import contextlib

    @contextlib.contextmanager
    def no_lock(out):
        raise AssertionError("a current twin must not take the build lock")
        yield

    monkeypatch.setattr(gen, "folder_lock", no_lock)
    assert gen.generate_twin(twin_copy, preset="small", seed=TEST_SEED, if_current=True,
                             n_jobs=1, progress=False) == twin_copy
