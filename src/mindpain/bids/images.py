"""Read one BOLD run: the image in memory, whether it carries signal, its header's TR.

Part of :mod:`mindpain.bids`, the package's one BIDS reader.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np

from mindpain.core.errors import MindpainError
from mindpain.core.images import load_checked


def load_bold(bold_path, min_volumes: int = 1):
    """Load one 4D BOLD run into memory (float32), so it is read from disk once.

    Parameters
    ----------
    bold_path : str or path-like
        A ``*_bold.nii[.gz]`` file.
    min_volumes : int
        Fewest volumes accepted (the first level needs 10).

    Returns
    -------
    nibabel.Nifti1Image
        The run, with its data held in memory.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the file is missing, unreadable, has an unusable header
        (:func:`mindpain.core.images.load_checked`: nibabel's checks, an invertible affine, an
        orientation code, finite scaling), is not a 4D image or is too short.
    """
    path = Path(bold_path)
    img = load_checked(path, "a 4D BOLD NIfTI image")
    shape = img.shape
    try:
        if len(shape) == 4 and shape[3] >= min_volumes:
            data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as err:  # nibabel raises many types for broken files
        raise MindpainError(f"unreadable NIfTI ({type(err).__name__}); expected a 4D BOLD "
                            "image", path) from None
    if len(shape) != 4:
        raise MindpainError(f"BOLD is {len(shape)}D {tuple(shape)}; expected a 4D series", path)
    if shape[3] < min_volumes:
        raise MindpainError(f"BOLD has {shape[3]} volumes; expected at least {min_volumes}",
                            path)
    out = nib.Nifti1Image(data, img.affine, img.header)
    out.header.set_data_dtype(np.float32)
    return out


def bold_grid(bold_path, min_volumes: int = 1) -> tuple:
    """Check a BOLD run's header (not its data); return its ``(shape, affine)``.

    The same checks as :func:`load_bold` that need only the header, so every run of a
    dataset can be checked before anything is fitted or written.

    Parameters
    ----------
    bold_path : str or path-like
        A ``*_bold.nii[.gz]`` file.
    min_volumes : int
        Fewest volumes accepted.

    Returns
    -------
    shape : tuple of int
        The 4D shape.
    affine : numpy.ndarray
        The voxel-to-world affine.

    Raises
    ------
    mindpain.core.errors.MindpainError
        As :func:`load_bold`, naming the file.
    """
    path = Path(bold_path)
    img = load_checked(path, "a 4D BOLD NIfTI image")
    shape = tuple(int(n) for n in img.shape)
    if len(shape) != 4:
        raise MindpainError(f"BOLD is {len(shape)}D {shape}; expected a 4D series", path)
    if shape[3] < min_volumes:
        raise MindpainError(f"BOLD has {shape[3]} volumes; expected at least {min_volumes}",
                            path)
    return shape, np.asarray(img.affine, dtype=np.float64)


def nonfinite_voxels(data: np.ndarray) -> np.ndarray:
    """Boolean 3-D array: the voxels of a 4D series with a NaN or infinite sample.

    Examples
    --------
    >>> data = np.ones((2, 1, 1, 3)); data[1, 0, 0, 2] = np.nan
    >>> nonfinite_voxels(data).ravel().tolist()
    [False, True]
    """
    if np.isfinite(np.sum(data, dtype=np.float64)):
        return np.zeros(data.shape[:3], dtype=bool)
    return ~np.isfinite(data).all(axis=-1)


def constant_bold(data: np.ndarray) -> str | None:
    """Return why a BOLD series carries no signal (``"all NaN"``, ...), or ``None``.

    A run with no voxel whose finite values vary over time (all zero, all NaN or Inf, one
    constant value) cannot be fitted; nilearn would still return maps, of noise or zeros.

    Examples
    --------
    >>> constant_bold(np.zeros((2, 2, 2, 5)))
    'all zero'
    >>> constant_bold(np.arange(40.0).reshape(2, 2, 2, 5)) is None
    True
    """
    if np.isfinite(np.sum(data, dtype=np.float64)):
        high, low = np.max(data, axis=-1), np.min(data, axis=-1)
    else:
        finite = np.isfinite(data)
        if not finite.any():
            return "all NaN or infinite"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            high = np.nanmax(np.where(finite, data, np.nan), axis=-1)
            low = np.nanmin(np.where(finite, data, np.nan), axis=-1)
    varies = np.nan_to_num(high - low) > 0
    if varies.any():
        return None
    values = high[np.isfinite(high)]
    if values.size and np.all(values == 0):
        return "all zero"
    return "constant in time in every voxel"


def header_repetition_time(bold_path) -> float | None:
    """Return the NIfTI header's repetition time in seconds, or ``None`` when unset.

    ``pixdim[4]`` in the header's time unit (ms and us converted); ``None`` when it is 0 or
    negative, or the file is not 4D.
    """
    try:
        header = nib.load(bold_path).header
        zooms = header.get_zooms()
        unit = header.get_xyzt_units()[1]
    except Exception:  # unreadable files are reported by load_bold
        return None
    if len(zooms) < 4 or not np.isfinite(zooms[3]) or zooms[3] <= 0:
        return None
    return float(zooms[3]) * {"msec": 1e-3, "usec": 1e-6}.get(unit, 1.0)
