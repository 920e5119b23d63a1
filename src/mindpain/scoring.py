"""Signature responses of contrast maps (CANlab semantics), many maps x many signatures.

The rules (``STUDY.md``, CANlab ``apply_mask(..., 'pattern_expression')``):

* **missing data, image by image**: a voxel where the *image* is NaN or exactly 0 has no
  data in that image and enters nothing for that image;
* **the pattern**: voxels where the *weights* are 0 or NaN are outside the pattern and
  enter no sum, norm or correlation;
* ``dot``: sum over v of w_v * x_v over the pattern voxels with data;
* ``cosine``: dot / (‖x‖ · ‖w restricted to the voxels with data in that image‖),
  0 when either norm is 0;
* ``correlation``: Pearson r between x and w over the pattern voxels with data in that
  image (NaN when fewer than 2 voxels or a constant);
* **local (subregion) scores**: the same metric restricted to each region of a signature
  (``region`` column; ``"whole"`` = the whole pattern); region dot products add up to the
  whole.
* **spaces**: by default the *weights* are resampled to each map's grid (linear, NaN→0),
  as CANlab does; ``resample="data-to-weights"`` resamples each map to the weights' grid
  instead (then 0 produced by interpolation at the edge of the data counts as missing).
  Region weights are resampled region by region, so they still add up to the whole.

* **no data in the pattern**: a map whose data (non-zero, finite voxels) all lie outside a
  signature's pattern (or a region's) has no response to it: ``response`` is n/a,
  ``n_voxels`` is 0, and a one-line :class:`NoPatternDataWarning` names the maps.
* **orientation**: a NIfTI file whose sform and qform codes are both 0 has no position in
  the brain; it is refused (one-line error naming the file).

Every row is keyed by the map's BIDS entities (one column per entity found in the file
names: ``participant_id`` (sub), ``session`` (ses), ``task``, ``acq``, ``run``,
``contrast``, ``stat``, ...) and its absolute ``path``, so no two rows collide.

Implementation: maps are read by ``n_jobs`` threads (a ``.nii.gz`` file is inflated in
one call to zlib, which releases the GIL), validated, and only the union of the pattern
voxels of all requested signatures is kept; every ``chunk_size`` maps, a few matrix
products with a stacked weight matrix give all signatures, regions and metrics at once.
Memory is bounded by ``chunk_size`` whatever the number of maps.
:func:`score_to_file` (``mindpain score``) scores a batch in blocks of
:data:`RESUME_BLOCK` maps, keeps each finished block in a hidden folder beside the output
and skips it on a re-run, so an interrupted batch resumes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import threading
import warnings
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.config import worker_count
from mindpain.dataset import bids_entities
from mindpain.errors import MindpainError
from mindpain.images import resample_like
from mindpain.io import sha256
from mindpain.signatures import Signature, get_signature
from mindpain.vocabulary import METRICS

#: Resampling directions: weights to each map's grid (CANlab, default) or maps to weights.
RESAMPLE_DIRECTIONS = ("weights-to-data", "data-to-weights")
#: Fixed columns of the long table returned by :func:`score_maps`; one column per BIDS
#: entity found in the maps' file names (:func:`entity_columns`) follows ``session``.
COLUMNS = ("participant_id", "session", "condition", "signature", "metric", "region",
           "response", "n_voxels", "map", "path")
COLUMN_DESCRIPTIONS = {
    "participant_id": "BIDS participant (sub-<label>) parsed from the map's file name; for a "
                      "file without BIDS entities, the file name without extension",
    "session": "BIDS session label (ses-<label>) from the file name; n/a if none",
    "condition": "contrast-<label> (else condition-/desc-) entity of the file name; n/a if none",
    "signature": "signature name (see Settings.signatures: label, is_surrogate, sha256)",
    "metric": "dot (sum of w*x), cosine (dot / (|x| |w on the image's non-missing voxels|)) "
              "or correlation (Pearson r), CANlab semantics",
    "region": "'whole' for the whole pattern, else the signature subregion (local score)",
    "response": "signature response of the map, written at full double precision "
                "(round-trip exact); n/a when n_voxels is 0",
    "n_voxels": "pattern voxels (of the signature, or of the region) with data in the map "
                "(finite, non-zero); 0 = the map has no data there, so no response",
    "map": "file name of the scored map",
    "path": "absolute path of the scored map (n/a for an in-memory image)",
}
WHOLE = "whole"
DEFAULT_CHUNK = 64
#: Maps per block kept for resuming a batch (:func:`score_to_file`).
RESUME_BLOCK = 512
#: BIDS entity order (specification, appendix "Entities"), then statistical-map entities.
BIDS_ENTITY_ORDER = ("sub", "ses", "sample", "task", "tracksys", "acq", "nuc", "voi", "ce",
                     "trc", "stain", "rec", "dir", "run", "mod", "echo", "flip", "inv", "mt",
                     "part", "proc", "hemi", "space", "split", "recording", "chunk", "seg",
                     "res", "den", "label", "desc", "contrast", "stat")
_ENTITY_COLUMN = {"sub": "participant_id", "ses": "session"}
_CONDITION_ENTITIES = ("contrast", "condition", "desc")
_MAP_SUFFIXES = (".nii.gz", ".nii", ".img", ".hdr")
_GRID_DECIMALS = 5


class ResamplingWarning(UserWarning):
    """A map's grid differs from a signature's grid, so one of them was resampled."""


class NoPatternDataWarning(UserWarning):
    """Maps with no data inside a signature's pattern (response n/a, n_voxels 0)."""


class BadMapsError(MindpainError):
    """Several bad maps in one batch: a header line, then one line per bad file.

    Attributes
    ----------
    errors : list of str
        One message per bad file, each naming the file.
    """

    def __init__(self, errors: Sequence[str], n_maps: int,
                 outcome: str = "nothing was scored or written"):
        self.path = None
        self.errors = list(errors)
        head = f"{len(errors)} of {n_maps} maps are bad; {outcome}:"
        Exception.__init__(self, "\n".join([head, *self.errors]))


# --------------------------------------------------------------------------- file names

def map_stem(path) -> str:
    """Return a map's file name without its NIfTI extension."""
    name = os.path.basename(os.fspath(path))
    for suffix in _MAP_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def parse_entities(path) -> dict:
    """Return ``participant_id, session, condition`` parsed from a map's BIDS file name.

    Examples
    --------
    >>> parse_entities("sub-01_ses-pre_task-heat_contrast-hotVsWarm_stat-effect_statmap.nii.gz")
    {'participant_id': 'sub-01', 'session': 'pre', 'condition': 'hotVsWarm'}
    >>> parse_entities("contrast_pain_01.nii.gz")
    {'participant_id': 'contrast_pain_01', 'session': None, 'condition': None}
    """
    stem = map_stem(path)
    return _summary(stem, bids_entities(stem))


