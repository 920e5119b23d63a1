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

Implementation: maps are read one by one, validated, and only the union of the pattern
voxels of all requested signatures is kept; every ``chunk_size`` maps, a few matrix
products with a stacked weight matrix give all signatures, regions and metrics at once.
Memory is bounded by ``chunk_size`` whatever the number of maps.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.dataset import bids_entities
from mindpain.errors import MindpainError
from mindpain.images import resample_like
from mindpain.signatures import Signature, get_signature

METRICS = ("dot", "cosine", "correlation")
#: Resampling directions: weights to each map's grid (CANlab, default) or maps to weights.
RESAMPLE_DIRECTIONS = ("weights-to-data", "data-to-weights")
#: Columns of the long table returned by :func:`score_maps`.
COLUMNS = ("participant_id", "session", "condition", "signature", "metric", "region",
           "response", "map")
COLUMN_DESCRIPTIONS = {
    "participant_id": "BIDS participant (sub-<label>) parsed from the map's file name; for a "
                      "file without BIDS entities, the file name without extension",
    "session": "BIDS session label (ses-<label>) from the file name; n/a if none",
    "condition": "contrast-<label> (else condition-/desc-) entity of the file name; n/a if none",
    "signature": "signature name (see Settings.signatures: label, is_surrogate, sha256)",
    "metric": "dot (sum of w*x), cosine (dot / (|x| |w on the image's non-missing voxels|)) "
              "or correlation (Pearson r), CANlab semantics",
    "region": "'whole' for the whole pattern, else the signature subregion (local score)",
    "response": "signature response of the map",
    "map": "file name of the scored map",
}
WHOLE = "whole"
DEFAULT_CHUNK = 64
_CONDITION_ENTITIES = ("contrast", "condition", "desc")
_MAP_SUFFIXES = (".nii.gz", ".nii", ".img", ".hdr")
_GRID_DECIMALS = 5


class ResamplingWarning(UserWarning):
    """A map's grid differs from a signature's grid, so one of them was resampled."""


class BadMapsError(MindpainError):
    """Several bad maps in one batch: a header line, then one line per bad file.

    Attributes
    ----------
    errors : list of str
        One message per bad file, each naming the file.
    """

    def __init__(self, errors: Sequence[str], n_maps: int):
        self.path = None
        self.errors = list(errors)
        head = f"{len(errors)} of {n_maps} maps are bad; nothing was scored or written:"
        Exception.__init__(self, "\n".join([head, *self.errors]))


# --------------------------------------------------------------------------- file names

def map_stem(path) -> str:
    """Return a map's file name without its NIfTI extension."""
    name = Path(path).name
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
    ents = bids_entities(stem)
    condition = next((ents[k] for k in _CONDITION_ENTITIES if k in ents), None)
    pid = f"sub-{ents['sub']}" if "sub" in ents else stem
    return {"participant_id": pid, "session": ents.get("ses"), "condition": condition}


# --------------------------------------------------------------------------- reading maps

def _grid_key(shape, affine) -> tuple:
    return tuple(int(n) for n in shape[:3]), tuple(np.round(affine, _GRID_DECIMALS).ravel())


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
        if not path.is_file():
            raise MindpainError("file not found; expected a 3-D NIfTI contrast map", label)
        try:
            img = nib.load(path)
        except Exception as err:  # nibabel raises many types for bad headers
            raise MindpainError(f"cannot be read as NIfTI ({type(err).__name__}: {err}); the "
                                "file is truncated, corrupt or not NIfTI; expected a 3-D NIfTI "
                                "contrast map", label) from None
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

def _chunk_metrics(X: np.ndarray, M: np.ndarray, plan: _Plan, metrics) -> dict:
    """All metrics for a chunk: X (k x v) with missing set to 0, M (k x v) 1 = has data."""
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
        n = M @ plan.P
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
                warnings.warn(f"{label}: grid {tuple(shape)} differs from signature "
                              f"{sig.name!r} grid {tuple(sig.weights.shape[:3])}; {what} "
                              "(linear, NaN->0)", ResamplingWarning, stacklevel=4)

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
        values = _chunk_metrics(X, M, plan, self.metrics)
        rows = np.array([b[0] for b in buf])
        for m, arr in values.items():
            results[np.ix_(rows, plan.cols, [self.metrics.index(m)])] = arr[:, :, None]

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


