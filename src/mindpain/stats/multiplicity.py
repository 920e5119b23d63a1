"""Multiple-comparison correction: Holm's step-down, coded once.

:func:`holm_rows` is the step-down vectorised over the rows of a matrix (one family per row:
a simulation has thousands); :func:`holm` is its one-family case. Both equal
:func:`statsmodels.stats.multitest.multipletests` with ``method="holm"`` bit for bit (the
tests hold them to it, ties and values above 1 included). statsmodels itself is not called:
its Holm branch runs a full garbage collection at every call (``gc.collect()`` in
``multipletests``, statsmodels 0.15.0), which cost 0.1-1 s per family in a process with a
large heap, and :func:`mindpain.trial.analysis.analyse_trial` adjusts 20 families. The
helpers apply it per family (:func:`holm_by_family`: NaN p values leave the family) or per
row of a matrix (:func:`holm_rows`: one family per replication of a simulation; a NaN stays
in its row's count).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def holm(p) -> np.ndarray:
    """Holm step-down adjusted p values of one family.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).round(2).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, float)
    if p.size == 0:
        return np.empty(0)
    return holm_rows(p)[0]


def holm_rows(P) -> np.ndarray:
    """Holm-adjusted p values along the last axis (one family per row).

    Examples
    --------
    >>> holm_rows([[0.01, 0.04, 0.03], [0.5, 0.01, 0.02]]).round(2).tolist()
    [[0.03, 0.06, 0.06], [0.5, 0.03, 0.04]]
    """
    P = np.atleast_2d(np.asarray(P, float))
    # Vectorised over rows (a simulation has thousands of families; one statsmodels call per
    # row took minutes). Tied p values get one adjusted value whatever their order.
    m = P.shape[-1]
    order = np.argsort(P, axis=-1, kind="stable")
    sorted_p = np.take_along_axis(P, order, -1) * (m - np.arange(m))
    stepped = np.minimum(np.maximum.accumulate(sorted_p, axis=-1), 1.0)
    out = np.empty_like(P)
    np.put_along_axis(out, order, stepped, -1)
    return out


def holm_by_family(p, keys) -> np.ndarray:
    """Holm-adjust ``p`` separately within each family; NaN p values stay NaN.

    Parameters
    ----------
    p : array-like
        p values.
    keys : list of array-like
        Columns whose combination names a row's family (e.g. model, domain, kind).

    Examples
    --------
    >>> holm_by_family([0.01, 0.04, 0.03, np.nan], [["a", "a", "b", "b"]]).round(2).tolist()
    [0.02, 0.04, 0.03, nan]
    """
    p = np.asarray(p, dtype=float)
    family = pd.Series(list(zip(*[np.asarray(k) for k in keys], strict=True)))
    adj = np.full(p.size, np.nan)
    for rows in family.groupby(family).indices.values():
        ok = rows[~np.isnan(p[rows])]
        if ok.size:
            adj[ok] = holm(p[ok])
    return adj