def _summary(stem: str, ents: dict) -> dict:
    condition = next((ents[k] for k in _CONDITION_ENTITIES if k in ents), None)
    pid = f"sub-{ents['sub']}" if "sub" in ents else stem
    return {"participant_id": pid, "session": ents.get("ses"), "condition": condition}


def entity_columns(maps) -> list[str]:
    """Entity columns of a scores table: every BIDS entity in the maps' file names.

    ``sub`` and ``ses`` are ``participant_id`` and ``session`` (always present); the others
    keep their key (``task``, ``run``, ``contrast``, ``stat``, ...), in BIDS order, then
    unknown keys alphabetically. A key that clashes with a fixed column gets ``entity_``.

    Examples
    --------
    >>> entity_columns(["sub-01_ses-pre_task-heat_run-2_contrast-hot_stat-z_statmap.nii.gz"])
    ['participant_id', 'session', 'task', 'run', 'contrast', 'stat']
    """
    keys: set = set()
    for m in maps:
        if not isinstance(m, nib.spatialimages.SpatialImage):
            keys.update(bids_entities(map_stem(m)))
    rank = {k: i for i, k in enumerate(BIDS_ENTITY_ORDER)}
    extra = sorted(keys - {"sub", "ses"}, key=lambda k: (rank.get(k, len(rank)), k))
    return ["participant_id", "session", *[_entity_column(k) for k in extra]]


def _entity_column(key: str) -> str:
    return _ENTITY_COLUMN.get(key, f"entity_{key}" if key in COLUMNS else key)


def _map_key(item, label: str, columns: Sequence[str]) -> dict:
    """Entity values (``columns``), ``condition``, ``map`` and ``path`` of one map."""
    if isinstance(item, nib.spatialimages.SpatialImage):
        return {**dict.fromkeys(columns), "participant_id": label, "condition": None,
                "map": label, "path": None}
    stem = map_stem(label)
    ents = bids_entities(stem)
    row = dict.fromkeys(columns)
    row.update({_entity_column(k): v for k, v in ents.items() if _entity_column(k) in row})
    row.update(_summary(stem, ents))
    row.update({"map": os.path.basename(label), "path": os.path.abspath(label)})
    return row


# --------------------------------------------------------------------------- reading maps

def _grid_key(shape, affine) -> tuple:
    affine = np.asarray(affine, dtype=np.float64)
    return _grid_key_cached(tuple(int(n) for n in shape[:3]), affine.tobytes())


@lru_cache(maxsize=256)
def _grid_key_cached(shape: tuple, affine: bytes) -> tuple:
    return shape, tuple(np.round(np.frombuffer(affine), _GRID_DECIMALS).ravel())


def read_map(path_or_img, name=None):
    """Read one 3-D contrast map and check it; return ``(data, affine)``.

    A 4-D image with a single volume is squeezed to 3-D. Raises a one-line
    :class:`~mindpain.errors.MindpainError` naming the file if it is missing, corrupt or
    truncated, not 3-D, or has no data (all NaN / all 0).
    """
    label = name if name is not None else (
        path_or_img if not isinstance(path_or_img, nib.spatialimages.SpatialImage) else "image")
    if isinstance(path_or_img, nib.spatialimages.SpatialImage):
        img = path_or_img
    else:
        path = Path(path_or_img)
        try:
            img = _load_image(path)
        except (FileNotFoundError, NotADirectoryError):
            raise MindpainError("file not found; expected a 3-D NIfTI contrast map",
                                label) from None
        except IsADirectoryError:
            raise MindpainError("is a folder; expected a 3-D NIfTI contrast map",
                                label) from None
        except Exception as err:  # nibabel and zlib raise many types for bad files
            raise MindpainError(f"cannot be read as NIfTI ({type(err).__name__}: {err}); the "
                                "file is truncated, corrupt or not NIfTI; expected a 3-D NIfTI "
                                "contrast map", label) from None
        if not img.oriented:
            raise MindpainError("has no orientation in its header (sform and qform codes are "
                                "both 0), so where its voxels lie in the brain is unknown; "
                                "expected a map in MNI space (set its sform, e.g. with "
                                "nibabel's set_sform(affine, code=4))", label)
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        what = f"{shape[3]} volumes" if len(shape) == 4 else f"shape {shape}"
        raise MindpainError(f"is {len(img.shape)}-D with {what}; expected one 3-D map "
                            "(split the volumes first)", label)
    try:
        data = np.asarray(img.dataobj)
    except Exception as err:  # zlib.error, EOFError, OSError for truncated/corrupt data
        raise MindpainError(f"image data cannot be read ({type(err).__name__}: {err}); the "
                            "file is truncated or corrupt", label) from None
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise MindpainError(f"has data type {data.dtype}; expected real numbers", label)
    return data.reshape(shape), img.affine


def _gunzip(raw: bytes) -> bytes:
    """Inflate a whole gzip file in one zlib call (GIL released) into a buffer of its size.

    The gzip trailer gives the inflated size (mod 2**32); a file whose output does not
    have that size (several gzip members, > 4 GiB) is inflated member by member.
    """
    size = int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else 0
    if size:
        out = zlib.decompress(raw, 31, size)
        if len(out) == size:
            return out
    parts = []
    while raw:
        inflater = zlib.decompressobj(31)
        parts.append(inflater.decompress(raw))
        if not inflater.eof:
            raise EOFError("the gzip stream ends early (truncated file)")
        raw = inflater.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass
class _Image:
    """What :func:`read_map` needs of an image read without nibabel's proxy machinery."""

    shape: tuple
    oriented: bool
    affine: np.ndarray
    dataobj: np.ndarray


@lru_cache(maxsize=1024)
def _header_info(block: bytes) -> tuple:
    """Shape, dtype, data offset, scaling, affine and orientation of a NIfTI header.

    Cached by the header's bytes: maps written by one program often share their header,
    so a batch parses each distinct header once (nibabel, without its field checks).
    """
    hdr = (nib.Nifti1Header if len(block) == 348 else nib.Nifti2Header)(block, check=False)
    affine = hdr.get_best_affine()
    affine.setflags(write=False)
    slope, inter = hdr.get_slope_inter()
    return (tuple(int(n) for n in hdr.get_data_shape()), hdr.get_data_dtype(),
            int(hdr.get_data_offset()), slope, inter, affine,
            bool(hdr["sform_code"] or hdr["qform_code"]))


