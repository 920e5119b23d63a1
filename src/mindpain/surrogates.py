"""Open surrogate pain signatures, built deterministically by the package.

The official NPS is licensed on request and SIIPS1 is public but unlicensed; neither can
be shipped. The surrogates here are *not* those maps: they are smooth signed blobs at the
approximate centres of the published regions (``../shared/reference/STUDY.md``), each with
a name, so that local (subregion) scores exist. They stand in for the real maps so that
every chapter runs; every figure and table that uses them says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import ndimage

from mindpain.images import MNI2MM_AFFINE, MNI2MM_SHAPE, _mask_array, make_img, voxel_coords

#: Version of the surrogate construction; change it whenever the maps change.
SURROGATE_VERSION = "1"

# name, sign, centre (mm), blob sigma (mm). Centres are approximate (STUDY.md).
_NPS_REGIONS = [
    ("vermis", +1, (0, -60, -20), 6.0),
    ("rIns", +1, (40, 8, 0), 6.0),
    ("rV1", +1, (8, -80, 6), 6.0),
    ("rThal", +1, (10, -18, 6), 5.0),
    ("lIns", +1, (-38, 4, 2), 6.0),
    ("rdpIns", +1, (40, -16, 14), 5.0),
    ("rS2_Op", +1, (48, -26, 20), 6.0),
    ("dACC", +1, (2, 12, 38), 7.0),
    ("rLOC", -1, (44, -70, 20), 6.0),
    ("lLOC", -1, (-44, -72, 22), 6.0),
    ("rpLOC", -1, (30, -86, 10), 5.0),
    ("pgACC", -1, (0, 40, 8), 6.0),
    ("lSTS", -1, (-54, -28, -2), 6.0),
    ("rIPL", -1, (50, -50, 40), 6.0),
    ("PCC", -1, (0, -48, 30), 6.0),
]
_SIIPS1_REGIONS = [
    ("vmPFC", +1, (0, 44, -10), 7.0),
    ("rNAc", +1, (10, 12, -8), 4.5),
    ("lNAc", +1, (-10, 12, -8), 4.5),
    ("rParahippocampal", +1, (26, -30, -14), 5.0),
    ("lParahippocampal", +1, (-26, -30, -14), 5.0),
    ("rdlPFC", -1, (40, 36, 28), 7.0),
    ("ldlPFC", -1, (-40, 36, 28), 7.0),
]
_REGIONS = {"nps-surrogate": _NPS_REGIONS, "siips1-surrogate": _SIIPS1_REGIONS}
SURROGATE_NAMES = tuple(_REGIONS)
_TRUNCATE_SIGMAS = 2.5


@dataclass(frozen=True)
class Surrogate:
    """A surrogate signature: weights, a region label map and the region table.

    Attributes
    ----------
    name : str
        ``"nps-surrogate"`` or ``"siips1-surrogate"``.
    weights : nibabel.Nifti1Image
        Signed weights on the MNI152 2 mm grid; 0 outside the pattern.
    labels : nibabel.Nifti1Image
        Integer region labels (0 outside); every non-zero weight has exactly one label,
        so local scores add up to the whole.
    regions : pandas.DataFrame
        One row per region: ``label, region, sign, x, y, z, n_voxels``.
    """

    name: str
    weights: nib.Nifti1Image
    labels: nib.Nifti1Image
    regions: pd.DataFrame


@lru_cache(maxsize=4)
def build_surrogate(name: str) -> Surrogate:
    """Build the surrogate signature ``name`` (deterministic; cached in memory).

    Parameters
    ----------
    name : {"nps-surrogate", "siips1-surrogate"}
        Which surrogate.

    Returns
    -------
    Surrogate

    Examples
    --------
    >>> s = build_surrogate("nps-surrogate")
    >>> sorted(s.regions["sign"].unique().tolist())
    [-1, 1]
    """
    if name not in _REGIONS:
        from mindpain.errors import MindpainError

        raise MindpainError(f"unknown surrogate {name!r}; expected one of {SURROGATE_NAMES}")
    specs = _REGIONS[name]
    xyz = voxel_coords(MNI2MM_SHAPE, MNI2MM_AFFINE)
    mask = _mask_array(2.0)
    # A fixed smooth texture so the pattern is not flat inside a blob (seeded by the
    # surrogate's own name and version, independent of any analysis seed).
    seed = sum(ord(c) for c in name + SURROGATE_VERSION)
    texture = ndimage.gaussian_filter(
        np.random.default_rng(seed).standard_normal(MNI2MM_SHAPE), sigma=1.5
    )
    texture = 0.75 + 0.5 * (texture - texture.min()) / (texture.max() - texture.min())

    blobs = np.zeros((len(specs),) + MNI2MM_SHAPE)
    for k, (_, sign, centre, sigma) in enumerate(specs):
        r2 = ((xyz - np.asarray(centre, float)) ** 2).sum(-1)
        blob = np.exp(-r2 / (2 * sigma**2))
        blob[r2 > (_TRUNCATE_SIGMAS * sigma) ** 2] = 0.0
        blobs[k] = sign * blob
    strength = np.abs(blobs)
    owner = strength.argmax(0)
    inside = (strength.max(0) > 0) & mask
    weights = np.where(inside, blobs.sum(0) * texture, 0.0)
    inside &= weights != 0
    labels = np.where(inside, owner + 1, 0).astype(np.int16)
    weights = np.where(inside, weights, 0.0).astype(np.float32)

    rows = []
    for k, (region, sign, centre, _) in enumerate(specs):
        rows.append({"label": k + 1, "region": region, "sign": sign, "x": centre[0],
                     "y": centre[1], "z": centre[2], "n_voxels": int((labels == k + 1).sum())})
    regions = pd.DataFrame(rows)
    return Surrogate(
        name=name,
        weights=make_img(weights, MNI2MM_AFFINE),
        labels=make_img(labels, MNI2MM_AFFINE),
        regions=regions,
    )
