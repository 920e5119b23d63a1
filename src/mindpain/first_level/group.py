"""Above the run: fixed effects over a session's runs, and the one-sample group map.

:func:`combine_session` averages the runs of one session by fixed effects (nilearn
:func:`~nilearn.glm.compute_fixed_effects`, equal weights) within the voxels every run's mask
covers and writes the session maps (:mod:`mindpain.first_level.outputs`);
:func:`group_map` fits nilearn's one-sample second-level model to session maps.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.bids import bids_entities, load_participants, name_prefix
from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import MAP_CONTRASTS as CONTRASTS
from mindpain.core.vocabulary import TASK
from mindpain.first_level.outputs import (
    STATS,
    failure_reason,
    func_dir,
    is_current,
    run_map_path,
    session_map_path,
    session_mask_path,
    write_outputs,
)

# --------------------------------------------------------------------------- session


def combine_session(group: tuple, specs: list, dofs: list, out_dir: Path,
                    settings, excluded: list = ()) -> dict:
    """Joblib task: fixed effects over a session's runs; writes effect, variance, z, mask.

    ``group`` is ``(subject, session, space)``; ``settings`` the
    :class:`mindpain.first_level.runs.ModelSettings`; ``excluded`` lists ``(file, reason)`` of the
    session's runs left out, recorded in the sidecars. With no run left the session fails.
    """
    from nilearn.glm import compute_fixed_effects

    subject, session, space = group
    label = name_prefix(subject, session)
    excluded = [{"File": f, "Reason": r} for f, r in excluded]
    try:
        if not specs:
            raise MindpainError(f"no usable run left in this session ({len(excluded)} "
                                "excluded); no session maps written",
                                func_dir(out_dir, subject, session))
        run_maps = {c: [(run_map_path(out_dir, s, c, "effect"),
                         run_map_path(out_dir, s, c, "variance")) for s in specs]
                    for c in CONTRASTS}
        inputs = {str(p.relative_to(out_dir)): sha256(p)
                  for pairs in run_maps.values() for pair in pairs for p in pair}
        key = {"inputs": inputs, "settings": settings.as_dict(), "dofs": dofs,
               "excluded": excluded}
        mask_path = session_mask_path(out_dir, subject, session, space)
        outputs = [mask_path] + [session_map_path(out_dir, subject, session, c, s, space)
                                 for c in CONTRASTS for s in STATS]
        if is_current(outputs, key):
            return {"label": label, "status": "skipped"}
        # each map read once, into memory (nilearn re-reads a file given by its path)
        loaded = {p: _in_memory(nib.load(p)) for pairs in run_maps.values()
                  for pair in pairs for p in pair}
        ref = loaded[run_maps["hotVsWarm"][0][1]]
        covered = np.ones(ref.shape, bool)
        for _, var in run_maps["hotVsWarm"]:
            v = np.asarray(loaded[var].dataobj)
            covered &= np.isfinite(v) & (v > 0)
        if not covered.any():
            raise MindpainError("the runs' masks do not overlap", run_maps["hotVsWarm"][0][1])
        mask = nib.Nifti1Image(covered.astype(np.uint8), ref.affine)
        items = [(mask_path, mask)]
        for contrast, pairs in run_maps.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                eff, var, _, z = compute_fixed_effects(
                    [loaded[e] for e, _ in pairs], [loaded[v] for _, v in pairs], mask=mask,
                    precision_weighted=False, dofs=dofs)
            for stat, img in zip(STATS, (eff, var, z), strict=True):
                items.append((session_map_path(out_dir, subject, session, contrast, stat, space),
                              _float32(img)))
        desc = {"Description": f"Fixed effects over {len(specs)} run(s) of {label}",
                "Sources": sorted(inputs), "DegreesOfFreedom": int(sum(dofs)),
                "ModelSettings": settings.as_dict(), "Space": space,
                "Runs": [s.run for s in specs], "ExcludedRuns": excluded}
        write_outputs(items, key, desc)
        return {"label": label, "status": "computed"}
    except MindpainError as err:
        return {"label": label, "status": "failed", "path": err.path or label,
                "reason": str(err).removeprefix(f"{err.path}: ")}
    except Exception as err:
        return {"label": label, "status": "failed", "path": str(func_dir(out_dir, subject,
                                                                          session)),
                "reason": failure_reason(err)}


def _float32(img):
    return nib.Nifti1Image(np.asarray(img.dataobj, dtype=np.float32), img.affine)


def _in_memory(img):
    """Return the image with its data read into memory (header and affine kept)."""
    return nib.Nifti1Image(np.asarray(img.dataobj), img.affine, img.header)


# --------------------------------------------------------------------------- group


def load_session_maps(out_dir, contrast="hotVsWarm", stat="effect", session="pre",
                      subjects=None, space=None) -> dict:
    """Return ``{subject: path}`` of existing session maps (``sub-`` labels without prefix).

    ``space``: the output space (its ``space-`` entity, e.g. ``MNI152NLin6Asym`` or
    ``MNI152NLin2009cAsym_res-2``); ``None``: the one space the first level wrote (maps of
    two spaces in one folder are refused).
    """
    pattern = (f"sub-*/ses-{session}/func/*_task-{TASK}_space-{space or '*'}"
               f"_contrast-{contrast}_stat-{stat}_statmap.nii.gz")
    paths = sorted(Path(out_dir).glob(pattern))
    spaces = {path.name.split("_space-")[1].split("_contrast-")[0] for path in paths}
    if len(spaces) > 1:
        raise MindpainError(f"session maps of {len(spaces)} spaces ({', '.join(sorted(spaces))})"
                            "; expected the maps of one first-level fit", out_dir)
    out = {}
    for path in paths:
        sub = bids_entities(path.name)["sub"]
        if subjects is None or sub in subjects:
            out[sub] = path
    return out


def _mask_beside(map_path: Path) -> Path:
    """Return the session mask beside a session map (same subject, session and space)."""
    stem = map_path.name.split("_contrast-")[0]
    return map_path.with_name(f"{stem}_desc-brain_mask.nii.gz")


def naive_subjects(bids_dir, dataset_map=None) -> list[str]:
    """Labels (without ``sub-``) of meditation-naive participants (group is not LTM).

    ``dataset_map``: :func:`mindpain.bids.datamap.resolve_map` (default: the map beside the
    dataset).
    """
    table = load_participants(bids_dir, dataset_map)
    keep = table[table["group"] != "LTM"]["participant_id"]
    return [p.removeprefix("sub-") for p in keep]


def group_map(out_dir, subjects, mask_img=None, contrast="hotVsWarm", session="pre",
              alpha=0.05) -> dict:
    """One-sample second-level model of session maps; FDR-thresholded z map.

    Parameters
    ----------
    out_dir : path-like
        First-level derivatives.
    subjects : list of str
        Subject labels to include.
    mask_img : path-like or image, optional
        Group mask (default: voxels covered in every participant's session mask).
    contrast, session : str
        Which session maps.
    alpha : float
        False discovery rate of the voxel-wise threshold (Benjamini-Hochberg).

    Returns
    -------
    dict
        ``effect``, ``z``, ``thresholded`` (images), ``threshold`` (z), ``n`` and ``mask``.
    """
    from nilearn.glm import threshold_stats_img
    from nilearn.glm.second_level import SecondLevelModel

    maps = load_session_maps(out_dir, contrast, "effect", session, set(subjects))
    if len(maps) < 3:
        raise MindpainError(f"only {len(maps)} session maps found; a group map needs 3",
                            out_dir)
    if mask_img is None:
        masks = [nib.load(_mask_beside(path)) for path in maps.values()]
        covered = np.logical_and.reduce([np.asarray(m.dataobj) > 0 for m in masks])
        mask_img = nib.Nifti1Image(covered.astype(np.uint8), masks[0].affine)
    # In memory: given paths, nilearn re-reads every file's header many times over (a
    # minute for 115 maps); the fitted maps are the same to the bit.
    imgs = [_in_memory(nib.load(p)) for p in maps.values()]
    model = SecondLevelModel(mask_img=mask_img, minimize_memory=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(imgs, design_matrix=pd.DataFrame({"intercept": np.ones(len(imgs))}))
        res = model.compute_contrast("intercept", output_type="all")
        thr_img, thr = threshold_stats_img(res["z_score"], mask_img=model.masker_.mask_img_,
                                           alpha=alpha, height_control="fdr",
                                           two_sided=True)
    return {"effect": res["effect_size"], "z": res["z_score"], "thresholded": thr_img,
            "threshold": float(thr), "n": len(imgs), "mask": model.masker_.mask_img_}


def spatial_correlation(img_a, img_b, mask_img) -> float:
    """Pearson correlation of two images over the voxels of ``mask_img``."""
    from nilearn.image import load_img, resample_to_img

    mask = load_img(mask_img)
    a, b = load_img(img_a), load_img(img_b)
    b = resample_to_img(b, a, interpolation="continuous", force_resample=True,
                        copy_header=True) if b.shape[:3] != a.shape[:3] else b
    m = np.asarray(mask.dataobj) > 0
    x, y = np.asarray(a.dataobj, float)[m], np.asarray(b.dataobj, float)[m]
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1])


def recovery_summary(img_a, img_b, mask_img) -> dict:
    """How an estimated map ``img_a`` recovers a planted map ``img_b`` over ``mask_img``.

    Returns
    -------
    dict
        ``r``: the Pearson correlation (:func:`spatial_correlation`); ``range_ratio``: the
        estimated map's largest absolute value over the planted map's (a map with voxels of
        almost no signal scaled to percent lies far beyond 1); ``n_beyond_5x``: voxels whose
        absolute value exceeds five times the planted map's largest.
    """
    from nilearn.image import load_img, resample_to_img

    mask = np.asarray(load_img(mask_img).dataobj) > 0
    a, b = load_img(img_a), load_img(img_b)
    b = resample_to_img(b, a, interpolation="continuous", force_resample=True,
                        copy_header=True) if b.shape[:3] != a.shape[:3] else b
    x, y = np.asarray(a.dataobj, float)[mask], np.asarray(b.dataobj, float)[mask]
    ok = np.isfinite(x) & np.isfinite(y)
    top = float(np.abs(y[ok]).max())
    return {"r": spatial_correlation(img_a, img_b, mask_img),
            "range_ratio": float(np.abs(x[ok]).max()) / top,
            "n_beyond_5x": int((np.abs(x[ok]) > 5 * top).sum())}
