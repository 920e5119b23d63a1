"""Data safety and silently wrong numbers in ``mindpain first-level`` (issue #13).

A tiny BIDS dataset (one participant, one session, two runs of the small twin) is copied
for each case; every case asserts the exit status, the one-line message and that the
user's files are unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from _safety_helpers import hashes, one_line, run_cli

from mindpain import bids as bids_reader
from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError
from mindpain.core.folders import MARKER
from mindpain.first_level import outputs as first_level_outputs
from mindpain.first_level import runs as fl

FUNC = Path("sub-001/ses-pre/func")
STEM = "sub-001_ses-pre_task-heat"






def _bold(bids: Path, run: int) -> Path:
    return bids / FUNC / f"{STEM}_run-{run}_bold.nii.gz"


def _events(bids: Path, run: int) -> Path:
    return bids / FUNC / f"{STEM}_run-{run}_events.tsv"


def _replace_data(path: Path, data) -> None:
    img = nib.load(path)
    out = nib.Nifti1Image(np.asarray(data, dtype=np.float32), img.affine, img.header)
    out.header.set_data_dtype(np.float32)
    nib.save(out, path)


# --------------------------------------------------------------------------- where outputs go


@pytest.mark.parametrize("where", ["bids", "bids/sub-001", "bids/derivatives", ".",
                                   "file", "foreign"])
def test_refuses_outputs_that_would_touch_a_users_files(bids, tmp_path, monkeypatch, capsys,
                                                        where):
    (tmp_path / "file").write_text("mine")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "analysis.R").write_text("mine")
    monkeypatch.chdir(tmp_path)
    before = hashes(tmp_path)
    code, _, err = run_cli(["first-level", str(bids), "--out", where, "--quiet"], capsys)
    assert code == 2 and where.split("/")[0] in one_line(err)
    assert hashes(tmp_path) == before


def test_derivatives_under_the_raw_dataset_are_allowed(bids):
    out = first_level_outputs.prepare_out_dir(bids / "derivatives" / "mindpain", bids)
    assert json.loads((out / MARKER).read_text())["kind"] == "first-level"


def test_refuses_a_folder_overlapping_fmriprep(bids, tmp_path):
    prep = tmp_path / "fmriprep"
    prep.mkdir()
    with pytest.raises(MindpainError, match="overlaps the fMRIPrep folder"):
        first_level_outputs.prepare_out_dir(prep / "mine", bids, prep)


def test_refuses_a_twin_folder_as_derivatives(small_twin, bids):
    with pytest.raises(MindpainError, match="holds a mindpain twin"):
        first_level_outputs.prepare_out_dir(small_twin, bids)


# --------------------------------------------------------------------------- wrong numbers


def test_constant_run_is_excluded_and_recorded(bids, tmp_path, capsys):
    bold = _bold(bids, 1)
    _replace_data(bold, np.zeros(nib.load(bold).shape))
    out = tmp_path / "out"
    code, _, err = run_cli(["first-level", str(bids), "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    warning = one_line(err)
    assert warning.startswith("mindpain first-level: warning:") and bold.name in warning
    assert "all zero" in warning
    side = first_level_outputs.session_map_path(out, "001", "pre", "hotVsWarm", "z")
    meta = json.loads(side.with_name(side.name.replace(".nii.gz", ".json")).read_text())
    assert meta["Runs"] == [2]
    assert [e["File"] for e in meta["ExcludedRuns"]] == [(FUNC / bold.name).as_posix()]
    assert not list(out.rglob(f"{STEM}_run-1_*"))


def test_session_without_usable_runs_fails(bids, tmp_path, capsys):
    for run in (1, 2):
        _replace_data(_bold(bids, run), np.full(nib.load(_bold(bids, run)).shape, np.nan))
    code, _, err = run_cli(["first-level", str(bids), "--out", str(tmp_path / "out"), "--quiet"],
                     capsys)
    assert code == 2
    assert "no usable run left in this session" in err and "all NaN" in err
    assert "Traceback" not in err


def test_tr_disagreeing_with_header_is_an_error(bids):
    bold = _bold(bids, 1)
    img = nib.load(bold)
    img.header.set_zooms(img.header.get_zooms()[:3] + (3.0,))
    nib.save(img, bold)
    spec = next(s for s in bids_reader.find_runs(bids) if s.bold == bold)
    sidecar_tr = json.loads((bids / "task-heat_bold.json").read_text())["RepetitionTime"]
    message = f"RepetitionTime {sidecar_tr:g} s in the JSON sidecar disagrees with 3 s"
    with pytest.raises(MindpainError, match=message):
        bids_reader.run_repetition_time(spec)
    with pytest.raises(MindpainError, match=message):
        bids_reader.repetition_time(bids, bold)


def test_tr_in_milliseconds_is_an_error(bids):
    (bids / "task-heat_bold.json").write_text('{"RepetitionTime": 2000}')
    spec = bids_reader.find_runs(bids)[0]
    for call in (lambda: bids_reader.run_repetition_time(spec),
                 lambda: bids_reader.repetition_time(bids),
                 lambda: bids_reader.repetition_time(bids, spec.bold)):
        with pytest.raises(MindpainError, match="looks like milliseconds"):
            call()


def test_one_tr_rule_for_the_whole_package(bids):
    """The two entry points agree: same value, and a missing sidecar TR fails in both."""
    spec = bids_reader.find_runs(bids)[0]
    assert bids_reader.run_repetition_time(spec) == bids_reader.repetition_time(bids, spec.bold)
    assert bids_reader.repetition_time(bids) == bids_reader.header_repetition_time(spec.bold)
    (bids / "task-heat_bold.json").write_text('{"TaskName": "heat"}')
    for call in (lambda: bids_reader.run_repetition_time(spec),
                 lambda: bids_reader.repetition_time(bids, spec.bold)):
        with pytest.raises(MindpainError, match="no RepetitionTime .*the NIfTI header says"):
            call()


def test_header_tr_in_milliseconds_is_converted(bids):
    bold = _bold(bids, 1)
    img = nib.load(bold)
    tr = img.header.get_zooms()[3]
    img.header.set_zooms(img.header.get_zooms()[:3] + (tr * 1000,))
    img.header.set_xyzt_units("mm", "msec")
    nib.save(img, bold)
    assert bids_reader.header_repetition_time(bold) == pytest.approx(tr)
    assert bids_reader.repetition_time(bids, bold) == pytest.approx(tr)


def _confounds(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    conf = pd.DataFrame(rng.normal(0, 0.1, (n, 6)),
                        columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"])
    conf["framewise_displacement"] = np.r_[np.nan, np.abs(rng.normal(0, 0.1, n - 1))]
    conf["trans_x_derivative1"] = np.r_[np.nan, np.diff(conf["trans_x"])]
    return conf


@pytest.mark.parametrize("column, row, value, message", [
    ("trans_y", 5, np.nan, "confounds column trans_y is n/a on line 7"),
    ("trans_x", 0, np.nan, "confounds column trans_x is n/a on line 2"),
    ("framewise_displacement", 9, np.nan, "column framewise_displacement is n/a on line 11"),
    ("rot_z", 3, "abc", "column rot_z has a non-numeric value 'abc' on line 5"),
    ("rot_x", 4, np.inf, "column rot_x has the value inf on line 6"),
    ("trans_z", 2, 1e30, "column trans_z has the value 1e\\+30 on line 4"),
])
def test_bad_confound_values_are_errors(tmp_path, column, row, value, message):
    conf = _confounds(20).astype(object)
    conf.loc[row, column] = value
    path = tmp_path / "x_desc-confounds_timeseries.tsv"
    conf.to_csv(path, sep="\t", index=False, na_rep="n/a")
    with pytest.raises(MindpainError, match=f"x_desc-confounds_timeseries.tsv: .*{message}"):
        bids_reader.load_confounds(path, list(fl.DEFAULT_CONFOUNDS) + ["trans_x_derivative1"], 20)


def test_leading_na_of_derivative_columns_become_zero(tmp_path):
    conf = _confounds(20)
    path = tmp_path / "x_desc-confounds_timeseries.tsv"
    conf.to_csv(path, sep="\t", index=False, na_rep="n/a")
    got = bids_reader.load_confounds(path, ["framewise_displacement", "trans_x_derivative1"], 20)
    assert got.iloc[0].tolist() == [0.0, 0.0]
    assert np.allclose(got.iloc[1:].to_numpy(), conf[got.columns].iloc[1:].to_numpy())


def test_bad_confounds_through_the_cli(bids, tmp_path, capsys):
    prep = tmp_path / "fmriprep"
    (prep / FUNC).mkdir(parents=True)
    (prep / "dataset_description.json").write_text("{}")
    shutil.copy(_bold(bids, 1), prep / FUNC / f"{STEM}_run-1_space-MNI152NLin6Asym_desc-"
                                              "preproc_bold.nii.gz")
    conf = _confounds(nib.load(_bold(bids, 1)).shape[3])
    conf.loc[4, "rot_y"] = np.inf
    conf.to_csv(prep / FUNC / f"{STEM}_run-1_desc-confounds_timeseries.tsv", sep="\t",
                index=False, na_rep="n/a")
    before = hashes(prep)
    code, _, err = run_cli(["first-level", str(bids), "--fmriprep", str(prep), "--out",
                      str(tmp_path / "out"), "--quiet"], capsys)
    assert code == 2
    failed = [ln for ln in err.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1 and "confounds_timeseries.tsv" in failed[0]
    assert "column rot_y has the value inf on line 6" in failed[0]
    assert hashes(prep) == before


def test_trial_type_na_is_a_clear_error(tmp_path):
    path = tmp_path / "x_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n1\t1\thot\n5\t1\tn/a\n9\t1\twarm\n")
    with pytest.raises(MindpainError, match="trial_type is n/a \\(missing\\) on line 3"):
        bids_reader.load_run_events(path)


def test_runs_differing_only_in_acq_write_separate_outputs(bids, tmp_path):
    for suffix in ("bold.nii.gz", "events.tsv"):
        src = bids / FUNC / f"{STEM}_run-2_{suffix}"
        src.rename(bids / FUNC / f"{STEM}_acq-fast_run-1_{suffix}")
    specs = bids_reader.find_runs(bids)
    assert [s.label for s in specs] == [f"{STEM}_acq-fast_run-1", f"{STEM}_run-1"]
    out = tmp_path / "out"
    summary = fl.run_first_level(bids, out, progress=False)
    assert summary.ok
    a, b = (first_level_outputs.run_map_path(out, s, "hotVsWarm", "effect") for s in specs)
    assert a != b and a.is_file() and b.is_file() and sha256(a) != sha256(b)
    session_map = first_level_outputs.session_map_path(out, "001", "pre")
    meta = json.loads(bids_reader.sidecar_path(session_map).read_text())
    assert len(meta["Sources"]) == 2 * 2 * len(fl.CONTRASTS)


def test_two_files_for_the_same_outputs_are_refused(tmp_path, bids):
    prep = tmp_path / "fmriprep"
    (prep / FUNC).mkdir(parents=True)
    # the same run compressed and not: one name, one space, the same outputs
    preproc = f"{STEM}_run-1_space-MNI152NLin6Asym_desc-preproc_bold.nii"
    shutil.copy(_bold(bids, 1), prep / FUNC / f"{preproc}.gz")
    nib.save(nib.load(_bold(bids, 1)), prep / FUNC / preproc)
    with pytest.raises(MindpainError, match="would write the same outputs"):
        bids_reader.find_runs(bids, prep)


def test_two_resolutions_are_two_spaces(tmp_path, bids):
    """res-1 and res-2 of one template no longer collide: one of them is fitted."""
    prep = tmp_path / "fmriprep"
    (prep / FUNC).mkdir(parents=True)
    for res in ("1", "2"):
        shutil.copy(_bold(bids, 1), prep / FUNC / f"{STEM}_run-1_space-MNI152NLin6Asym_res-"
                                                  f"{res}_desc-preproc_bold.nii.gz")
    assert {s.space for s in bids_reader.find_runs(bids, prep)} == {"MNI152NLin6Asym:res-1"}
    chosen = bids_reader.find_runs(bids, prep, space="MNI152NLin6Asym:res-2")
    assert {s.space for s in chosen} == {"MNI152NLin6Asym:res-2"}
    with pytest.raises(MindpainError, match="several resolutions"):
        bids_reader.find_runs(bids, prep, space="MNI152NLin6Asym")


# --------------------------------------------------------------------------- one unit


def test_a_crash_between_data_and_sidecars_leaves_no_valid_looking_mix(bids, tmp_path,
                                                                       monkeypatch):
    out = tmp_path / "out"
    assert fl.run_first_level(bids, out, progress=False).ok
    events = pd.read_csv(_events(bids, 1), sep="\t")
    events.loc[0, "onset"] += 0.5
    events.to_csv(_events(bids, 1), sep="\t", index=False, na_rep="n/a")
    real = os.replace
    calls = {"json": 0}

    def crash(src, dst):
        if str(dst).endswith(".json") and str(out) in str(dst):
            calls["json"] += 1
            if calls["json"] == 3:
                raise KeyboardInterrupt
        return real(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        fl.run_first_level(bids, out, progress=False)
    monkeypatch.setattr(os, "replace", real)
    for side in out.rglob("sub-*.json"):
        meta = json.loads(side.read_text())
        data = next(p for p in side.parent.glob(side.name.replace(".json", ".*"))
                    if p.suffix != ".json")
        assert meta["DataSha256"] == sha256(data), side.name
    assert not list(out.rglob(".mindpain-tmp-*"))
    again = fl.run_first_level(bids, out, progress=False)
    assert again.ok and f"{STEM}_run-1" in again.computed
    assert fl.run_first_level(bids, out, progress=False).computed == []
