"""Approximate subregions of a signature, and the weights of one sign.

CANlab's ``apply_nps`` scores NPS subregions with its own region masks, which are not
available here. For an official map each non-zero voxel is assigned to the nearest
approximate region centre of the same sign (``STUDY.md``; the same centres as the
surrogates, :func:`region_centres`) within :data:`REGION_RADIUS_MM`; voxels farther from
every centre of their sign form ``other_pos`` / ``other_neg`` (:func:`approximate_regions`).
This *approximates* CANlab's subregions; the regions partition the pattern, so local scores
add up to the whole. :func:`split_sign` keeps the positive or negative weights (``nps-pos``,
``nps-neg``) with their regions.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.core.images import voxel_coords
from mindpain.signatures.files import weights_image

#: Radius (mm) within which a voxel of an official map joins an approximate region centre.
REGION_RADIUS_MM = 16.0


def region_centres(surrogate: str) -> pd.DataFrame:
    """Approximate region centres (STUDY.md), shared with the surrogates.

    Parameters
    ----------
    surrogate : {"nps-surrogate", "siips1-surrogate"}
        The surrogate whose blobs sit at these centres.

    Returns
    -------
    pandas.DataFrame
        ``region, sign, x, y, z`` (mm).
    """
    from mindpain.signatures.surrogates import SURROGATE_REGIONS

    return pd.DataFrame([{"region": r, "sign": s, "x": c[0], "y": c[1], "z": c[2]}
                         for r, s, c, _ in SURROGATE_REGIONS[surrogate]])


def approximate_regions(weights: nib.Nifti1Image, centres: pd.DataFrame,
                        radius_mm: float = REGION_RADIUS_MM):
    """Assign each non-zero weight to the nearest same-sign centre within ``radius_mm``.

    Voxels beyond every centre of their sign go to ``other_pos`` / ``other_neg``, so the
    regions partition the pattern (local scores add up to the whole). This approximates
    CANlab's ``apply_nps`` subregions, whose masks are not available here.

    Parameters
    ----------
    weights : nibabel.Nifti1Image
        3-D weights.
    centres : pandas.DataFrame
        ``region, sign, x, y, z`` (mm).
    radius_mm : float
        Largest distance from a centre.

    Returns
    -------
    labels : nibabel.Nifti1Image
        Integer labels, 0 outside the pattern.
    regions : pandas.DataFrame
        ``label, region, sign, x, y, z, n_voxels`` (only regions with voxels).
    """
    w = np.asarray(weights.dataobj, dtype=np.float64)
    xyz = voxel_coords(w.shape, weights.affine)
    labels = np.zeros(w.shape, dtype=np.int16)
    table = centres.reset_index(drop=True).copy()
    extra = [{"region": "other_pos", "sign": 1}, {"region": "other_neg", "sign": -1}]
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    for sign, other in ((1, len(table) - 2), (-1, len(table) - 1)):
        sel = (w > 0) if sign > 0 else (w < 0)
        pts = xyz[sel]
        rows = np.flatnonzero(table["sign"].to_numpy()[: len(centres)] == sign)
        owner = np.full(len(pts), other)
        if len(rows):
            c = table.loc[rows, ["x", "y", "z"]].to_numpy(float)
            d = np.sqrt(((pts[:, None, :] - c[None, :, :]) ** 2).sum(-1))
            near = d.argmin(1)
            ok = d[np.arange(len(pts)), near] <= radius_mm
            owner[ok] = rows[near[ok]]
        labels[sel] = owner + 1
    table["label"] = np.arange(1, len(table) + 1)
    table["n_voxels"] = [int((labels == k).sum()) for k in table["label"]]
    table = table[table["n_voxels"] > 0].reset_index(drop=True)
    table = table[["label", "region", "sign", "x", "y", "z", "n_voxels"]]
    return weights_image(labels, weights.affine), table


def split_sign(weights, labels, regions, sign):
    """Keep the weights (and regions) of one sign.

    Parameters
    ----------
    weights, labels : nibabel.Nifti1Image
        Weights and their region labels.
    regions : pandas.DataFrame
        The regions' table (``label``, ``sign``, ...).
    sign : {1, -1}
        Which weights to keep.

    Returns
    -------
    weights, labels : nibabel.Nifti1Image
        The other sign's weights set to 0, their labels to 0.
    regions : pandas.DataFrame
        The rows of that sign.
    """
    dtype = weights.get_data_dtype()  # the weight file's precision (float32 or float64)
    w = np.asarray(weights.dataobj, dtype=dtype)
    w = np.where(np.sign(w) == sign, w, 0).astype(dtype)
    lab = np.asarray(labels.dataobj)
    keep = regions[regions["sign"] == sign].reset_index(drop=True)
    lab = np.where(np.isin(lab, keep["label"].to_numpy()) & (w != 0), lab, 0)
    return (weights_image(w, weights.affine, dtype=dtype),
            weights_image(lab.astype(np.int16), weights.affine), keep)