def _load_image(path: Path):
    """Read a map: a single-file ``.nii`` / ``.nii.gz`` directly, anything else by nibabel.

    nibabel streams gzip through Python in small blocks and checks the header field by
    field; here the whole file is inflated with one zlib call (which releases the GIL, so
    threads overlap) and the header is parsed by nibabel without its checks, the data
    viewed in place (scaled by ``scl_slope``/``scl_inter`` like nibabel).
    """
    name = path.name
    if not name.endswith((".nii", ".nii.gz")):
        return _from_nibabel(nib.load(path))
    raw = path.read_bytes()
    buf = _gunzip(raw) if name.endswith(".gz") else raw
    if buf[344:348] == b"n+1\0":
        info = _header_info(bytes(buf[:348]))
    elif buf[4:8] == b"n+2\0":
        info = _header_info(bytes(buf[:540]))
    else:
        return _from_nibabel(nib.load(path))  # not a single-file NIfTI: nibabel says what
    shape, dtype, offset, slope, inter, affine, oriented = info
    count = math.prod(shape)
    if offset + count * dtype.itemsize > len(buf):
        raise EOFError(f"{len(buf) - offset} bytes of data where the header needs "
                       f"{count * dtype.itemsize} (truncated file)")
    data = np.frombuffer(buf, dtype, count, offset).reshape(shape, order="F")
    if slope is not None and (slope != 1 or (inter or 0) != 0):
        data = data * np.float64(slope) + np.float64(inter or 0)
    return _Image(shape=shape, oriented=oriented, affine=affine, dataobj=data)


def _from_nibabel(img):
    hdr = img.header
    oriented = not isinstance(hdr, nib.Nifti1Header) or bool(hdr["sform_code"]
                                                             or hdr["qform_code"])
    return _Image(shape=img.shape, oriented=oriented, affine=img.affine, dataobj=img.dataobj)


def _has_data(data: np.ndarray) -> bool:
    return bool(np.any(np.isfinite(data) & (data != 0)))


# --------------------------------------------------------------------------- plans

@dataclass
class _Plan:
    """Stacked weights of all (signature, region) columns on one grid."""

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


def _columns(signatures: Sequence[Signature], subregions: bool) -> list[tuple[int, str, int]]:
    """Global columns: ``(signature index, region name, label or 0 for whole)``."""
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
    w = np.nan_to_num(np.asarray(sig.weights.dataobj, dtype=np.float64).reshape(-1),
                      nan=0.0, posinf=0.0, neginf=0.0)
    if label:
        w = np.where(np.asarray(sig.labels.dataobj).reshape(-1) == label, w, 0.0)
    if not _same_grid(sig.weights, shape, affine):
        # linear resampling is linear: region columns resampled one by one still add up
        w = resample_like(nib.Nifti1Image(w.reshape(sig.weights.shape[:3]), sig.weights.affine),
                          shape, affine).reshape(-1)
    nz = np.flatnonzero(w)
    return nz, w[nz]


def _world_box(shape, affine, ijk=None) -> np.ndarray:
    """World-coordinate bounding box (2 x 3) of a grid or of some voxels of it."""
    if ijk is None:
        ijk = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                        for k in (0, shape[2] - 1)], float)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    vox = np.abs(affine[:3, :3]).sum(0) / 2  # half a voxel of margin
    return np.stack([xyz.min(0) - vox, xyz.max(0) + vox])


def _overlaps(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all(a[0] <= b[1]) and np.all(b[0] <= a[1]))


_BOX_CACHE: dict = {}


def _signature_box(sig: Signature) -> np.ndarray:
    key = (sig.name, sig.sha256, id(sig.weights))
    if key not in _BOX_CACHE:
        _BOX_CACHE.clear() if len(_BOX_CACHE) > _PLAN_CACHE_SIZE else None
        _BOX_CACHE[key] = _pattern_box(sig)
    return _BOX_CACHE[key]


def _pattern_box(sig: Signature) -> np.ndarray:
    w = np.asarray(sig.weights.dataobj)
    ijk = np.argwhere(np.isfinite(w) & (w != 0)).astype(float)
    return _world_box(w.shape, sig.weights.affine, ijk)


_PLAN_CACHE: dict = {}
_PLAN_CACHE_SIZE = 8


def _build_plan(signatures, columns, col_ids, shape, affine) -> _Plan:
    """Stack the columns' weights on the union of their pattern voxels (cached)."""
    key = (tuple((s.name, s.sha256, id(s.weights)) for s in signatures),
           tuple(columns[c] for c in col_ids), _grid_key(shape, affine))
    if key in _PLAN_CACHE:
        return _PLAN_CACHE[key]
    sparse = [_column_sparse(signatures[columns[c][0]], columns[c][2], shape, affine)
              for c in col_ids]
    union = np.unique(np.concatenate([nz for nz, _ in sparse]))
    W = np.zeros((union.size, len(col_ids)))
    for j, (nz, vals) in enumerate(sparse):
        W[np.searchsorted(union, nz), j] = vals
    plan = _Plan(shape=tuple(shape), affine=np.asarray(affine), idx=union,
                 cols=np.asarray(col_ids), W=W, P=(W != 0).astype(np.float64))
    if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
        _PLAN_CACHE.pop(next(iter(_PLAN_CACHE)))
    _PLAN_CACHE[key] = plan
    return plan


# --------------------------------------------------------------------------- metrics

def _chunk_metrics(X: np.ndarray, M: np.ndarray, plan: _Plan, metrics, n=None) -> dict:
    """All metrics for a chunk: X (k x v) with missing set to 0, M (k x v) 1 = has data.

    ``n`` (k x columns) is ``M @ plan.P``, the pattern voxels with data, if already known.
    """
    out = {}
    sxw = X @ plan.W
    if "dot" in metrics:
        out["dot"] = sxw
    if "cosine" in metrics or "correlation" in metrics:
        sxx = (X * X) @ plan.P
        sww = M @ plan.W2
    if "cosine" in metrics:
        den = np.sqrt(sxx * sww)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cosine"] = np.where(den > 0, sxw / np.where(den > 0, den, 1.0), 0.0)
    if "correlation" in metrics:
        n = M @ plan.P if n is None else n
        sx = X @ plan.P
        sw = M @ plan.W
        num = n * sxw - sx * sw
        var = (n * sxx - sx * sx) * (n * sww - sw * sw)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = num / np.sqrt(var)
        out["correlation"] = np.where((n >= 2) & (var > 0), np.clip(r, -1.0, 1.0), np.nan)
    return out


