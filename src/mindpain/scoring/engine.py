"""The scoring engine: many maps x many signatures, in chunks.

Maps are read by ``n_jobs`` threads (:func:`~mindpain.scoring.maps.read_map`) and
validated, and only the union of the pattern voxels of all requested signatures is kept;
every ``chunk_size`` maps, a few matrix products with a stacked weight matrix
(:class:`~mindpain.scoring.plan.Plan`) give all signatures, regions and metrics at once
(:func:`~mindpain.scoring.metrics.chunk_metrics`).
Memory is bounded by ``chunk_size`` whatever the number of maps. The rules (missing data,
pattern, metrics, spaces) are those of :mod:`mindpain.scoring`.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.images import resample_like
from mindpain.scoring.maps import COLUMNS, entity_columns, grid_key, map_key, read_map
from mindpain.scoring.metrics import (
    check_metrics,
    chunk_metrics,
    has_data,
    missing_to_zero,
    pattern_values,
)
from mindpain.scoring.plan import (
    WHOLE,
    boxes_overlap,
    build_plan,
    signature_box,
    signature_columns,
    world_box,
)
from mindpain.signatures import Signature, get_signature

#: Resampling directions: weights to each map's grid (CANlab, default) or maps to weights.
RESAMPLE_DIRECTIONS = ("weights-to-data", "data-to-weights")
#: Maps scored together in one matrix product (:func:`score_maps`'s ``chunk_size``).
DEFAULT_CHUNK = 64


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
        self.columns = signature_columns(signatures, subregions)
        self.plans: dict = {}
        self.sig_boxes = [signature_box(s) for s in signatures]
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
                key = grid_key(sig.weights.shape, sig.weights.affine)
                by_grid.setdefault(key, (sig.weights.shape, sig.weights.affine, []))[2].append(c)
            for key, (shape, affine, col_ids) in by_grid.items():
                self.plans[key] = build_plan(signatures, self.columns, col_ids, shape, affine)

    def _check_overlap(self, label, shape, affine):
        box = world_box(shape, affine)
        for sig, sbox in zip(self.signatures, self.sig_boxes, strict=True):
            if not boxes_overlap(box, sbox):
                raise MindpainError(
                    f"field of view of the map (x,y,z {np.round(box[0], 1).tolist()} to "
                    f"{np.round(box[1], 1).tolist()} mm) does not overlap the weights of "
                    f"signature {sig.name!r}; expected a map in the signature's space (MNI)",
                    label)

    def _warn_grid(self, label, shape, affine):
        key = grid_key(shape, affine)
        for sig in self.signatures:
            wkey = grid_key(sig.weights.shape, sig.weights.affine)
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
        key = grid_key(shape, affine)
        if key not in self.grids_ok:  # checks that depend on the grid only: once per grid
            self._check_overlap(label, shape, affine)
            with self.lock:
                self._warn_grid(label, shape, affine)
                if self.resample == "weights-to-data" and key not in self.plans:
                    self.plans[key] = build_plan(self.signatures, self.columns,
                                                 list(range(self.n_cols)), shape, affine)
                self.grids_ok.add(key)
        rows = []
        targets = [key] if self.resample == "weights-to-data" else list(self.plans)
        for pkey in targets:
            plan = self.plans[pkey]
            if pkey == key:
                x = pattern_values(data, plan)
            else:
                if np.isinf(data).any():  # resampling would zero them silently
                    raise MindpainError(f"has {int(np.isinf(data).sum())} infinite value(s) "
                                        "and is on another grid than the weights, so "
                                        "resampling would hide them; expected finite effects "
                                        "(NaN or 0 = missing)", label)
                img = nib.Nifti1Image(np.asarray(data, dtype=np.float64), affine)
                x = resample_like(img, plan.shape, plan.affine).reshape(-1)[plan.idx]
            x = x.astype(np.float64)
            if np.isinf(x).any():
                raise MindpainError("has infinite values inside the signature pattern; "
                                    "expected finite effects (NaN or 0 = missing)", label)
            X, M = missing_to_zero(x)
            if not M.any() and not has_data(data):
                raise MindpainError("has no data (every voxel is NaN or 0); expected a "
                                    "contrast map", label)
            rows.append((pkey, X, M))
        return rows

    def flush(self, pkey, results):
        buf = self.buffers.pop(pkey, [])
        if not buf:
            return
        plan = self.plans[pkey]
        # Every product has chunk_size rows (a short chunk is padded with empty maps, cut
        # off after), so BLAS takes the same path whatever the number of maps in the chunk:
        # a map's score does not depend, to the last bit, on which maps share its batch.
        k = len(buf)
        X = np.zeros((max(self.chunk_size, k), buf[0][1].size), dtype=buf[0][1].dtype)
        M = np.zeros(X.shape, dtype=buf[0][2].dtype)
        X[:k] = np.stack([b[1] for b in buf])
        M[:k] = np.stack([b[2] for b in buf])
        n_all = M @ plan.P
        values = {m: v[:k] for m, v in chunk_metrics(X, M, plan, self.metrics, n_all).items()}
        n = n_all[:k]
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


def as_items(maps) -> list:
    """Return the maps as a list: one path or image alone becomes a list of one.

    Examples
    --------
    >>> as_items("a.nii.gz")
    ['a.nii.gz']
    >>> as_items(("a.nii.gz", "b.nii.gz"))
    ['a.nii.gz', 'b.nii.gz']
    """
    if isinstance(maps, (str, os.PathLike, nib.spatialimages.SpatialImage)):
        maps = [maps]
    return list(maps)


def _item_label(item, k) -> str:
    if isinstance(item, nib.spatialimages.SpatialImage):
        return f"image-{k + 1:03d}"
    return str(item)


def resolve_signatures(signatures, data_dir) -> list[Signature]:
    """Load and check the signatures to score (at least one, each name once).

    Parameters
    ----------
    signatures : str, path-like, Signature, sequence of them, or None
        Registered names, NIfTI paths or loaded signatures; ``None`` = the defaults of the
        configuration (:func:`mindpain.signatures.default_signatures`).
    data_dir : path-like or None
        Where official signature files are looked up.

    Returns
    -------
    list of Signature

    Raises
    ------
    MindpainError
        No signature, or one given twice.
    """
    if signatures is None:
        from mindpain.signatures import default_signatures

        sigs = default_signatures(data_dir)
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


def check_settings(metrics, resample) -> tuple:
    """Check the metrics and the resampling direction; return the metrics as a tuple.

    Parameters
    ----------
    metrics : str or sequence of str
        Names from :data:`mindpain.core.vocabulary.METRICS`.
    resample : str
        One of :data:`RESAMPLE_DIRECTIONS`.

    Returns
    -------
    tuple of str

    Raises
    ------
    MindpainError
        An unknown metric (or none) or direction, in one line.

    Examples
    --------
    >>> check_settings("cosine", "weights-to-data")
    ('cosine',)
    """
    metrics = check_metrics(metrics)
    if resample not in RESAMPLE_DIRECTIONS:
        raise MindpainError(f"unknown resampling direction {resample!r}; expected one of "
                            f"{', '.join(RESAMPLE_DIRECTIONS)}")
    return metrics


def check_unique(items) -> None:
    """Refuse a map path given twice (rows are keyed by absolute path); images pass.

    Raises
    ------
    MindpainError
        Naming the first path that appears twice (also under another spelling).
    """
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
    :class:`~mindpain.core.errors.MindpainError` lists every bad file, one line each.

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
        columns :data:`~mindpain.scoring.maps.COLUMNS` with the entity columns
        (:func:`~mindpain.scoring.maps.entity_columns`) after ``session``.

    Warns
    -----
    ResamplingWarning
        A map's grid differs from a signature's (once per pair of grids).
    NoPatternDataWarning
        Maps with no data inside a signature's pattern (their response is n/a).

    Examples
    --------
    >>> from mindpain.signatures.surrogates import build_surrogate
    >>> img = build_surrogate("nps-surrogate").weights
    >>> table = score_maps([img], ["nps-surrogate"], metrics="cosine")
    >>> round(float(table["response"].iloc[0]), 6)
    1.0
    """
    metrics = check_settings(metrics, resample)
    sigs = resolve_signatures(signatures, data_dir)
    items = as_items(maps)
    if not items:
        raise MindpainError("no map given; expected at least one contrast map")
    check_unique(items)
    labels = [_item_label(it, k) for k, it in enumerate(items)]
    bar = progress_bar(len(items), progress)
    try:
        table, errors = score_block(items, labels, sigs, metrics, subregions, resample,
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


def progress_bar(total: int, show: bool):
    """Return a tqdm progress bar over ``total`` maps, or one that shows nothing.

    Parameters
    ----------
    total : int
        Number of maps.
    show : bool
        False: an object with the same ``update``/``close`` that does nothing.

    Returns
    -------
    tqdm.tqdm or object
    """
    if not show:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="scoring maps", unit="map")


