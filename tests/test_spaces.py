"""Output spaces (issue #29): one space fitted, MNI152 chosen by default, native maps refused.

fMRIPrep writes one preprocessed BOLD per output space (``space-MNI152NLin2009cAsym_res-2``,
``space-T1w``, ...). The first level fits only one of them, the first MNI152 space unless
told otherwise, and ``mindpain score`` refuses a map that is not in an MNI152 space, where
the signatures are defined.
"""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from _safety_helpers import one_line, run_cli

from mindpain import bids
from mindpain.core.errors import MindpainError
from mindpain.first_level import outputs as first_level_outputs
from mindpain.first_level import runs as fl

STEM = "sub-002_ses-pre_task-heat_run-1"
MNI = "MNI152NLin2009cAsym"


def _fmriprep(small_twin, root, spaces):
    """fMRIPrep-like derivatives of one run of the small twin, one BOLD per space entity."""
    src = small_twin / "sub-002/ses-pre/func"
    func = root / "sub-002/ses-pre/func"
    func.mkdir(parents=True)
    (root / "dataset_description.json").write_text("{}")
    for space in spaces:
        shutil.copy(src / f"{STEM}_bold.nii.gz", func / f"{STEM}_{space}_desc-preproc_bold.nii.gz")
    n = nib.load(src / f"{STEM}_bold.nii.gz").shape[3]
    rng = np.random.default_rng(0)
    conf = pd.DataFrame(rng.normal(0, 0.1, (n, 6)),
                        columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"])
    conf["framewise_displacement"] = np.r_[np.nan, np.abs(rng.normal(0, 0.1, n - 1))]
    conf.to_csv(func / f"{STEM}_desc-confounds_timeseries.tsv", sep="\t", index=False,
                na_rep="n/a")
    return root


# --------------------------------------------------------------------------- choosing


def test_space_notation_and_choice():
    assert bids.space_of(bids.bids_entities(f"{STEM}_space-{MNI}_res-2_bold.nii.gz")) \
        == f"{MNI}:res-2"
    assert bids.space_of({}) == bids.DEFAULT_SPACE  # raw BOLD: the twin's MNI space
    assert bids.space_entities(f"{MNI}:res-2") == f"space-{MNI}_res-2"
    present = ["T1w", f"{MNI}:res-2", "MNI152NLin6Asym:res-1"]
    # default: the first MNI152 space in sorted order, never the native one
    assert bids.select_space(present) == f"{MNI}:res-2"
    assert bids.select_space(present, "T1w") == "T1w"
    assert bids.select_space(present, MNI) == f"{MNI}:res-2"  # one resolution: no res needed
    with pytest.raises(MindpainError, match="no MNI152 space among the spaces found"):
        bids.select_space(["T1w", "fsnative"])
    with pytest.raises(MindpainError, match="no file in space 'MNIPediatricAsym'"):
        bids.select_space(present, "MNIPediatricAsym")
    with pytest.raises(MindpainError, match="several resolutions"):
        bids.select_space([f"{MNI}:res-1", f"{MNI}:res-2"], MNI)
    assert not bids.is_mni_space("T1w") and bids.is_mni_space("MNI152Lin")


@pytest.mark.heavy
def test_find_runs_lists_one_space(small_twin, tmp_path):
    prep = _fmriprep(small_twin, tmp_path / "fmriprep", [f"space-{MNI}_res-2", "space-T1w"])
    specs = bids.find_runs(small_twin, prep)
    assert [s.space for s in specs] == [f"{MNI}:res-2"]
    assert [s.space for s in bids.find_runs(small_twin, prep, space="T1w")] == ["T1w"]
    native = _fmriprep(small_twin, tmp_path / "native", ["space-T1w"])
    with pytest.raises(MindpainError, match="no MNI152 space") as err:
        bids.find_runs(small_twin, native)
    assert err.value.path == str(native)


@pytest.mark.heavy
def test_first_level_fits_the_mni_space_only(small_twin, tmp_path, capsys):
    prep = _fmriprep(small_twin, tmp_path / "fmriprep", [f"space-{MNI}_res-2", "space-T1w"])
    out = tmp_path / "out"
    summary = fl.run_first_level(small_twin, out, fmriprep=prep, progress=False)
    assert summary.ok and summary.space == f"{MNI}:res-2"
    assert f"space {MNI}:res-2" in summary.report()
    written = [p.name for p in out.rglob("*.nii.gz")]
    assert written and not any("space-T1w" in n for n in written)
    z = first_level_outputs.session_map_path(out, "002", "pre", "hotVsWarm", "z",
                                             space=f"{MNI}:res-2")
    assert z.is_file() and f"_space-{MNI}_res-2_" in z.name
    sidecar = z.with_name(z.name.replace(".nii.gz", ".json"))
    assert f"{MNI}:res-2" in sidecar.read_text()
    # a dataset with no MNI space: one line, exit 2, nothing written
    native = _fmriprep(small_twin, tmp_path / "native", ["space-T1w"])
    code, _, err = run_cli(["first-level", str(small_twin), "--fmriprep", str(native),
                            "--out", str(tmp_path / "d"), "--quiet"], capsys)
    assert code == 2 and "no MNI152 space among the spaces found (T1w)" in one_line(err)
    assert not (tmp_path / "d").exists()
    # asked for explicitly, the native space is fitted
    code, _, err = run_cli(["first-level", str(small_twin), "--fmriprep", str(native),
                            "--space", "T1w", "--out", str(tmp_path / "t1w"), "--quiet"],
                           capsys)
    assert code == 0, err
    assert any("space-T1w" in p.name for p in (tmp_path / "t1w").rglob("*.nii.gz"))


# --------------------------------------------------------------------------- scoring


def _maps(root):
    rng = np.random.default_rng(3)
    made = {}
    for space in (f"space-{MNI}_res-2", "space-T1w"):
        path = (root / "sub-01/ses-pre/func" /
                f"sub-01_ses-pre_task-heat_{space}_contrast-hotVsWarm_stat-effect_statmap.nii.gz")
        path.parent.mkdir(parents=True, exist_ok=True)
        nib.save(nib.Nifti1Image(rng.normal(size=(4, 4, 4)).astype(np.float32),
                                 np.diag([2.0, 2.0, 2.0, 1.0])), path)
        made[space.split("_")[0].removeprefix("space-")] = path
    return made


def test_score_refuses_a_native_space_map(tmp_path, capsys):
    maps = _maps(tmp_path / "deriv")
    out = tmp_path / "scores.tsv"
    code, _, err = run_cli(["score", str(maps["T1w"]), str(maps[MNI]), "--signature",
                            "nps-surrogate", "--out", str(out), "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and "is in space T1w, not an MNI152 space" in line
    assert str(maps["T1w"]) in line and "--any-space" in line
    assert not out.exists() and not out.with_suffix(".json").exists()
    code, _, err = run_cli(["score", str(maps["T1w"]), "--signature", "nps-surrogate",
                            "--any-space", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    assert pd.read_csv(out, sep="\t")["path"].tolist() == [str(maps["T1w"])]


def test_score_bids_derivatives_selects_one_space(tmp_path, capsys):
    maps = _maps(tmp_path / "deriv")
    out = tmp_path / "scores.tsv"
    code, _, err = run_cli(["score", "--bids-derivatives", str(tmp_path / "deriv"),
                            "--signature", "nps-surrogate", "--out", str(out), "--quiet"], capsys)
    assert code == 0, err
    assert pd.read_csv(out, sep="\t")["path"].unique().tolist() == [str(maps[MNI])]
    # the native space only when asked for, and only with --any-space
    code, _, err = run_cli(["score", "--bids-derivatives", str(tmp_path / "deriv"),
                            "--space", "T1w", "--signature", "nps-surrogate",
                            "--out", str(tmp_path / "t1w.tsv"), "--quiet"], capsys)
    assert code == 2 and "is in space T1w" in one_line(err)
    code, _, err = run_cli(["score", "--bids-derivatives", str(tmp_path / "deriv"),
                            "--space", "T1w", "--any-space", "--signature", "nps-surrogate",
                            "--out", str(tmp_path / "t1w.tsv"), "--quiet"], capsys)
    assert code == 0, err
    assert pd.read_csv(tmp_path / "t1w.tsv", sep="\t")["path"].unique().tolist() \
        == [str(maps["T1w"])]
