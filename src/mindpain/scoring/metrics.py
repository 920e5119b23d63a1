"""The response metrics (CANlab semantics) on maps already reduced to a plan's voxels.

A map enters as two rows over the pattern voxels of a :class:`~mindpain.scoring.plan.Plan`
(:func:`pattern_values`, :func:`missing_to_zero`): its values with missing data set to 0,
and 1 where it has data. :func:`chunk_metrics` turns a chunk of such rows into every
metric for every column of the plan with a few matrix products; :func:`pattern_response`
does the same for one array and one weight array. The rules (missing data, pattern,
metrics) are those of :mod:`mindpain.scoring`.
"""

from __future__ import annotations

import numpy as np

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import METRICS
from mindpain.scoring.plan import Plan


def chunk_metrics(X: np.ndarray, M: np.ndarray, plan: Plan, metrics, n=None) -> dict:
    """Return every requested metric for a chunk of maps and every column of ``plan``.

    Parameters
    ----------
    X : numpy.ndarray
        ``(k, n_vox)`` values of ``k`` maps on the plan's voxels, missing set to 0.
    M : numpy.ndarray
        ``(k, n_vox)``: 1 where the map has data, else 0 (:func:`missing_to_zero`).
    plan : Plan
        The stacked weights.
    metrics : sequence of str
        Checked metric names (:func:`check_metrics`).
    n : numpy.ndarray, optional
        ``M @ plan.P`` (pattern voxels with data per map and column), if already known.

    Returns
    -------
    dict
        Metric name -> ``(k, n_columns)`` array (correlation NaN below 2 voxels or for a
        constant; cosine 0 when a norm is 0).
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
    check_metrics([metric])
    x = np.asarray(data, dtype=np.float64).ravel()
    w = np.nan_to_num(np.asarray(weights, dtype=np.float64).ravel(), nan=0.0)
    if x.shape != w.shape:
        raise MindpainError(f"data has {x.size} voxels but weights {w.size}; expected the same "
                            "grid")
    idx = np.flatnonzero(w)
    plan = Plan(shape=x.shape, affine=np.eye(4), idx=idx, cols=np.array([0]),
                W=w[idx, None], P=np.ones((idx.size, 1)))
    X, M = missing_to_zero(x[idx][None, :])
    return float(chunk_metrics(X, M, plan, (metric,))[metric][0, 0])


def pattern_values(data: np.ndarray, plan: Plan) -> np.ndarray:
    """Pattern voxels of a 3-D array, without copying it (nibabel arrays are F-ordered).

    Parameters
    ----------
    data : numpy.ndarray
        A map on the plan's grid.
    plan : Plan
        Its ``idx`` (and ``idx_f``, computed here when first needed) pick the voxels.

    Returns
    -------
    numpy.ndarray
        1-D, in the order of ``plan.idx``.
    """
    if data.flags.f_contiguous and not data.flags.c_contiguous:
        if plan.idx_f is None:
            plan.idx_f = np.ravel_multi_index(np.unravel_index(plan.idx, plan.shape),
                                              plan.shape, order="F")
        return data.ravel(order="F")[plan.idx_f]
    return data.reshape(-1)[plan.idx]


def missing_to_zero(x: np.ndarray):
    """Split values into (values with missing set to 0, 1.0 where there is data).

    Missing = NaN, infinite or exactly 0 (CANlab semantics).

    Examples
    --------
    >>> missing_to_zero(np.array([1.5, np.nan, 0.0]))
    (array([1.5, 0. , 0. ]), array([1., 0., 0.]))
    """
    has = np.isfinite(x) & (x != 0)
    return np.where(has, x, 0.0), has.astype(np.float64)


def check_metrics(metrics) -> tuple:
    """Return the metric names as a tuple; refuse an unknown one (or none) in one line.

    Examples
    --------
    >>> check_metrics("dot")
    ('dot',)
    """
    metrics = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    bad = [m for m in metrics if m not in METRICS]
    if bad or not metrics:
        raise MindpainError(f"unknown metric {', '.join(map(repr, bad)) or '(none)'}; expected "
                            f"one or more of {', '.join(METRICS)}")
    return metrics


def has_data(data: np.ndarray) -> bool:
    """Whether any voxel of ``data`` holds data (finite and non-zero).

    Examples
    --------
    >>> has_data(np.array([0.0, np.nan])), has_data(np.array([0.0, 2.0]))
    (False, True)
    """
    return bool(np.any(np.isfinite(data) & (data != 0)))