def score_block(items, labels, sigs, metrics, subregions, resample, chunk_size, n_jobs, bar,
                ent_cols):
    """Score ``items``; return ``(table or None, list of one-line errors)``.

    Every map is read and checked; after the first bad map the others are only checked,
    so every bad file is reported and no table is made.

    Parameters
    ----------
    items : sequence of path-like or nibabel images
        The maps.
    labels : sequence of str
        Their names in messages and in the ``map`` column.
    sigs : sequence of Signature
        The signatures (:func:`resolve_signatures`).
    metrics : tuple of str
        Checked metrics (:func:`check_settings`).
    subregions, resample, chunk_size, n_jobs
        As for :func:`score_maps`.
    bar : tqdm.tqdm or object
        Progress (:func:`progress_bar`), advanced once per map.
    ent_cols : sequence of str
        Entity columns of the table (:func:`~mindpain.scoring.maps.entity_columns`).

    Returns
    -------
    table : pandas.DataFrame or None
        The long table of :func:`score_maps`, or None when a map is bad.
    errors : list of str
        One message per bad map, each naming the file.
    """
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
    meta = [map_key(it, lab, ent_cols) for it, lab in zip(items, labels, strict=True)]
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
    >>> from mindpain.signatures.surrogates import build_surrogate
    >>> w = build_surrogate("siips1-surrogate").weights
    >>> score_image(w, "siips1-surrogate", "correlation")
    1.0
    """
    table = score_maps([img], [signature], metrics=(metric,), **kwargs)
    return float(table["response"].iloc[0])