def score_maps(maps, signatures=None, *, metrics=("dot",), subregions: bool = False,
               resample: str = "weights-to-data", chunk_size: int = DEFAULT_CHUNK,
               n_jobs: int = 1, progress: bool = False, data_dir=None) -> pd.DataFrame:
    """Score many contrast maps with many signatures in one pass (CANlab semantics).

    Every map is read and checked; if any map is bad, nothing is returned and one
    :class:`~mindpain.errors.MindpainError` lists every bad file, one line each.

    Parameters
    ----------
    maps : sequence of path-like or nibabel images
        3-D contrast maps (a 4-D image with one volume is accepted). BIDS entities in the
        file names fill ``participant_id``, ``session`` and ``condition``.
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
        Long table with columns :data:`COLUMNS`, one row per map x signature x region x
        metric, in map order.

    Examples
    --------
    >>> from mindpain.surrogates import build_surrogate
    >>> img = build_surrogate("nps-surrogate").weights
    >>> table = score_maps([img], ["nps-surrogate"], metrics="cosine")
    >>> round(float(table["response"].iloc[0]), 6)
    1.0
    """
    metrics = _check_metrics(metrics)
    if resample not in RESAMPLE_DIRECTIONS:
        raise MindpainError(f"unknown resampling direction {resample!r}; expected one of "
                            f"{', '.join(RESAMPLE_DIRECTIONS)}")
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
    items = _as_items(maps)
    if not items:
        raise MindpainError("no map given; expected at least one contrast map")
    chunk_size = max(1, int(chunk_size))
    engine = _Engine(sigs, metrics, subregions, resample, chunk_size)
    results = np.full((len(items), engine.n_cols, len(metrics)), np.nan)
    labels = [_item_label(it, k) for k, it in enumerate(items)]
    errors: list[str] = []

    from tqdm.auto import tqdm

    bar = tqdm(total=len(items), desc="scoring maps", unit="map", disable=not progress)

    def work(i):
        try:
            return i, engine.extract(i, items[i], labels[i]), None
        except MindpainError as err:
            return i, None, str(err)

    try:
        if n_jobs and n_jobs > 1:
            with ThreadPoolExecutor(max_workers=int(n_jobs)) as pool:
                for start in range(0, len(items), chunk_size):
                    for i, rows, err in pool.map(work, range(start, min(start + chunk_size,
                                                                        len(items)))):
                        _collect(engine, i, rows, err, results, errors, bar)
        else:
            for i in range(len(items)):
                _collect(engine, *work(i), results, errors, bar)
    finally:
        bar.close()
    if len(errors) == 1:
        raise MindpainError(errors[0])
    if errors:
        raise BadMapsError(errors, len(items))
    for pkey in list(engine.buffers):
        engine.flush(pkey, results)
    return _long_table(items, labels, sigs, engine.columns, metrics, results)


def _collect(engine, i, rows, err, results, errors, bar):
    if err is not None:
        errors.append(err)
    elif not errors:  # after the first error, only validate (nothing will be returned)
        engine.add(i, rows, results)
    bar.update(1)


def _long_table(items, labels, sigs, columns, metrics, results) -> pd.DataFrame:
    meta = [parse_entities(lab) if not isinstance(it, nib.spatialimages.SpatialImage)
            else {"participant_id": lab, "session": None, "condition": None}
            for it, lab in zip(items, labels, strict=True)]
    n_maps, n_cols, n_met = results.shape
    map_i = np.repeat(np.arange(n_maps), n_cols * n_met)
    col_i = np.tile(np.repeat(np.arange(n_cols), n_met), n_maps)
    met_i = np.tile(np.arange(n_met), n_maps * n_cols)

    def per_map(values):
        return np.asarray(values, dtype=object)[map_i]

    frame = pd.DataFrame({
        "participant_id": per_map([m["participant_id"] for m in meta]),
        "session": per_map([m["session"] for m in meta]),
        "condition": per_map([m["condition"] for m in meta]),
        "signature": np.asarray([sigs[k].name for k, _, _ in columns], dtype=object)[col_i],
        "metric": np.asarray(metrics, dtype=object)[met_i],
        "region": np.asarray([r for _, r, _ in columns], dtype=object)[col_i],
        "response": results.reshape(-1),
        "map": per_map([Path(lab).name for lab in labels]),
    })
    return frame[list(COLUMNS)]


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

def settings_sidecar(signatures: Iterable[Signature], metrics, subregions, resample,
                     maps) -> dict:
    """JSON sidecar describing the columns and settings of a scores table."""
    from mindpain import __version__

    return {
        **{c: {"Description": d} for c, d in COLUMN_DESCRIPTIONS.items()},
        "Settings": {
            "signatures": [s.describe() for s in signatures],
            "metrics": list(metrics),
            "subregions": bool(subregions),
            "resampling": resample,
            "missing_data": "per image, voxels where the image is NaN or exactly 0; voxels "
                            "where the weights are 0/NaN are outside the pattern",
            "n_maps": len(maps),
            "maps": [str(m) for m in maps],
            "mindpain_version": __version__,
        },
    }


def write_scores(table: pd.DataFrame, out, sidecar: dict) -> Path:
    """Write ``table`` as TSV and ``sidecar`` as JSON next to it, both or neither."""
    from mindpain.io import atomic_path, write_json, write_tsv

    out = Path(out)
    if out.suffix != ".tsv":
        raise MindpainError("output must end in .tsv (a JSON sidecar is written beside it)",
                            out)
    with atomic_path(out) as tmp_tsv, atomic_path(out.with_suffix(".json")) as tmp_json:
        write_tsv(tmp_tsv, table)
        write_json(tmp_json, sidecar)
    return out


def score_cli(args) -> int:
    """Run ``mindpain score``: score maps, write TSV + JSON sidecar; return 0."""
    metrics = (args.metric,)
    resample = getattr(args, "resample", None) or RESAMPLE_DIRECTIONS[0]
    sigs = [get_signature(s) for s in args.signature]
    out = Path(args.out)
    if out.suffix != ".tsv":
        raise MindpainError("output must end in .tsv (a JSON sidecar is written beside it)",
                            out)
    quiet = getattr(args, "quiet", False)
    table = score_maps(args.maps, sigs, metrics=metrics, subregions=args.subregions,
                       resample=resample, n_jobs=getattr(args, "n_jobs", None) or 1,
                       progress=not quiet and os.isatty(2))
    sidecar = settings_sidecar(sigs, metrics, args.subregions, resample, args.maps)
    write_scores(table, out, sidecar)
    return 0