def pattern_response(data, weights, metric: str = "dot") -> float:
    """Response of one 3-D array to one weight array on the same grid (CANlab semantics).

    Parameters
    ----------
    data, weights : array-like
        Same shape. NaN or 0 in ``data`` = missing; 0 or NaN in ``weights`` = outside.
    metric : {"dot", "cosine", "correlation"}

    Examples
    --------
    >>> pattern_response([1.0, 0.0, 2.0, np.nan], [1.0, 5.0, 0.5, 3.0])
    2.0
    >>> round(pattern_response([1.0, 2.0], [2.0, 4.0], "cosine"), 6)
    1.0
    """
    _check_metrics([metric])
    x = np.asarray(data, dtype=np.float64).ravel()
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64).ravel(), nan=0.0)
    if x.shape != w.shape:
        raise MindpainError(f"data has {x.size} voxels but weights {w.size}; expected the same "
                            "grid")
    idx = np.flatnonzero(w)
    plan = _Plan(shape=x.shape, affine=np.eye(4), idx=idx, cols=np.array([0]),
                 W=w[idx, None], P=np.ones((idx.size, 1)))
    X, M = _missing_to_zero(x[idx][None, :])
    return float(_chunk_metrics(X, M, plan, (metric,))[metric][0, 0])


def _take(data: np.ndarray, plan: _Plan) -> np.ndarray:
    """Pattern voxels of a 3-D array, without copying it (nibabel arrays are F-ordered)."""
    if data.flags.f_contiguous and not data.flags.c_contiguous:
        if plan.idx_f is None:
            plan.idx_f = np.ravel_multi_index(np.unravel_index(plan.idx, plan.shape),
                                              plan.shape, order="F")
        return data.ravel(order="F")[plan.idx_f]
    return data.reshape(-1)[plan.idx]


def _missing_to_zero(x: np.ndarray):
    has = np.isfinite(x) & (x != 0)
    return np.where(has, x, 0.0), has.astype(np.float64)


def _check_metrics(metrics) -> tuple:
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise MindpainError(f"unknown metric {', '.join(map(repr, bad)) or '(none)'}; expected "
                            f"one or more of {', '.join(METRICS)}")
    return metrics


# --------------------------------------------------------------------------- engine

def _describe_grid(shape, affine) -> str:
    """``91x109x91, 2x2x2 mm, origin (90,-126,-72) mm``: enough to tell two grids apart."""
    zooms = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(0))

    def fmt(values):
        return ",".join(f"{v:g}" for v in np.round(values, 3))

    dims = "x".join(str(int(n)) for n in shape[:3])
    return (f"{dims}, {fmt(zooms).replace(',', 'x')} mm, origin ({fmt(np.asarray(affine)[:3, 3])})"
            " mm")


class _Engine:
    """Reads maps, builds plans lazily per grid, scores chunk by chunk."""

    def __init__(self, signatures, metrics, subregions, resample, chunk_size):
        self.signatures = signatures
        self.metrics = metrics
        self.resample = resample
        self.chunk_size = chunk_size
        self.columns = _columns(signatures, subregions)
        self.plans: dict = {}
        self.sig_boxes = [_signature_box(s) for s in signatures]
        self.warned: set = set()
        self.grids_ok: set = set()
        self.lock = threading.Lock()
        n_cols = len(self.columns)
        self.n_cols = n_cols
        self.buffers: dict = {}  # plan key -> list of (map index, x)
        if resample == "data-to-weights":
            by_grid: dict = {}
            for c, (k, _, _) in enumerate(self.columns):
                sig = self.signatures[k]
                key = _grid_key(sig.weights.shape, sig.weights.affine)
                by_grid.setdefault(key, (sig.weights.shape, sig.weights.affine, []))[2].append(c)
            for key, (shape, affine, col_ids) in by_grid.items():
                self.plans[key] = _build_plan(signatures, self.columns, col_ids, shape, affine)

    def _check_overlap(self, label, shape, affine):
        box = _world_box(shape, affine)
        for sig, sbox in zip(self.signatures, self.sig_boxes, strict=True):
            if not _overlaps(box, sbox):
                raise MindpainError(
                    f"field of view of the map (x,y,z {np.round(box[0], 1).tolist()} to "
                    f"{np.round(box[1], 1).tolist()} mm) does not overlap the weights of "
                    f"signature {sig.name!r}; expected a map in the signature's space (MNI)",
                    label)

    def _warn_grid(self, label, shape, affine):
        key = _grid_key(shape, affine)
        for sig in self.signatures:
            wkey = _grid_key(sig.weights.shape, sig.weights.affine)
            if wkey != key and (key, wkey) not in self.warned:
                self.warned.add((key, wkey))
                what = ("weights of %r resampled to the map grid" if self.resample ==
                        "weights-to-data" else "map resampled to the grid of %r") % sig.name
                warnings.warn(f"{label}: grid {_describe_grid(shape, affine)} differs from "
                              f"signature {sig.name!r} grid "
                              f"{_describe_grid(sig.weights.shape, sig.weights.affine)}; "
                              f"{what} (linear, NaN->0)", ResamplingWarning, stacklevel=4)

    def extract(self, i, item, label):
        """Read map ``i``; return ``[(plan key, X row, M row)]`` (raises MindpainError)."""
        data, affine = read_map(item, label)
        shape = data.shape
        key = _grid_key(shape, affine)
        if key not in self.grids_ok:  # checks that depend on the grid only: once per grid
            self._check_overlap(label, shape, affine)
            with self.lock:
                self._warn_grid(label, shape, affine)
                if self.resample == "weights-to-data" and key not in self.plans:
                    self.plans[key] = _build_plan(self.signatures, self.columns,
                                                  list(range(self.n_cols)), shape, affine)
                self.grids_ok.add(key)
        rows = []
        targets = [key] if self.resample == "weights-to-data" else list(self.plans)
        for pkey in targets:
            plan = self.plans[pkey]
            if pkey == key:
                x = _take(data, plan)
            else:
                img = nib.Nifti1Image(np.asarray(data, dtype=np.float64), affine)
                x = resample_like(img, plan.shape, plan.affine).reshape(-1)[plan.idx]
            x = x.astype(np.float64)
            if np.isinf(x).any():
                raise MindpainError("has infinite values inside the signature pattern; "
                                    "expected finite effects (NaN or 0 = missing)", label)
            X, M = _missing_to_zero(x)
            if not M.any() and not _has_data(data):
                raise MindpainError("has no data (every voxel is NaN or 0); expected a "
                                    "contrast map", label)
            rows.append((pkey, X, M))
        return rows

    def flush(self, pkey, results):
        buf = self.buffers.pop(pkey, [])
        if not buf:
            return
        plan = self.plans[pkey]
        X = np.stack([b[1] for b in buf])
        M = np.stack([b[2] for b in buf])
        n = M @ plan.P
        values = _chunk_metrics(X, M, plan, self.metrics, n)
        rows = np.array([b[0] for b in buf])
        for m, arr in values.items():
            results[np.ix_(rows, plan.cols, [self.metrics.index(m)])] = np.where(
                n > 0, arr, np.nan)[:, :, None]
        self.n_voxels[np.ix_(rows, plan.cols)] = n

    def add(self, i, rows, results):
        for pkey, X, M in rows:
            self.buffers.setdefault(pkey, []).append((i, X, M))
            if len(self.buffers[pkey]) >= self.chunk_size:
                self.flush(pkey, results)


