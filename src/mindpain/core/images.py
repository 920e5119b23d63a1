"""Image grids, masks and resampling shared by every stage.

The reference grid is the MNI152 2 mm grid used by FSL, CANlab signatures and pain21
(91 x 109 x 91, LAS). Coarser grids for the simulated twin cover the same box.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from mindpain.core.errors import MindpainError

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
    linear interpolation, NaN to 0). Infinite values come out as 0 too, so a caller whose
    input may hold them refuses it first (the scorer does: an infinite effect is not a
    missing one). Returns the array on the target grid.
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


# --------------------------------------------------------------------------- input checks
#
# One check of an image's header, used by every command that reads an image (BOLD runs,
# contrast maps, signature weights, masks): the header fields nibabel enforces (data type,
# dimensions, offset; nibabel raises on reading), a finite, invertible affine, an orientation
# code (NIfTI), finite scaling, and a data offset past the header (nibabel reads an offset
# inside the header as data). What the data must hold (3-D or 4-D, its grid) is the
# reader's part.


def header_problem(header, affine, offset=None) -> str | None:
    """Return what makes an image's header unusable (one phrase), or ``None``.

    Parameters
    ----------
    header : nibabel header
        The image's header (NIfTI-1/2 or Analyze).
    affine : array-like, shape (4, 4)
        The voxel-to-world affine nibabel derives from it.
    offset : int, optional
        Where the file's data start (bytes): the file header's ``vox_offset``, which a
        loaded image's header no longer holds (``img.dataobj.offset``); not checked when
        ``None``.

    Returns
    -------
    str or None
        ``None`` for a usable header; else what was found and what to do.

    Examples
    --------
    >>> img = make_img(np.ones((2, 2, 2)), np.eye(4))
    >>> header_problem(img.header, img.affine) is None
    True
    >>> print(header_problem(img.header, np.diag([2.0, 0.0, 2.0, 1.0])))  # doctest: +ELLIPSIS
    has an affine that cannot be inverted ...
    """
    affine = np.asarray(affine, dtype=np.float64)
    fix = ("; fix the header's sform (e.g. nibabel's set_sform(affine, code=4)) to the "
           "image's voxel-to-world affine")
    if affine.shape != (4, 4) or not np.isfinite(affine).all():
        return "has an affine with non-finite values" + fix
    linear = affine[:3, :3]
    norms = np.sqrt((linear ** 2).sum(0))
    if not np.all(norms > 0) or abs(np.linalg.det(linear)) <= 1e-6 * np.prod(norms):
        sizes = ", ".join(f"{v:g}" for v in np.round(norms, 4))
        return (f"has an affine that cannot be inverted (voxel sizes {sizes} mm, determinant "
                f"{np.linalg.det(linear):.3g}), so where its voxels lie is unknown" + fix)
    if isinstance(header, nib.Nifti1Header):  # Nifti2Header derives from it
        single = bytes(header["magic"].item())[:3] in (b"n+1", b"n+2")  # not a .hdr/.img pair
        if single and offset is not None and offset < header.single_vox_offset:
            return (f"has a data offset (vox_offset) of {offset} bytes, inside its own "
                    f"{header.single_vox_offset}-byte header, so its header would be read as "
                    "image data; expected vox_offset >= "
                    f"{header.single_vox_offset}: re-save the image (e.g. with nibabel)")
        if not (int(header["sform_code"]) or int(header["qform_code"])):
            return ("has no orientation in its header (sform and qform codes are both 0), so "
                    "where its voxels lie in the brain is unknown; expected an image in MNI "
                    "space (set its sform, e.g. with nibabel's set_sform(affine, code=4))")
    if "scl_slope" in header:
        slope = float(header["scl_slope"])
        inter = float(header["scl_inter"]) if "scl_inter" in header else 0.0
        if np.isinf(slope) or (np.isinf(inter) and np.isfinite(slope) and slope != 0):
            return (f"has non-finite scaling (scl_slope {slope:g}, scl_inter {inter:g}), so "
                    "its values cannot be computed; expected finite scl_slope/scl_inter (0 "
                    "or NaN = unscaled): re-save the image")
    return None


def check_header(img, label) -> None:
    """Raise a one-line :class:`~mindpain.core.errors.MindpainError` for an unusable header.

    Parameters
    ----------
    img : nibabel.spatialimages.SpatialImage
        The image as loaded (its ``header`` and ``affine``).
    label : str or path-like
        The file named in the message.

    Raises
    ------
    mindpain.core.errors.MindpainError
        See :func:`header_problem`.
    """
    problem = header_problem(img.header, img.affine, file_offset(img))
    if problem is not None:
        raise MindpainError(problem, label)


def file_offset(img) -> int | None:
    """Where a loaded image's data start in its file (bytes), or ``None`` (in memory).

    Examples
    --------
    >>> file_offset(make_img(np.ones((2, 2, 2)), np.eye(4))) is None
    True
    """
    offset = getattr(img.dataobj, "offset", None)
    return None if offset is None else int(offset)


def load_checked(path, what: str):
    """Load an image with nibabel and check its header; one-line errors naming the file.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file should be (``"a 4D BOLD NIfTI image"``, ``"a mask image"``), for the
        messages.

    Returns
    -------
    nibabel.spatialimages.SpatialImage

    Raises
    ------
    mindpain.core.errors.MindpainError
        Missing, a folder, unreadable (nibabel's own header checks), or
        :func:`header_problem`.
    """
    path = Path(path)
    if path.is_dir():
        raise MindpainError(f"is a folder; expected {what}", path)
    if not path.is_file():
        raise MindpainError(f"file not found; expected {what}", path)
    try:
        img = nib.load(path)
    except Exception as err:  # nibabel raises many types for broken files
        why = " ".join(str(err).split())[:160]
        raise MindpainError(f"cannot be read as NIfTI ({type(err).__name__}: {why}); expected "
                            f"{what}", path) from None
    check_header(img, path)
    return img
