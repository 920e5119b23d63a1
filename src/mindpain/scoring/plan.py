"""Signature columns and their weights stacked on one grid (the resampling plan).

A *column* is one signature's whole pattern or one of its regions
(:func:`signature_columns`). A :class:`Plan` stacks the weights of some columns on the
union of their pattern voxels on one grid, resampled there (linear, NaN->0) when the
signature's grid differs (:func:`build_plan`); region columns are resampled one by one,
so they still add up to the whole. :func:`signature_box` and :func:`world_box` give the
world-coordinate extent of a pattern and of a map, to refuse a map that does not overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import nibabel as nib
import numpy as np

from mindpain.core.errors import MindpainError
from mindpain.core.images import resample_like
from mindpain.scoring.maps import grid_key
from mindpain.signatures import Signature

#: ``region`` of the column that is the whole pattern of a signature.
WHOLE = "whole"


@dataclass
class Plan:
    """Stacked weights of all (signature, region) columns on one grid.

    Attributes
    ----------
    shape : tuple
        The grid's 3-D shape.
    affine : numpy.ndarray
        The grid's voxel-to-world affine.
    idx : numpy.ndarray
        Flat (C-order) indices of the union of the columns' pattern voxels.
    cols : numpy.ndarray
        Global column numbers (:func:`signature_columns`) covered by this plan.
    W : numpy.ndarray
        ``(n_vox, n_cols)`` weights on those voxels.
    P : numpy.ndarray
        ``(n_vox, n_cols)``: 1 where the column's pattern is, else 0.
    W2 : numpy.ndarray
        ``W * W`` (computed).
    idx_f : numpy.ndarray or None
        The same voxels as flat indices in Fortran order (filled when first needed).
    """

    shape: tuple
    affine: np.ndarray
    idx: np.ndarray  # flat indices of the union of pattern voxels
    cols: np.ndarray  # global column numbers covered by this plan
    W: np.ndarray  # (n_vox, n_cols) weights
    P: np.ndarray  # (n_vox, n_cols) 1 where the column's pattern is
    W2: np.ndarray = field(init=False)
    idx_f: np.ndarray | None = None  # the same voxels as flat indices in Fortran order

    def __post_init__(self):
        self.W2 = self.W * self.W


def signature_columns(signatures: Sequence[Signature],
                      subregions: bool) -> list[tuple[int, str, int]]:
    """Global columns: ``(signature index, region name, label or 0 for whole)``.

    Parameters
    ----------
    signatures : sequence of Signature
        The signatures scored together.
    subregions : bool
        Also one column per region of each signature that has regions.

    Returns
    -------
    list of tuple
        Per signature, first its whole pattern ``(k, "whole", 0)``, then (with
        ``subregions``) one ``(k, region, label)`` per region, in the signature's order.
    """
    cols = []
    for k, sig in enumerate(signatures):
        cols.append((k, WHOLE, 0))
        if subregions and sig.regions is not None and sig.labels is not None:
            cols += [(k, str(r), int(lab)) for lab, r in
                     zip(sig.regions["label"], sig.regions["region"], strict=True)]
    return cols


def _same_grid(img, shape, affine) -> bool:
    return tuple(img.shape[:3]) == tuple(shape[:3]) and np.allclose(img.affine, affine)


def _column_sparse(sig: Signature, label: int, shape, affine):
    """Flat indices and values of one column's non-zero weights on the grid ``shape``."""
    w = np.asarray(sig.weights.dataobj, dtype=np.float64).reshape(-1)
    if np.isinf(w).any():
        raise MindpainError(f"signature {sig.name!r} has {int(np.isinf(w).sum())} infinite "
                            "weight(s); expected finite weights (0 or NaN outside the pattern)",
                            sig.path)
    w = np.where(np.isnan(w), 0.0, w)  # NaN = outside the pattern (load_weights warns)
    if label:
        w = np.where(np.asarray(sig.labels.dataobj).reshape(-1) == label, w, 0.0)
    if not _same_grid(sig.weights, shape, affine):
        # linear resampling is linear: region columns resampled one by one still add up
        w = resample_like(nib.Nifti1Image(w.reshape(sig.weights.shape[:3]), sig.weights.affine),
                          shape, affine).reshape(-1)
    nz = np.flatnonzero(w)
    return nz, w[nz]