def _as_items(maps) -> list:
    if isinstance(maps, (str, os.PathLike, nib.spatialimages.SpatialImage)):
        maps = [maps]
    return list(maps)


def _item_label(item, k) -> str:
    if isinstance(item, nib.spatialimages.SpatialImage):
        return f"image-{k + 1:03d}"
    return str(item)


def _resolve_signatures(signatures, data_dir) -> list[Signature]:
    if signatures is None:
        from mindpain.config import get_config
        from mindpain.signatures import default_signatures

        cfg = get_config() if data_dir is None else get_config(data_dir=Path(data_dir))
        sigs = default_signatures(cfg)
    else:
        sigs = [get_signature(s, data_dir) for s in
                ([signatures] if isinstance(signatures, (str, os.PathLike, Signature))
                 else signatures)]
    if not sigs:
        raise MindpainError("no signature given; expected at least one")
    names = [s.name for s in sigs]
    if len(set(names)) != len(names):
        raise MindpainError(f"signature given twice: {', '.join(names)}")
    return sigs


def _check_settings(metrics, resample) -> tuple:
    metrics = _check_metrics(metrics)
    if resample not in RESAMPLE_DIRECTIONS:
        raise MindpainError(f"unknown resampling direction {resample!r}; expected one of "
                            f"{', '.join(RESAMPLE_DIRECTIONS)}")
    return metrics


def _check_unique(items) -> None:
    seen: dict = {}
    for item in items:
        if isinstance(item, nib.spatialimages.SpatialImage):
            continue
        key = os.path.abspath(item)
        if key in seen:
            raise MindpainError("is given twice; each map must appear once (rows are keyed "
                                "by path)", item)
        seen[key] = True


def score_maps(maps, signatures=None, *, metrics=("dot",), subregions: bool = False,
               resample: str = "weights-to-data", chunk_size: int = DEFAULT_CHUNK,
               n_jobs: int = 1, progress: bool = False, data_dir=None) -> pd.DataFrame:
    """Score many contrast maps with many signatures in one pass (CANlab semantics).

    Every map is read and checked; if any map is bad, nothing is returned and one
    :class:`~mindpain.errors.MindpainError` lists every bad file, one line each.

    Parameters
    ----------
    maps : sequence of path-like or nibabel images
        3-D contrast maps (a 4-D image with one volume is accepted), each path once. BIDS
        entities in the file names fill ``participant_id``, ``session``, ``condition`` and
        one column per other entity.
    signatures : sequence of str, path-like or Signature, optional
        Registered names, NIfTI paths or :class:`~mindpain.signatures.Signature` objects.
        Default: :func:`mindpain.signatures.default_signatures`.
    metrics : str or sequence of str
        Any of ``"dot"``, ``"cosine"``, ``"correlation"``.
    subregions : bool
        Also return the local score of every region of each signature.
    resample : {"weights-to-data", "data-to-weights"}
        Which side is resampled when the grids differ (default: the weights, like CANlab).
    chunk_size : int
        Maps scored together in one matrix product (bounds memory).
    n_jobs : int
        Threads reading maps (decompression releases the GIL).
    progress : bool
        Show a progress bar (tqdm).
    data_dir : path-like, optional
        Where official signature files are looked up.

    Returns
    -------
    pandas.DataFrame
        Long table, one row per map x signature x region x metric, in map order: the
        columns :data:`COLUMNS` with the entity columns (:func:`entity_columns`) after
        ``session``.

    Warns
    -----
    ResamplingWarning
        A map's grid differs from a signature's (once per pair of grids).
    NoPatternDataWarning
        Maps with no data inside a signature's pattern (their response is n/a).

    Examples
    --------
    >>> from mindpain.surrogates import build_surrogate
    >>> img = build_surrogate("nps-surrogate").weights
    >>> table = score_maps([img], ["nps-surrogate"], metrics="cosine")
    >>> round(float(table["response"].iloc[0]), 6)
    1.0
    """
    metrics = _check_settings(metrics, resample)
    sigs = _resolve_signatures(signatures, data_dir)
    items = _as_items(maps)
    if not items:
        raise MindpainError("no map given; expected at least one contrast map")
    _check_unique(items)
    labels = [_item_label(it, k) for k, it in enumerate(items)]
    bar = _progress_bar(len(items), progress)
    try:
        table, errors = _score_block(items, labels, sigs, metrics, subregions, resample,
                                     chunk_size, n_jobs, bar, entity_columns(items))
    finally:
        bar.close()
    if len(errors) == 1:
        raise MindpainError(errors[0])
    if errors:
        raise BadMapsError(errors, len(items))
    return table


class _NoBar:
    def update(self, n=1):
        pass

    def close(self):
        pass


def _progress_bar(total: int, show: bool):
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="scoring maps", unit="map")


