"""Image grids, masks and resampling shared by every stage.

The reference grid is the MNI152 2 mm grid used by FSL, CANlab signatures and pain21
(91 x 109 x 91, LAS). Coarser grids for the simulated twin cover the same box.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import nibabel as nib
import numpy as np

#: Affine of the FSL/CANlab MNI152 2 mm grid (91 x 109 x 91).
MNI2MM_AFFINE = np.array(
    [[-2.0, 0, 0, 90], [0, 2.0, 0, -126], [0, 0, 2.0, -72], [0, 0, 0, 1]]
)
MNI2MM_SHAPE = (91, 109, 91)


def mni_grid(voxel_size: float = 2.0):
    """Return ``(shape, affine)`` of an MNI152 grid with isotropic ``voxel_size`` mm.

    The grid spans the same box as the 2 mm FSL grid (x from 90 to -90 mm, y from -126
    to 90 mm, z from -72 to 108 mm) and keeps its LAS orientation.

    Examples
    --------
    >>> shape, affine = mni_grid(2.0)
    >>> shape
    (91, 109, 91)
    """
    extent = (np.array(MNI2MM_SHAPE) - 1) * 2.0
    shape = tuple(int(n) for n in np.floor(extent / voxel_size).astype(int) + 1)
    affine = np.array(
        [[-voxel_size, 0, 0, 90.0], [0, voxel_size, 0, -126.0], [0, 0, voxel_size, -72.0],
         [0, 0, 0, 1]]
    )
    return shape, affine


def voxel_coords(shape, affine) -> np.ndarray:
    """Return the world (mm) coordinates of every voxel, shape ``shape + (3,)``."""
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), axis=-1)
    return ijk @ affine[:3, :3].T + affine[:3, 3]


def _mni_on_grid(which: str, voxel_size: float) -> np.ndarray:
    """Return nilearn's MNI152 ``"mask"`` or ``"template"`` (2 mm, from its wheel) on our grid."""
    from nilearn import datasets, image

    shape, affine = mni_grid(voxel_size)
    loader = {"mask": datasets.load_mni152_brain_mask,
              "template": datasets.load_mni152_template}[which]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = image.resample_img(loader(resolution=2), target_affine=affine, target_shape=shape,
                                 interpolation="linear", force_resample=True, copy_header=True)
    return np.nan_to_num(np.asarray(res.dataobj, dtype=float))


@lru_cache(maxsize=8)
def mask_array(voxel_size: float) -> np.ndarray:
    """MNI152 brain mask on the grid of ``voxel_size`` as a read-only boolean array (cached)."""
    mask = _mni_on_grid("mask", voxel_size) > 0.5
    mask.setflags(write=False)
    return mask


def brain_mask(voxel_size: float = 2.0) -> nib.Nifti1Image:
    """MNI152 brain mask (from nilearn's wheel, no download) on the grid of ``voxel_size``."""
    shape, affine = mni_grid(voxel_size)
    return make_img(mask_array(float(voxel_size)).astype(np.uint8), affine)


@lru_cache(maxsize=8)
def _template_array(voxel_size: float) -> np.ndarray:
    arr = _mni_on_grid("template", voxel_size)
    arr.setflags(write=False)
    return arr


def template_intensity(voxel_size: float = 2.0) -> np.ndarray:
    """MNI152 T1 template intensities (0..1) on the grid of ``voxel_size``."""
    return _template_array(float(voxel_size))


def make_img(data, affine, *, dtype=None, space_code: int = 4) -> nib.Nifti1Image:
    """Build a NIfTI image in MNI space (qform/sform code 4) with mm units."""
    data = np.asarray(data if dtype is None else np.asarray(data).astype(dtype))
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=space_code)
    img.set_sform(affine, code=space_code)
    img.header.set_xyzt_units("mm", "sec")
    return img


def resample_like(img, shape, affine, interpolation: str = "linear") -> np.ndarray:
    """Resample ``img`` onto the grid ``(shape, affine)``; NaN becomes 0.

    This is how signature weights are brought to the data grid (CANlab semantics:
    linear interpolation, NaN to 0). Returns the array on the target grid.
    """
    from nilearn import image

    img = nib.load(img) if not isinstance(img, nib.spatialimages.SpatialImage) else img
    same = tuple(img.shape[:3]) == tuple(shape) and np.allclose(img.affine, affine)
    if same:
        data = np.asarray(img.dataobj, dtype=float)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = np.asarray(
                image.resample_img(img, target_affine=affine, target_shape=shape,
                                   interpolation=interpolation, force_resample=True,
                                   copy_header=True).dataobj,
                dtype=float,
            )
    return np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
