"""The small twin laid out the way a real thermal-pain study arrives (issue #29).

:func:`standard_copy` is the small twin as a user's dataset in the book's own names (no
planted truth, no mindpain description, the twin's confounds kept); :func:`foreign_copy`
lays out the same data under a study's own names, with fMRIPrep derivatives:

* task ``pain`` (not ``heat``); sessions ``ses-1``/``ses-2`` (not ``pre``/``post``);
* trial types ``high``/``low``/``rate`` and rating columns ``pain_intensity`` and
  ``pain_unpleasantness``;
* the arms in lower case in a column ``arm``; practice hours in ``phenotype/meditation.tsv``
  under columns of their own;
* ``derivatives/fmriprep`` with each run's preprocessed BOLD in two volumetric spaces,
  ``MNI152NLin2009cAsym_res-2`` (the twin's data) and ``T1w`` (the same data on a shifted
  grid: fitting or scoring it as MNI would give wrong numbers), confounds with the full
  fMRIPrep column set (aCompCor, tCompCor, cosine drifts, CSF and white matter, DVARS, the
  24 motion expansions) and fMRIPrep's sidecars;
* its dataset map, :data:`FOREIGN_MAP` (``book/examples/mindpain-map.toml``, the example of
  ``book/own_data.md``), beside the dataset.

Same data, other names: every chapter must give the same numbers on both.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
#: The fixture's dataset map (also the example of book/own_data.md).
FOREIGN_MAP = ROOT / "book" / "examples" / "mindpain-map.toml"
#: The fMRIPrep output spaces written per run (the MNI one is the twin's data).
MNI_SPACE = "space-MNI152NLin2009cAsym_res-2"
NATIVE_SPACE = "space-T1w"
_SESSIONS = {"pre": "1", "post": "2"}
_TRIALS = {"hot": "high", "warm": "low", "rating": "rate"}
_RATINGS = {"intensity_rating": "pain_intensity",
            "unpleasantness_rating": "pain_unpleasantness"}
_PRACTICE = {"lifetime_hours": "hours_total", "retreat_hours": "hours_retreat"}


def _link(src: Path, dst: Path) -> None:
    """Hard-link ``src`` to ``dst`` (a copy where links are not possible)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _description(root: Path, name: str, kind: str = "raw", generated=None) -> None:
    meta = {"Name": name, "BIDSVersion": "1.9.0", "DatasetType": kind}
    if generated:
        meta["GeneratedBy"] = generated
    path = root / "dataset_description.json"
    # A copy made of hard links shares the twin's file: write a new file, never through
    # the link (that would rewrite the twin's own description).
    path.unlink(missing_ok=True)
    path.write_text(json.dumps(meta, indent=2))


def standard_copy(twin: Path, out: Path) -> Path:
    """The small twin as a user's dataset in the book's names: no truth, no twin description."""
    shutil.copytree(twin, out, copy_function=os.link,
                    ignore=shutil.ignore_patterns("twin-truth", ".mindpain*", "mindpain-map.toml"))
    _description(out, "A thermal pain study (book layout)")
    return out