def _score_block(items, labels, sigs, metrics, subregions, resample, chunk_size, n_jobs, bar,
                 ent_cols):
    """Score ``items``; return ``(table or None, list of one-line errors)``."""
    chunk_size = max(1, int(chunk_size))
    engine = _Engine(sigs, metrics, subregions, resample, chunk_size)
    results = np.full((len(items), engine.n_cols, len(metrics)), np.nan)
    engine.n_voxels = np.zeros((len(items), engine.n_cols))
    errors: list[str] = []

    def work(i):
        try:
            return i, engine.extract(i, items[i], labels[i]), None
        except MindpainError as err:
            return i, None, str(err)

    if n_jobs and n_jobs > 1:
        with ThreadPoolExecutor(max_workers=int(n_jobs)) as pool:
            for start in range(0, len(items), chunk_size):
                for i, rows, err in pool.map(work, range(start, min(start + chunk_size,
                                                                    len(items)))):
                    _collect(engine, i, rows, err, results, errors, bar)
    else:
        for i in range(len(items)):
            _collect(engine, *work(i), results, errors, bar)
    if errors:
        return None, errors
    for pkey in list(engine.buffers):
        engine.flush(pkey, results)
    _warn_no_data(labels, sigs, engine.columns, engine.n_voxels)
    meta = [_map_key(it, lab, ent_cols) for it, lab in zip(items, labels, strict=True)]
    return _long_table(meta, ent_cols, sigs, engine.columns, metrics, results,
                       engine.n_voxels), errors


def _collect(engine, i, rows, err, results, errors, bar):
    if err is not None:
        errors.append(err)
    elif not errors:  # after the first error, only validate (nothing will be returned)
        engine.add(i, rows, results)
    bar.update(1)


def _warn_no_data(labels, sigs, columns, n_voxels) -> None:
    """One warning line per signature whose pattern holds no data of some maps."""
    for c, (k, region, _) in enumerate(columns):
        if region != WHOLE:
            continue
        empty = np.flatnonzero(n_voxels[:, c] == 0)
        if empty.size:
            first = ", ".join(labels[i] for i in empty[:3]) + (", ..." if empty.size > 3 else "")
            warnings.warn(f"{empty.size} map(s) have no data inside the pattern of signature "
                          f"{sigs[k].name!r} (their non-zero voxels lie outside its weights): "
                          f"{first}; their response is n/a (n_voxels 0)",
                          NoPatternDataWarning, stacklevel=4)


def _long_table(meta, ent_cols, sigs, columns, metrics, results, n_voxels) -> pd.DataFrame:
    n_maps, n_cols, n_met = results.shape
    map_i = np.repeat(np.arange(n_maps), n_cols * n_met)
    col_i = np.tile(np.repeat(np.arange(n_cols), n_met), n_maps)
    met_i = np.tile(np.arange(n_met), n_maps * n_cols)

    def per_map(key):
        return np.asarray([m[key] for m in meta], dtype=object)[map_i]

    data = {c: per_map(c) for c in ent_cols}
    data.update({
        "condition": per_map("condition"),
        "signature": np.asarray([sigs[k].name for k, _, _ in columns], dtype=object)[col_i],
        "metric": np.asarray(metrics, dtype=object)[met_i],
        "region": np.asarray([r for _, r, _ in columns], dtype=object)[col_i],
        "response": results.reshape(-1),
        "n_voxels": np.repeat(n_voxels.astype(np.int64), n_met, axis=1).reshape(-1),
        "map": per_map("map"),
        "path": per_map("path"),
    })
    order = [*ent_cols, *[c for c in COLUMNS if c not in ent_cols]]
    return pd.DataFrame(data)[order]


def score_image(img, signature, metric: str = "dot", **kwargs) -> float:
    """Whole-pattern response of one map to one signature.

    Examples
    --------
    >>> from mindpain.surrogates import build_surrogate
    >>> w = build_surrogate("siips1-surrogate").weights
    >>> score_image(w, "siips1-surrogate", "correlation")
    1.0
    """
    table = score_maps([img], [signature], metrics=(metric,), **kwargs)
    return float(table["response"].iloc[0])


# --------------------------------------------------------------------------- outputs

#: Marker of a scores sidecar written by this package (``GeneratedBy``, BIDS style).
GENERATED_BY = {"Name": "mindpain", "Command": "score"}


def settings_sidecar(signatures: Iterable[Signature], metrics, subregions, resample,
                     maps, columns: Sequence[str] = ()) -> dict:
    """JSON sidecar describing the columns and settings of a scores table.

    ``columns`` are the table's entity columns (:func:`entity_columns`) to describe.
    """
    from mindpain import __version__

    described = dict(COLUMN_DESCRIPTIONS)
    for col in columns:
        described.setdefault(col, f"BIDS entity {col.removeprefix('entity_')}-<label> of the "
                                  "map's file name; n/a if none")
    return {
        **{c: {"Description": d} for c, d in described.items()},
        "GeneratedBy": [{**GENERATED_BY, "Version": __version__}],
        "Settings": {
            "signatures": [s.describe() for s in signatures],
            "metrics": list(metrics),
            "subregions": bool(subregions),
            "resampling": resample,
            "missing_data": "per image, voxels where the image is NaN or exactly 0; voxels "
                            "where the weights are 0/NaN are outside the pattern; no data "
                            "in the pattern (n_voxels 0) = response n/a",
            "float_format": "shortest round-trip repr of float64 (full precision)",
            "n_maps": len(maps),
            "maps": [str(m) for m in maps],
            "mindpain_version": __version__,
        },
    }


