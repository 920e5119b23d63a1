"""Multiple-comparison correction: Holm's step-down, coded once (statsmodels).

Every adjusted p value of the book comes from :func:`holm`, which is
:func:`statsmodels.stats.multitest.multipletests` with ``method="holm"``. The helpers apply it
per family (:func:`holm_by_family`: NaN p values leave the family) or per row of a matrix
(:func:`holm_rows`: one family per replication of a simulation; a NaN stays in its row's
count, as it did in the vectorised code this replaces).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from statsmodels.stats.multitest import multipletests


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
    return multipletests(p, method="holm")[1]


def holm_rows(P) -> np.ndarray:
    """Holm-adjusted p values along the last axis (one family per row).

    Examples
    --------
    >>> holm_rows([[0.01, 0.04, 0.03], [0.5, 0.01, 0.02]]).round(2).tolist()
    [[0.03, 0.06, 0.06], [0.5, 0.03, 0.04]]
    """
    P = np.atleast_2d(np.asarray(P, float))
    return np.apply_along_axis(holm, -1, P)


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
