r"""Effect sizes on the change-score scale, with noncentral-t confidence intervals.

Cohen's d between two arms (pooled SD of change, :math:`d_s`), d_z within an arm, and any
model estimate standardised by an SD (:func:`standardised`); each CI inverts the noncentral
t distribution (Steiger & Fouladi 1997; Cumming & Finch 2001). Correlations get Fisher-z
intervals (:func:`fisher_ci`). Everything is vectorised over leading axes, so a simulation's
replications go through one call.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

#: Confidence level of every interval.
LEVEL = 0.95


def noncentral_t_ci(t, df, level: float = LEVEL):
    r"""Confidence interval of the noncentrality parameter of a noncentral t.

    Parameters
    ----------
    t : array_like
        Observed t statistics.
    df : array_like
        Degrees of freedom.
    level : float
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits :math:`\lambda` with
        :math:`P(T \le t \mid \lambda_{low}) = 1 - \alpha/2` and
        :math:`P(T \le t \mid \lambda_{high}) = \alpha/2`.

    Examples
    --------
    >>> lo, hi = noncentral_t_ci(0.0, 1000)
    >>> round(float(lo), 2), round(float(hi), 2)
    (-1.96, 1.96)
    """
    alpha = 1 - level
    t, df = np.broadcast_arrays(np.asarray(t, float), np.asarray(df, float))
    lo = special.nctdtrinc(df, 1 - alpha / 2, t)
    hi = special.nctdtrinc(df, alpha / 2, t)
    return np.asarray(lo), np.asarray(hi)


def between_d(change_a, change_b, level: float = LEVEL) -> dict:
    """Cohen's d of the difference in change between two arms, with noncentral-t CI.

    Vectorised over leading axes: the last axis holds participants.

    Parameters
    ----------
    change_a, change_b : array_like
        Change scores of arms A and B, shape ``(..., n_a)`` and ``(..., n_b)``.
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``d, ci_low, ci_high, p, t, df, sd`` (arrays of the leading shape); ``sd`` is the
        pooled SD of change :math:`s_p`.

    Examples
    --------
    >>> out = between_d([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    >>> float(out["d"])
    1.0
    """
    a, b = np.asarray(change_a, float), np.asarray(change_b, float)
    na, nb = a.shape[-1], b.shape[-1]
    df = na + nb - 2
    sd = np.sqrt(((na - 1) * a.var(-1, ddof=1) + (nb - 1) * b.var(-1, ddof=1)) / df)
    d = (a.mean(-1) - b.mean(-1)) / sd
    scale = np.sqrt(1 / na + 1 / nb)
    t = d / scale
    lo, hi = noncentral_t_ci(t, df, level)
    return {"d": d, "ci_low": lo * scale, "ci_high": hi * scale,
            "p": 2 * stats.t.sf(np.abs(t), df), "t": t, "df": np.full_like(d, df), "sd": sd}


def within_d(change, level: float = LEVEL) -> dict:
    """Cohen's d_z of an arm's change (mean / SD of change), with noncentral-t CI.

    Parameters
    ----------
    change : array_like
        Change scores, shape ``(..., n)``.
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``d, ci_low, ci_high, p, t, df, sd``.

    Examples
    --------
    >>> round(float(within_d([1.0, 2.0, 3.0])["d"]), 3)
    2.0
    """
    c = np.asarray(change, float)
    n = c.shape[-1]
    sd = c.std(-1, ddof=1)
    d = c.mean(-1) / sd
    scale = 1 / np.sqrt(n)
    t = d / scale
    lo, hi = noncentral_t_ci(t, n - 1, level)
    return {"d": d, "ci_low": lo * scale, "ci_high": hi * scale,
            "p": 2 * stats.t.sf(np.abs(t), n - 1), "t": t, "df": np.full_like(d, n - 1),
            "sd": sd}


def standardised(estimate, se, sd, df, level: float = LEVEL) -> dict:
    """Map a model estimate and its SE to d = estimate / sd with a noncentral-t CI.

    The statistic ``t = estimate / se`` is referred to a noncentral t with ``df``
    degrees of freedom; the CI of its noncentrality is multiplied by ``se / sd``.
    """
    estimate, se, sd = (np.asarray(x, float) for x in (estimate, se, sd))
    t = estimate / se
    lo, hi = noncentral_t_ci(t, df, level)
    k = se / sd
    return {"d": estimate / sd, "ci_low": lo * k, "ci_high": hi * k,
            "p": 2 * stats.t.sf(np.abs(t), df), "t": t, "df": np.broadcast_to(df, t.shape) * 1.0}


#: Largest absolute correlation transformed by Fisher's z (|r| = 1 has no finite z).
R_MAX = 0.9999999


def fisher_ci(r, n_eff, level: float = LEVEL):
    r"""Fisher-z confidence interval of a (partial) correlation.

    :math:`\tanh(\operatorname{atanh} r \pm z_{(1+\text{level})/2} / \sqrt{n_\text{eff} - 3})`.

    Parameters
    ----------
    r : array_like
        Correlations (clipped to :data:`R_MAX` in absolute value).
    n_eff : array_like
        Participants minus the covariates partialled out (for a repeated-measures
        correlation, its degrees of freedom plus 2).
    level : float
        Confidence level.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper ends.

    Examples
    --------
    >>> lo, hi = fisher_ci(0.5, 28)
    >>> round(float(lo), 3), round(float(hi), 3)
    (0.156, 0.736)
    """
    z = np.arctanh(np.clip(r, -R_MAX, R_MAX))
    half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(
        np.maximum(np.asarray(n_eff, dtype=float) - 3, 1e-12))
    return np.tanh(z - half), np.tanh(z + half)
