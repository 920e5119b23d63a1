"""The command line itself: validated options, one-line errors, no traceback (issue #13)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _safety_helpers import one_line, run_cli

from mindpain import __version__
from mindpain.cli import build_parser, main
from mindpain.core import parallel
from mindpain.first_level import runs as fl


def test_version(capsys):
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.strip() == f"mindpain {__version__}"


def test_help_has_no_raw_markup_and_every_option_has_help(capsys):
    code, out, _ = run_cli(["--help"], capsys)
    assert code == 0 and "``" not in out and ":class:" not in out
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    for name in ("twin", "first-level"):
        for action in commands[name]._actions:  # noqa: SLF001
            assert action.help, f"{name} {action.dest} has no help"


def test_twin_help_states_defaults_and_size(capsys):
    code, out, _ = run_cli(["twin", "--help"], capsys)
    flat = " ".join(out.split())
    assert code == 0 and "(default: full)" in flat and "1.8 GB" in flat


@pytest.mark.parametrize("argv, message", [
    (["twin", "--out", "x", "--preset", "medium"], "invalid choice: 'medium'"),
    (["twin", "--out", "x", "--n-jobs", "0"], "--n-jobs must be a non-zero integer"),
    (["twin", "--out", "x", "--n-jobs", "two"], "--n-jobs must be a non-zero integer"),
    (["twin", "--out", "x", "--seed", "1.5"], "seed must be a non-negative integer"),
    (["first-level", "B", "--out", "x", "--smoothing-fwhm", "-4"], "finite number of mm >= 0"),
    (["first-level", "B", "--out", "x", "--smoothing-fwhm", "nan"], "finite number of mm >= 0"),
    (["first-level", "B", "--out", "x", "--smoothing-fwhm", "inf"], "finite number of mm >= 0"),
    (["first-level", "B", "--out", "x", "--n-jobs", "0"], "--n-jobs must be a non-zero"),
    (["first-level", "--out", "x"], "the BIDS dataset folder is required"),
    (["first-level", "B", "--out", "x", "--participant-label", "0/1"], "not a BIDS label"),
])
def test_parser_rejects_bad_values_in_one_line(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and message in one_line(err)
    assert err.startswith("mindpain ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", ["abc", "0", "1.5"])
def test_bad_n_jobs_environment_is_one_line(tmp_path, monkeypatch, capsys, value):
    monkeypatch.setenv("MINDPAIN_N_JOBS", value)
    code, _, err = run_cli(["twin", "--out", str(tmp_path / "t"), "--preset", "small", "--quiet"],
                        capsys)
    assert code == 2 and "MINDPAIN_N_JOBS must be a non-zero integer" in one_line(err)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [
    ["--participant-label", "01", "02", "{B}", "--out", "D"],
    ["{B}", "--participant-label", "01", "02", "--out", "D"],
    ["--participant-label", "sub-01", "02", "--out", "D", "{B}"],
    ["--out", "D", "--participant-label", "01", "02", "--", "{B}"],
])
def test_participant_label_does_not_swallow_the_dataset(tmp_path, monkeypatch, argv):
    bids = tmp_path / "BIDS"
    bids.mkdir()
    seen = {}

    def fake(bids_dir, out_dir, **kwargs):
        seen.update(bids_dir=bids_dir, out_dir=out_dir, **kwargs)
        return fl.FirstLevelSummary()

    monkeypatch.setattr(fl, "run_first_level", fake)
    monkeypatch.chdir(tmp_path)
    assert main(["first-level", "--quiet", *[a.replace("{B}", "BIDS") for a in argv]]) == 0
    assert seen["bids_dir"] == "BIDS" and seen["out_dir"] == "D"
    assert [p.removeprefix("sub-") for p in seen["participant_label"]] == ["01", "02"]


def test_unknown_participant_label_is_an_error(small_twin, tmp_path, capsys):
    code, _, err = run_cli(["first-level", str(small_twin), "--participant-label", "999", "--out",
                         str(tmp_path / "d")], capsys)
    assert code == 2 and "participant label(s) 999" in one_line(err)
    assert not (tmp_path / "d").exists()


def test_bad_dask_scheduler_fails_fast_in_one_line(small_twin, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(parallel, "DASK_TIMEOUT_S", 1)
    code, _, err = run_cli(["first-level", str(small_twin), "--out", str(tmp_path / "d"),
                         "--dask-scheduler", "tcp://127.0.0.1:9", "--quiet"], capsys)
    assert code == 2 and "cannot reach the Dask scheduler" in one_line(err)
    assert not (tmp_path / "d").exists()


def test_internal_error_is_one_line_without_traceback(tmp_path, monkeypatch, capsys):
    from mindpain.twin import generate

    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.delenv("MINDPAIN_DEBUG", raising=False)
    monkeypatch.setattr(generate, "generate_twin", broken)
    code, _, err = run_cli(["twin", "--out", str(tmp_path / "t"), "--quiet"], capsys)
    assert code == 1 and "internal error: ZeroDivisionError" in one_line(err)


@pytest.mark.parametrize("argv", [
    ["twin", "--out", "."],
    ["twin", "--out", "t", "--preset", "small", "--seed", "-1"],
    ["first-level", "no-such-dataset", "--out", "d"],
    ["first-level", "a-file", "--out", "d"],
    ["first-level", "BIDS", "--out", "a-file"],
])
def test_no_traceback_in_a_real_process(tmp_path, argv):
    (tmp_path / "a-file").write_text("mine")
    (tmp_path / "BIDS").mkdir()
    (tmp_path / "BIDS" / "dataset_description.json").write_text('{"Name": "x"}')
    (tmp_path / "BIDS" / "sub-01" / "func").mkdir(parents=True)
    env = dict(os.environ, MINDPAIN_N_JOBS="1")
    env.pop("MINDPAIN_DEBUG", None)
    proc = subprocess.run([sys.executable, "-m", "mindpain", *argv], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert (tmp_path / "a-file").read_text() == "mine"
    assert not (tmp_path / "d").exists() and not list(tmp_path.glob(".mindpain-*"))


def test_written_and_downloaded_files_have_normal_permissions(tmp_path):
    from mindpain.core.datasets import download_file
    from mindpain.core.io import write_json

    umask = os.umask(0o022)
    try:
        src = tmp_path / "src.bin"
        src.write_bytes(b"data")
        download_file(src.as_uri(), tmp_path / "got.bin")
        write_json(tmp_path / "x.json", {"a": 1})
    finally:
        os.umask(umask)
    for name in ("got.bin", "x.json"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["got.bin", "src.bin", "x.json"]


def test_unwritable_out_is_one_line(tmp_path, monkeypatch, capsys):
    import errno

    from mindpain.twin import generate

    def denied(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(tmp_path / "ro"))

    monkeypatch.setattr(generate, "partial_dir", denied)
    code, _, err = run_cli(["twin", "--out", str(tmp_path / "ro" / "t"), "--preset", "small",
                         "--quiet"], capsys)
    assert code == 2 and "Permission denied; choose a folder you can write to" in one_line(err)


def test_help_of_the_book_table_matches_the_parser():
    """book/guarantees.md names every option of twin and first-level."""
    text = (Path(__file__).resolve().parents[1] / "book" / "guarantees.md").read_text()
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    for name in ("twin", "first-level"):
        for action in commands[name]._actions:  # noqa: SLF001
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}" in text, f"{name} {flag} missing from guarantees.md"


def test_guarantees_page_has_no_typed_numbers():
    from test_prose import typed_numbers

    text = (Path(__file__).resolve().parents[1] / "book" / "guarantees.md").read_text()
    assert typed_numbers(text) == []