def is_scores_sidecar(path) -> bool:
    """Return True if ``path`` is a JSON sidecar written by ``mindpain score``."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    if not isinstance(record, dict):
        return False
    gen = record.get("GeneratedBy")
    if isinstance(gen, list) and any(isinstance(g, dict) and g.get("Name") == "mindpain"
                                     and g.get("Command") == "score" for g in gen):
        return True
    settings = record.get("Settings")  # sidecars of mindpain 0.1 before the marker
    return isinstance(settings, dict) and "mindpain_version" in settings and "metrics" in settings


def check_output(out) -> Path:
    """Check, before any scoring, that ``out`` (a ``.tsv``) and its sidecar can be written.

    Refuses (one-line :class:`~mindpain.errors.MindpainError`) a name not ending in
    ``.tsv``, a folder, a parent that is a file or not writable, and an existing table or
    JSON that ``mindpain score`` did not write (never replaced).
    """
    out = Path(out)
    if out.suffix != ".tsv":
        raise MindpainError("output must end in .tsv (a JSON sidecar is written beside it)",
                            out)
    sidecar = out.with_suffix(".json")
    for path in (out, sidecar):
        if path.is_dir():
            raise MindpainError("is a folder; expected a file name ending in .tsv for --out",
                                path)
    ours = sidecar.is_file() and is_scores_sidecar(sidecar)
    if sidecar.exists() and not ours:
        raise MindpainError("exists and was not written by mindpain score (no mindpain "
                            "marker); it would be replaced by the sidecar of the table: move "
                            "it or choose another --out", sidecar)
    if out.exists() and not ours:
        raise MindpainError("exists and is not a scores table written by mindpain score (no "
                            "mindpain sidecar beside it): move it or choose another --out", out)
    parent = out.parent
    while not parent.exists():
        if parent.is_symlink():
            raise MindpainError("is a broken symbolic link; expected a folder", parent)
        parent = parent.parent
    if not parent.is_dir():
        raise MindpainError("is a file, not a folder; --out must be inside a folder", parent)
    _probe_writable(parent)
    return out


def _probe_writable(folder: Path) -> None:
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".mindpain-probe-", dir=folder)
    except OSError as err:
        raise MindpainError(f"cannot write here ({err.strerror or err}); choose a writable "
                            "folder for --out", folder) from None
    os.close(fd)
    os.unlink(tmp)


def write_scores(table: pd.DataFrame, out, sidecar: dict) -> Path:
    """Write ``table`` as TSV and ``sidecar`` as JSON next to it, both or neither."""
    from mindpain.io import atomic_path, write_json, write_tsv

    out = check_output(out)
    with atomic_path(out) as tmp_tsv, atomic_path(out.with_suffix(".json")) as tmp_json:
        write_tsv(tmp_tsv, table)
        write_json(tmp_json, sidecar)
    return out


# --------------------------------------------------------------------------- batches



def _stats(paths) -> list:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([st.st_size, st.st_mtime_ns])
        except OSError:
            out.append(None)
    return out


class _Partial:
    """Blocks of a batch kept beside the output, so that a re-run resumes.

    Folder ``.<out name>.mindpain-score-partial`` beside ``out``; ``batch.json`` holds the
    key of the settings (signatures, metrics, columns, ...); ``block-NNNNNN.tsv`` one
    finished block and ``block-NNNNNN.json`` its maps, their size and mtime, and the
    sha256 of the TSV. A block is reused only when all of these match.
    """

    MARKER = "batch.json"

    def __init__(self, out: Path, key: str):
        self.dir = out.parent / f".{out.name}.mindpain-score-partial"
        self.key = key

    def _ours(self) -> bool:
        try:
            return json.loads((self.dir / self.MARKER).read_text()).get("tool") == \
                "mindpain score"
        except (OSError, ValueError, AttributeError):
            return False

    def open(self) -> None:
        """Check the folder is ours; clear it when it holds another batch's blocks."""
        if self.dir.exists() or self.dir.is_symlink():
            if not self.dir.is_dir() or self.dir.is_symlink() or not self._ours():
                raise MindpainError("is in the way: it has the name of mindpain score's "
                                    "resume folder but was not written by it; move it away",
                                    self.dir)
            record = json.loads((self.dir / self.MARKER).read_text())
            if record.get("key") != self.key:
                self.remove()

    def _files(self):
        return [p for p in self.dir.iterdir()
                if p.name == self.MARKER or (p.name.startswith("block-")
                                             and p.suffix in (".tsv", ".json"))]

    def _clear(self) -> None:
        for p in self._files():
            p.unlink()

    def block(self, k: int) -> tuple[Path, Path]:
        return self.dir / f"block-{k:06d}.tsv", self.dir / f"block-{k:06d}.json"

    def done(self, k: int, paths, stats) -> bool:
        tsv, meta = self.block(k)
        try:
            record = json.loads(meta.read_text())
            return (record["maps"] == paths and record["stats"] == stats
                    and record["sha256"] == sha256(tsv))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def save(self, k: int, table: pd.DataFrame, paths, stats) -> None:
        from mindpain.io import write_json, write_tsv

        if not (self.dir / self.MARKER).is_file():
            self.dir.mkdir(parents=True, exist_ok=True)
            write_json(self.dir / self.MARKER, {"tool": "mindpain score", "key": self.key})
        tsv, meta = self.block(k)
        write_tsv(tsv, table)
        write_json(meta, {"maps": paths, "stats": stats, "sha256": sha256(tsv)})

    def remove(self) -> None:
        if not self.dir.is_dir():
            return
        self._clear()
        try:
            self.dir.rmdir()
        except OSError:  # something else was put inside: leave it
            pass