def world_box(shape, affine, ijk=None) -> np.ndarray:
    """World-coordinate bounding box (2 x 3) of a grid or of some voxels of it.

    Parameters
    ----------
    shape : sequence of int
        Grid shape (first three dimensions).
    affine : numpy.ndarray, shape (4, 4)
        Voxel-to-world affine.
    ijk : numpy.ndarray, shape (n, 3), optional
        Voxel coordinates; default: the eight corners of the grid.

    Returns
    -------
    numpy.ndarray, shape (2, 3)
        Lowest and highest x, y, z (mm), with half a voxel of margin.

    Examples
    --------
    >>> world_box((2, 2, 2), np.eye(4)).tolist()
    [[-0.5, -0.5, -0.5], [1.5, 1.5, 1.5]]
    """
    if ijk is None:
        ijk = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                        for k in (0, shape[2] - 1)], float)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    vox = np.abs(affine[:3, :3]).sum(0) / 2  # half a voxel of margin
    return np.stack([xyz.min(0) - vox, xyz.max(0) + vox])


def boxes_overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Return True if two boxes of :func:`world_box` share some volume (or touch).

    Examples
    --------
    >>> boxes_overlap(world_box((2, 2, 2), np.eye(4)), world_box((2, 2, 2), np.eye(4)) + 5)
    False
    """
    return bool(np.all(a[0] <= b[1]) and np.all(b[0] <= a[1]))


_BOX_CACHE: dict = {}
_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def _cached(cache: dict, signatures, key, make):
    """``make()``, kept in ``cache`` under ``key`` and the identity of the signatures' weights.

    A signature's weights image is taken as immutable and known by its identity (``id``):
    each entry holds the images it was made from, so no other image can take their ids
    while it is kept, and a hit must be made from the very same images. (Keyed by ``id``
    alone, a signature made after another was freed could reuse its id and get the other's
    weights: two signatures of one name, each without a file, scored one after the other.)
    The oldest of :data:`_PLAN_CACHE_SIZE` entries makes room for a new one.
    """
    weights = tuple(s.weights for s in signatures)
    full = (key, tuple(id(w) for w in weights))
    hit = cache.get(full)
    if hit is not None and all(a is b for a, b in zip(hit[0], weights, strict=True)):
        return hit[1]
    value = make()
    if len(cache) >= _PLAN_CACHE_SIZE:
        cache.pop(next(iter(cache)))
    cache[full] = (weights, value)
    return value


def signature_box(sig: Signature) -> np.ndarray:
    """World bounding box (:func:`world_box`) of a signature's pattern voxels (cached).

    Parameters
    ----------
    sig : Signature
        Its non-zero, finite weights are the pattern.

    Returns
    -------
    numpy.ndarray, shape (2, 3)
    """
    return _cached(_BOX_CACHE, [sig], (sig.name, sig.sha256), lambda: _pattern_box(sig))


def _pattern_box(sig: Signature) -> np.ndarray:
    w = np.asarray(sig.weights.dataobj)
    ijk = np.argwhere(np.isfinite(w) & (w != 0)).astype(float)
    return world_box(w.shape, sig.weights.affine, ijk)


def build_plan(signatures, columns, col_ids, shape, affine) -> Plan:
    """Stack the columns' weights on the union of their pattern voxels (cached).

    Where a signature's grid differs from ``shape``/``affine``, its weights are resampled
    to it (linear, NaN->0) column by column, so region columns still add up to the whole.
    The last few plans are cached (keyed by the signatures, the columns and the grid).

    Parameters
    ----------
    signatures : sequence of Signature
        The signatures the columns refer to.
    columns : sequence of tuple
        All columns (:func:`signature_columns`).
    col_ids : sequence of int
        The columns (indices into ``columns``) to stack.
    shape : sequence of int
        Target grid shape.
    affine : numpy.ndarray, shape (4, 4)
        Target grid affine.

    Returns
    -------
    Plan
        Weights of the columns on the union of their pattern voxels on that grid.
    """
    key = (tuple((s.name, s.sha256) for s in signatures),
           tuple(columns[c] for c in col_ids), grid_key(shape, affine))
    return _cached(_PLAN_CACHE, signatures, key,
                   lambda: _stack(signatures, columns, col_ids, shape, affine))


def _stack(signatures, columns, col_ids, shape, affine) -> Plan:
    """Make the :class:`Plan` of :func:`build_plan` anew."""
    sparse = [_column_sparse(signatures[columns[c][0]], columns[c][2], shape, affine)
              for c in col_ids]
    union = np.unique(np.concatenate([nz for nz, _ in sparse]))
    W = np.zeros((union.size, len(col_ids)))
    for j, (nz, vals) in enumerate(sparse):
        W[np.searchsorted(union, nz), j] = vals
    return Plan(shape=tuple(shape), affine=np.asarray(affine), idx=union,
                cols=np.asarray(col_ids), W=W, P=(W != 0).astype(np.float64))
