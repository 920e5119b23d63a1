"""First level on the small twin: derivative tree, idempotence, recovery, Dask, bad inputs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mindpain import bids
from mindpain.cli import main
from mindpain.core.errors import MindpainError
from mindpain.first_level import group as group_level
from mindpain.first_level import outputs as first_level_outputs
from mindpain.first_level import runs as fl

TRUTH = Path("derivatives") / "twin-truth"
MASK = TRUTH / "space-MNI152NLin6Asym_res-twin_desc-brain_mask.nii.gz"
PLANTED = TRUTH / "space-MNI152NLin6Asym_res-twin_desc-plantedHotVsWarm_effect.nii.gz"
SP = "space-MNI152NLin6Asym"


def _tree(root: Path) -> dict:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def derivs(small_twin, tmp_path_factory):
    """One CLI first-level run on the small twin, then a second one (nothing to do)."""
    out = tmp_path_factory.mktemp("fl") / "first-level"
    assert main(["first-level", str(small_twin), "--out", str(out), "--n-jobs", "2",
                 "--quiet"]) == 0
    before = _tree(out)
    second = fl.run_first_level(small_twin, out, n_jobs=2, progress=False)
    return out, before, second


def _expected_session(sub, ses):
    pre = f"sub-{sub}/ses-{ses}/func/sub-{sub}_ses-{ses}_task-heat"
    files = [f"{pre}_{SP}_desc-brain_mask"]
    for run in (1, 2):
        files.append(f"{pre}_run-{run}_desc-design_matrix")
        files += [f"{pre}_run-{run}_{SP}_contrast-{c}_stat-{s}_statmap"
                  for c in ("hotVsWarm", "hot", "warm") for s in ("effect", "variance")]
    files += [f"{pre}_{SP}_contrast-{c}_stat-{s}_statmap"
              for c in ("hotVsWarm", "hot", "warm") for s in ("effect", "variance", "z")]
    out = []
    for f in files:
        out.append(f + ".json")
        out.append(f + (".tsv" if f.endswith("design_matrix") else ".nii.gz"))
    return out


def test_derivative_tree(derivs, small_twin):
    out, before, _ = derivs
    parts = pd.read_csv(small_twin / "participants.tsv", sep="\t")
    expected = ["dataset_description.json", ".mindpain.json"]
    for rec in parts.itertuples():
        sub = rec.participant_id.removeprefix("sub-")
        for ses in ["pre"] + (["post"] if str(rec.completed_post) == "True" else []):
            expected += _expected_session(sub, ses)
    assert sorted(before) == sorted(expected)
    desc = json.loads((out / "dataset_description.json").read_text())
    assert desc["DatasetType"] == "derivative"


def test_second_run_recomputes_nothing(derivs):
    out, before, second = derivs
    assert second.ok and second.computed == []
    assert len(second.skipped) == 48 + 24
    assert _tree(out) == before


def test_sidecar_has_settings_and_checksums(derivs, small_twin):
    out, _, _ = derivs
    z_map = first_level_outputs.session_map_path(out, "001", "pre", "hotVsWarm", "z")
    side = z_map.with_suffix("").with_suffix(".json")
    meta = json.loads(side.read_text())
    assert meta["ModelSettings"]["hrf_model"] == "glover"
    assert meta["ModelSettings"]["high_pass"] == pytest.approx(1 / 128)
    run_side = json.loads((out / "sub-001/ses-pre/func/sub-001_ses-pre_task-heat_run-1_desc-"
                           "design_matrix.json").read_text())
    bold = "sub-001/ses-pre/func/sub-001_ses-pre_task-heat_run-1_bold.nii.gz"
    from mindpain.core.checksums import sha256

    assert run_side["MindpainKey"]["inputs"][bold] == sha256(small_twin / bold)
    design = pd.read_csv(out / "sub-001/ses-pre/func/sub-001_ses-pre_task-heat_run-1_desc-"
                         "design_matrix.tsv", sep="\t")
    assert {"hot", "warm", "rating", "constant"} <= set(design.columns)
    assert any(c.startswith("drift") for c in design.columns)


def test_recovery_small(derivs, small_twin):
    out, _, _ = derivs
    group = group_level.group_map(out, group_level.naive_subjects(small_twin))
    r = group_level.spatial_correlation(group["effect"], small_twin / PLANTED, group["mask"])
    assert r >= 0.5


def test_group_map_equals_nilearn_given_the_files(derivs, small_twin):
    """The in-memory group fit equals SecondLevelModel fitted on the map files themselves."""
    import warnings

    from nilearn.glm.second_level import SecondLevelModel

    out, _, _ = derivs
    subjects = group_level.naive_subjects(small_twin)
    group = group_level.group_map(out, subjects)
    maps = group_level.load_session_maps(out, "hotVsWarm", "effect", "pre", set(subjects))
    model = SecondLevelModel(mask_img=group["mask"], minimize_memory=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit([str(p) for p in maps.values()],
                  design_matrix=pd.DataFrame({"intercept": np.ones(len(maps))}))
        ref = model.compute_contrast("intercept", output_type="all")
    for ours, theirs in ((group["effect"], ref["effect_size"]), (group["z"], ref["z_score"])):
        assert np.asarray(ours.dataobj).tobytes() == np.asarray(theirs.dataobj).tobytes()


def test_dask_matches_local(derivs, small_twin, tmp_path):
    from distributed import LocalCluster

    out, _, _ = derivs
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        summary = fl.run_first_level(small_twin, tmp_path / "dask", participant_label=["001"],
                                     dask_scheduler=cluster.scheduler_address, progress=False)
    assert summary.ok and len(summary.computed) == 4 + 2
    for ses in ("pre", "post"):
        for stat in ("effect", "variance", "z"):
            a, b = (first_level_outputs.session_map_path(root, "001", ses, "hotVsWarm", stat)
                    for root in (tmp_path / "dask", out))
            assert np.array_equal(nib.load(a).get_fdata(), nib.load(b).get_fdata())


def test_fmriprep_input(small_twin, tmp_path):
    src = small_twin / "sub-002/ses-pre/func"
    prep = tmp_path / "fmriprep"
    (prep / "sub-002/ses-pre/func").mkdir(parents=True)
    (prep / "dataset_description.json").write_text("{}")
    stem = "sub-002_ses-pre_task-heat_run-1"
    preproc = f"{stem}_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
    shutil.copy(src / f"{stem}_bold.nii.gz", prep / "sub-002/ses-pre/func" / preproc)
    n = nib.load(src / f"{stem}_bold.nii.gz").shape[3]
    rng = np.random.default_rng(0)
    conf = pd.DataFrame(rng.normal(0, 0.1, (n, 6)),
                        columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"])
    conf["framewise_displacement"] = np.r_[np.nan, np.abs(rng.normal(0, 0.1, n - 1))]
    conf.to_csv(prep / f"sub-002/ses-pre/func/{stem}_desc-confounds_timeseries.tsv", sep="\t",
                index=False, na_rep="n/a")
    summary = fl.run_first_level(small_twin, tmp_path / "out", fmriprep=prep, progress=False)
    assert summary.ok
    z = first_level_outputs.session_map_path(tmp_path / "out", "002", "pre", "hotVsWarm", "z",
                            space="MNI152NLin2009cAsym")
    assert z.is_file()
    design = pd.read_csv(tmp_path / "out/sub-002/ses-pre/func" / f"{stem}_desc-design_matrix.tsv",
                         sep="\t")
    assert "framewise_displacement" in design.columns


# --------------------------------------------------------------------------- bad inputs

BAD = {
    "missing_events": ("002", "pre", 1, "events file missing"),
    "garbled_events": ("003", "pre", 1, "missing column(s) onset, duration, trial_type"),
    "bold_not_4d": ("004", "pre", 2, "BOLD is 3D"),
    "no_repetition_time": ("005", "pre", 1, "no RepetitionTime"),
    "event_beyond_end": ("006", "post", 1, "beyond the run's end"),
    "unknown_trial_type": ("007", "pre", 2, "unknown trial type(s) pain"),
}


def _stem(sub, ses, run):
    return f"sub-{sub}/ses-{ses}/func/sub-{sub}_ses-{ses}_task-heat_run-{run}"


@pytest.fixture(scope="module")
def broken(small_twin, tmp_path_factory):
    """A copy of the small twin processed once, then with one bad input per case."""
    root = tmp_path_factory.mktemp("bad")
    twin = root / "twin"
    shutil.copytree(small_twin, twin, ignore=shutil.ignore_patterns("sub-01[0-5]"))
    out = root / "first-level"
    assert fl.run_first_level(twin, out, n_jobs=2, progress=False).ok
    kept = _tree(out)
    stems = {k: twin / _stem(*v[:3]) for k, v in BAD.items()}
    Path(f"{stems['missing_events']}_events.tsv").unlink()
    Path(f"{stems['garbled_events']}_events.tsv").write_bytes(b"\x00\x01garbage;;\n1;2;3\n")
    bold = Path(f"{stems['bold_not_4d']}_bold.nii.gz")
    img = nib.load(bold)
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[..., 0], img.affine), bold)
    Path(f"{stems['no_repetition_time']}_bold.json").write_text('{"RepetitionTime": null}')
    ev = Path(f"{stems['event_beyond_end']}_events.tsv")
    table = pd.read_csv(ev, sep="\t")
    table.loc[len(table)] = [9000.0, 10.0, "hot", 47.0, 50.0, 40.0]
    table.to_csv(ev, sep="\t", index=False, na_rep="n/a")
    ev = Path(f"{stems['unknown_trial_type']}_events.tsv")
    table = pd.read_csv(ev, sep="\t")
    table.loc[table["trial_type"].eq("rating").idxmax(), "trial_type"] = "pain"
    table.to_csv(ev, sep="\t", index=False, na_rep="n/a")
    return twin, out, kept


@pytest.fixture(scope="module")
def broken_cli(broken):
    import contextlib
    import io

    twin, out, kept = broken
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["first-level", str(twin), "--out", str(out), "--quiet"])
    return code, err.getvalue(), _tree(out), kept


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_reported_and_others_kept(broken, broken_cli, case):
    twin, out, _ = broken
    code, stderr, after, kept = broken_cli
    sub, ses, run, message = BAD[case]
    assert code == 2
    lines = [ln for ln in stderr.splitlines() if ln.startswith("FAILED")]
    assert len(lines) == len(BAD)
    mine = [ln for ln in lines if f"sub-{sub}_ses-{ses}_task-heat_run-{run}" in ln]
    assert len(mine) == 1 and message in mine[0], stderr
    # the failed run's and session's stale outputs are gone ...
    assert not first_level_outputs.session_map_path(out, sub, ses).exists()
    # ... the session's other run and every other session are kept untouched
    other = 2 if run == 1 else 1
    other_map = out / (_stem(sub, ses, other) + f"_{SP}_contrast-hotVsWarm_stat-effect_statmap"
                       ".nii.gz")
    assert after[str(other_map.relative_to(out))] == kept[str(other_map.relative_to(out))]
    good = first_level_outputs.session_map_path(out, "001", "pre", "hotVsWarm", "z")
    assert after[str(good.relative_to(out))] == kept[str(good.relative_to(out))]


def test_missing_repetition_time_everywhere(small_twin, tmp_path):
    twin = tmp_path / "twin"
    shutil.copytree(small_twin, twin, ignore=shutil.ignore_patterns("sub-00[2-9]", "sub-01*"))
    (twin / "task-heat_bold.json").unlink()
    summary = fl.run_first_level(twin, tmp_path / "out", progress=False)
    assert len(summary.failed) == 4
    assert all("no RepetitionTime" in reason for _, reason in summary.failed)


def test_load_events_errors(tmp_path):
    path = tmp_path / "x_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n1\tten\thot\n5\t1\twarm\n")
    with pytest.raises(MindpainError, match=r"x_events.tsv: events column duration has a "
                                            r"non-numeric value on line 2"):
        bids.load_run_events(path)
    path.write_text("onset\tduration\ttrial_type\n1\t1\thot\n")
    with pytest.raises(MindpainError, match="no 'warm' events"):
        bids.load_run_events(path)