def _batch_key(sigs, metrics, subregions, resample, ent_cols, chunk_size) -> str:
    from mindpain import __version__

    record = {"signatures": [(s.name, s.sha256) for s in sigs], "metrics": list(metrics),
              "subregions": bool(subregions), "resample": resample, "columns": list(ent_cols),
              "block": RESUME_BLOCK, "chunk": int(chunk_size), "version": __version__,
              "code": sha256(Path(__file__))}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def score_to_file(maps, signatures, out, *, metrics=("dot",), subregions: bool = False,
                  resample: str = "weights-to-data", n_jobs: int = 1, progress: bool = False,
                  chunk_size: int = DEFAULT_CHUNK, data_dir=None) -> Path:
    """Score a batch of map files into ``out`` (TSV) + JSON sidecar; resumable.

    The output is checked before any scoring (:func:`check_output`). Maps are scored in
    blocks of :data:`RESUME_BLOCK`; each finished block is kept in a hidden folder beside
    ``out`` (see :class:`_Partial`), so a re-run after an interruption or a bad map skips
    the finished blocks. The table and sidecar appear together at the end and the folder
    is removed. If maps are bad, every one is listed and nothing is written.

    Parameters
    ----------
    maps : sequence of path-like
        Map files, each once.
    signatures : sequence of str, path-like or Signature
        As for :func:`score_maps`.
    out : path-like
        Output table, ending in ``.tsv``.
    metrics, subregions, resample, n_jobs, progress, chunk_size, data_dir
        As for :func:`score_maps`.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    out = check_output(out)
    metrics = _check_settings(metrics, resample)
    sigs = _resolve_signatures(signatures, data_dir)
    items = [str(m) for m in _as_items(maps)]
    if not items:
        raise MindpainError("no map given; expected at least one contrast map")
    _check_unique(items)
    ent_cols = entity_columns(items)
    partial = _Partial(out, _batch_key(sigs, metrics, subregions, resample, ent_cols,
                                       chunk_size))
    partial.open()
    errors: list[str] = []
    n_blocks = -(-len(items) // RESUME_BLOCK)
    bar = _progress_bar(len(items), progress)
    try:
        for k in range(n_blocks):
            block = items[k * RESUME_BLOCK:(k + 1) * RESUME_BLOCK]
            paths = [os.path.abspath(p) for p in block]
            stats = _stats(block)
            if partial.done(k, paths, stats):
                bar.update(len(block))
                continue
            table, errs = _score_block(block, block, sigs, metrics, subregions, resample,
                                       chunk_size, n_jobs, bar, ent_cols)
            if errs:
                errors += errs
            else:  # kept even after a bad block: the re-run skips it
                partial.save(k, table, paths, stats)
    finally:
        bar.close()
    if errors:
        kept = sum(partial.block(k)[0].is_file() for k in range(n_blocks))
        if not kept:
            partial.remove()
        outcome = "nothing was written" + (
            f" (the {kept} finished block(s) of {RESUME_BLOCK} maps are kept in "
            f"{partial.dir} and skipped on the next run)" if kept else "")
        if len(errors) == 1:
            raise MindpainError(f"{errors[0]}; {outcome}")
        raise BadMapsError(errors, len(items), outcome)
    _assemble(partial, n_blocks, out, settings_sidecar(sigs, metrics, subregions, resample,
                                                       items, ent_cols))
    partial.remove()
    return out


def _assemble(partial: _Partial, n_blocks: int, out: Path, sidecar: dict) -> None:
    """Concatenate the blocks into ``out`` and write the sidecar, both or neither."""
    from mindpain.io import atomic_path, write_json

    check_output(out)
    with atomic_path(out) as tmp_tsv, atomic_path(out.with_suffix(".json")) as tmp_json:
        with open(tmp_tsv, "wb") as dst:
            for k in range(n_blocks):
                with open(partial.block(k)[0], "rb") as src:
                    if k:
                        src.readline()  # the header, written once
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        write_json(tmp_json, sidecar)


# --------------------------------------------------------------------------- command line

def read_map_list(source) -> list[str]:
    """Paths listed one per line in a file, or on standard input for ``"-"``.

    Blank lines are skipped and surrounding whitespace is removed; relative paths are
    relative to the current folder (as on the command line).
    """
    if str(source) == "-":
        lines = sys.stdin.read().splitlines()
    else:
        path = Path(source)
        if not path.is_file():
            raise MindpainError("file not found; expected a list of map paths, one per line",
                                path)
        try:
            lines = path.read_text().splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise MindpainError(f"cannot be read as text ({err}); expected a list of map "
                                "paths, one per line", path) from None
    return [line.strip() for line in lines if line.strip()]


def parse_entity_filters(pairs) -> dict[str, set[str]]:
    """``["contrast=hotVsWarm", "stat=effect,z"]`` -> ``{"contrast": {...}, "stat": {...}}``.

    Examples
    --------
    >>> parse_entity_filters(["sub=sub-01,02", "stat=effect"]) == {"sub": {"01", "02"},
    ...                                                            "stat": {"effect"}}
    True
    """
    filters: dict[str, set[str]] = {}
    for pair in pairs or ():
        key, sep, values = str(pair).partition("=")
        vals = {v.strip().removeprefix(f"{key}-") for v in values.split(",") if v.strip()}
        if not sep or not key.isalnum() or not vals or not all(v.isalnum() for v in vals):
            raise MindpainError(f"entity filter {pair!r} is not KEY=VALUE[,VALUE...] with "
                                "letters and digits (e.g. contrast=hotVsWarm stat=effect); "
                                "map paths go before --entities")
        filters.setdefault(key, set()).update(vals)
    return filters


def find_statmaps(root, entities=None, suffix: str = "statmap") -> list[Path]:
    """Statistical maps under a BIDS derivatives folder whose entities match ``entities``.

    Files ``*_<suffix>.nii[.gz]`` anywhere below ``root`` (hidden folders skipped), sorted;
    ``entities`` maps a key to its accepted values (all keys must match).

    Examples
    --------
    Illustration (needs a folder)::

        find_statmaps("derivatives/mindpain", {"contrast": {"hotVsWarm"}, "stat": {"effect"}})
    """
    root = Path(root)
    if not root.is_dir():
        raise MindpainError("is not a folder; expected a BIDS derivatives folder", root)
    entities = entities or {}
    found, other = [], 0
    ends = (f"_{suffix}.nii.gz", f"_{suffix}.nii")
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(ends) or name.startswith("."):
                continue
            ents = bids_entities(map_stem(name))
            if all(ents.get(k) in vals for k, vals in entities.items()):
                found.append(Path(folder) / name)
            else:
                other += 1
    if not found:
        want = " ".join(f"{k}={','.join(sorted(v))}" for k, v in entities.items()) or "(any)"
        raise MindpainError(f"no *_{suffix}.nii[.gz] map matches the entities {want} "
                            f"({other} other {suffix} map(s) found); check --entities", root)
    return found


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    print(f"mindpain score: warning: {text}", file=sys.stderr)


def score_cli(args) -> int:
    """Run ``mindpain score`` from parsed arguments: write TSV + JSON sidecar; return 0."""
    out = check_output(args.out)  # before anything slow
    maps = [str(m) for m in (args.maps or [])]
    if args.from_file:
        maps += read_map_list(args.from_file)
    if args.bids_derivatives:
        maps += [str(p) for p in find_statmaps(args.bids_derivatives,
                                               parse_entity_filters(args.entities),
                                               args.suffix)]
    elif args.entities:
        raise MindpainError("--entities selects maps of --bids-derivatives; give that folder")
    if not maps:
        raise MindpainError("no map given; pass map files, --from-file LIST or "
                            "--bids-derivatives DIR")
    n_jobs = (worker_count(args.n_jobs, "--n-jobs") if args.n_jobs is not None
              else worker_count(os.environ.get("MINDPAIN_N_JOBS", "1"), "MINDPAIN_N_JOBS"))
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _one_line_warning
        sigs = [get_signature(s) for s in args.signature]
        try:
            score_to_file(maps, sigs, out,
                          metrics=tuple(dict.fromkeys(args.metric or ["dot"])),
                          subregions=args.subregions, resample=args.resample, n_jobs=n_jobs,
                          progress=not args.quiet and sys.stderr.isatty())
        except OSError as err:  # disk full, folder removed or made read-only meanwhile
            raise MindpainError(f"cannot be written ({err.strerror or err}); nothing was "
                                "written (finished blocks, if any, are kept for a re-run)",
                                err.filename or out) from None
    return 0