def _fmriprep_confounds(table: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The twin's confounds with the rest of fMRIPrep's columns added (values plausible)."""
    n = len(table)
    out = table.copy()
    motion = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
    for c in motion:
        out[f"{c}_power2"] = table[c] ** 2
        out[f"{c}_derivative1_power2"] = table[f"{c}_derivative1"] ** 2
    for c in ("csf", "white_matter"):
        base = 600.0 + rng.normal(0, 5, n)
        out[c] = base
        out[f"{c}_derivative1"] = np.r_[np.nan, np.diff(base)]
        out[f"{c}_power2"] = base ** 2
    out["dvars"] = np.r_[np.nan, np.abs(rng.normal(20, 3, n - 1))]
    out["std_dvars"] = np.r_[np.nan, np.abs(rng.normal(1, 0.1, n - 1))]
    out["rmsd"] = np.r_[np.nan, np.abs(rng.normal(0.05, 0.02, n - 1))]
    for k in range(6):
        out[f"a_comp_cor_{k:02d}"] = rng.normal(0, 1 / np.sqrt(n), n)
    for k in range(3):
        out[f"t_comp_cor_{k:02d}"] = rng.normal(0, 1 / np.sqrt(n), n)
    t = np.arange(n)
    for k in range(4):
        out[f"cosine{k:02d}"] = np.sqrt(2 / n) * np.cos(np.pi * (k + 1) * (t + 0.5) / n)
    return out


def foreign_copy(twin: Path, out: Path) -> Path:
    """Lay out the small twin's data under a study's own names with fMRIPrep derivatives.

    Returns the raw dataset folder; its fMRIPrep derivatives are ``derivatives/fmriprep``
    and its dataset map is ``mindpain-map.toml`` beside it (a copy of :data:`FOREIGN_MAP`).
    """
    twin, out = Path(twin), Path(out)
    out.mkdir(parents=True)
    _description(out, "Mindfulness and thermal pain (a study's own layout)")
    shutil.copy2(FOREIGN_MAP, out / "mindpain-map.toml")
    (out / ".bidsignore").write_text("mindpain-map.toml\n")
    part = pd.read_csv(twin / "participants.tsv", sep="\t", dtype=str, keep_default_na=False)
    part = part.rename(columns={"group": "arm"})
    part["arm"] = part["arm"].str.lower()
    part.to_csv(out / "participants.tsv", sep="\t", index=False)
    practice = pd.read_csv(twin / "phenotype" / "practice.tsv", sep="\t", dtype=str,
                           keep_default_na=False).rename(columns=_PRACTICE)
    (out / "phenotype").mkdir()
    practice.to_csv(out / "phenotype" / "meditation.tsv", sep="\t", index=False)
    bold_meta = json.loads((twin / "task-heat_bold.json").read_text())
    (out / "task-pain_bold.json").write_text(json.dumps({**bold_meta, "TaskName": "pain"}))
    fmriprep = out / "derivatives" / "fmriprep"
    fmriprep.mkdir(parents=True)
    _description(fmriprep, "fMRIPrep - fMRI PREProcessing workflow", "derivative",
                 [{"Name": "fMRIPrep", "Version": "23.2.1"}])
    rng = np.random.default_rng(29)
    for bold in sorted(twin.glob("sub-*/ses-*/func/*_bold.nii.gz")):
        sub, ses = bold.parts[-4], bold.parts[-3].removeprefix("ses-")
        label = _SESSIONS[ses]
        stem = bold.name.replace("_bold.nii.gz", "")
        new = stem.replace(f"ses-{ses}", f"ses-{label}").replace("task-heat", "task-pain")
        func = out / sub / f"ses-{label}" / "func"
        _link(bold, func / f"{new}_bold.nii.gz")
        events = pd.read_csv(bold.parent / f"{stem}_events.tsv", sep="\t", dtype=str,
                             keep_default_na=False)
        events["trial_type"] = events["trial_type"].map(_TRIALS)
        events.rename(columns=_RATINGS).to_csv(func / f"{new}_events.tsv", sep="\t",
                                                index=False)
        deriv = fmriprep / sub / f"ses-{label}" / "func"
        _link(bold, deriv / f"{new}_{MNI_SPACE}_desc-preproc_bold.nii.gz")
        img = nib.load(bold)
        shifted = img.affine.copy()
        shifted[:3, 3] += (7.0, -11.0, 5.0)  # a subject's own space: not the template's grid
        native = nib.Nifti1Image(np.asarray(img.dataobj), shifted, img.header)
        nib.save(native, deriv / f"{new}_{NATIVE_SPACE}_desc-preproc_bold.nii.gz")
        for space in (MNI_SPACE, NATIVE_SPACE):
            (deriv / f"{new}_{space}_desc-preproc_bold.json").write_text(json.dumps(
                {"RepetitionTime": bold_meta["RepetitionTime"], "SkullStripped": False,
                 "TaskName": "pain"}))
        confounds = (twin / "derivatives" / "twin-confounds" / sub / f"ses-{ses}" / "func"
                     / f"{stem}_desc-confounds_timeseries.tsv")
        text = pd.read_csv(confounds, sep="\t", dtype=str, keep_default_na=False)
        extra = _fmriprep_confounds(pd.read_csv(confounds, sep="\t", na_values="n/a"), rng)
        extra = extra.drop(columns=list(text.columns)).map(
            lambda v: "n/a" if pd.isna(v) else f"{v:.8g}")
        # the twin's own columns as written (bit for bit), fMRIPrep's others after them
        pd.concat([text, extra], axis=1).to_csv(
            deriv / f"{new}_desc-confounds_timeseries.tsv", sep="\t", index=False)
    return out
