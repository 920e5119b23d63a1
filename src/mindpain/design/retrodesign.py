r"""Gelman & Carlin's retrospective design analysis: type S and type M errors of the trial.

How much does a significant estimate from this trial exaggerate, and how often has it the
wrong sign? On the change-score scale of :mod:`mindpain.design.power`, at the reported
contrasts' actual arm sizes.

Retrospective design analysis (Gelman & Carlin 2014)
    For a true effect :math:`D` and an estimate with standard error :math:`s` whose
    standardised error follows a t with ``df`` degrees of freedom (normal when ``df`` is
    infinite): power, type S rate :math:`P(\text{wrong sign} \mid \text{significant})` and
    exaggeration ratio (type M) :math:`E(|\hat D| \mid \text{significant}) / |D|`. For
    normal errors, with :math:`\lambda = D/s` and :math:`z = z_{1-\alpha/2}`,
    :math:`E(|\hat D|\,1_{sig})/s = \lambda[\Phi(\lambda - z) - \Phi(-\lambda - z)]
    + \phi(\lambda - z) + \phi(\lambda + z)` (closed form, Lu, Qiu & Deng 2019); with
    finite ``df`` the same form holds with the t density and the tail term
    :math:`f_\nu(a)(\nu + a^2)/(\nu - 1)` in place of :math:`\phi(a)`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.design.power import ALPHA, reported_contrasts


@dataclass(frozen=True)
class Retrodesign:
    """Result of :func:`retrodesign` (arrays broadcast over the inputs)."""

    power: np.ndarray
    type_s: np.ndarray
    exaggeration: np.ndarray


def _abs_moment_normal(lam, z):
    """E(|X| 1{|X| > z}) for X ~ N(lam, 1) (closed form)."""
    from scipy.stats import norm

    return (lam * (norm.cdf(lam - z) - norm.cdf(-lam - z)) + norm.pdf(lam - z)
            + norm.pdf(lam + z))


def _abs_moment_t(lam, z, df):
    r"""E(|lam + T| 1{|lam + T| > z}) for T ~ t(df), df > 1 (closed form).

    Uses :math:`\int_a^\infty x f_\nu(x)\,dx = f_\nu(a)(\nu + a^2)/(\nu - 1)`.
    """

    def tail(a):
        return stats.t.pdf(a, df) * (df + a**2) / (df - 1)

    return (lam * (stats.t.sf(z - lam, df) - stats.t.cdf(-z - lam, df)) + tail(z - lam)
            + tail(z + lam))


def retrodesign(true_effect, se, alpha: float = ALPHA, df: float = np.inf) -> Retrodesign:
    r"""Gelman & Carlin's (2014) retrospective design analysis.

    Parameters
    ----------
    true_effect : array_like
        Plausible true effect :math:`D` (same units as ``se``; non-zero for the
        exaggeration ratio).
    se : array_like
        Standard error of the estimate.
    alpha : float
        Two-sided significance level.
    df : float
        Degrees of freedom of the t reference (``inf``: normal, as in the paper).

    Returns
    -------
    Retrodesign
        ``power``, ``type_s`` (probability that a significant estimate has the wrong sign)
        and ``exaggeration`` (expected |estimate| / |D| given significance).

    Examples
    --------
    Gelman & Carlin's rule of thumb: at 50 % power the exaggeration ratio is about 1.4.

    >>> r = retrodesign(1.959964, 1.0)
    >>> round(float(r.power), 3), round(float(r.exaggeration), 2)
    (0.5, 1.41)
    """
    lam, se_b = np.broadcast_arrays(np.abs(np.asarray(true_effect, float)),
                                    np.asarray(se, float))
    lam = lam / se_b
    if np.isinf(df):
        z = stats.norm.isf(alpha / 2)
        hi, lo = stats.norm.sf(z - lam), stats.norm.cdf(-z - lam)
        moment = _abs_moment_normal(lam, z)
    else:
        z = stats.t.isf(alpha / 2, df)
        hi, lo = stats.t.sf(z - lam, df), stats.t.cdf(-z - lam, df)
        moment = _abs_moment_t(lam, z, df)
    power = hi + lo
    with np.errstate(divide="ignore", invalid="ignore"):
        exaggeration = np.where(lam > 0, moment / (power * lam), np.inf)
    return Retrodesign(power=np.asarray(power), type_s=np.asarray(lo / power),
                       exaggeration=np.asarray(exaggeration))


#: Plausible true effects as fractions of the paper-scale change-score d (assumed).
SHRINKAGE = (1.0, 0.5, 0.25)
SHRINKAGE_LABELS = {1.0: "as estimated", 0.5: "half (replication average)",
                    0.25: "quarter (sceptical)"}


def contrast_se(kind: str, n1, n2=None) -> float:
    r"""Return the SE of a change-score d: :math:`\sqrt{1/n_1+1/n_2}` or :math:`1/\sqrt{n}`."""
    if kind == "within":
        return float(1 / np.sqrt(n1))
    return float(np.sqrt(1 / n1 + 1 / n2))


def retrodesign_table(shrinkage=SHRINKAGE, alpha: float = ALPHA) -> pd.DataFrame:
    """Type S and type M of every reported contrast for plausible true effects.

    The plausible true effect is the change-score d implied by the paper's t times a
    shrinkage factor (assumed: 1 = taken at face value; 0.5 = the average shrinkage of
    replications relative to original studies, Open Science Collaboration 2015; 0.25 =
    a sceptical prior). The SE is that of a change-score d at the actual arm sizes;
    the t reference has the contrast's df.

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, kind, d_change, shrinkage, true_d, se, df, power, type_s,
        exaggeration, expected_significant_d`` (true_d times exaggeration).
    """
    rows = []
    for r in reported_contrasts().itertuples(index=False):
        n2 = None if r.kind == "within" else r.n2
        se = contrast_se(r.kind, r.n1, n2)
        df = r.n1 - 1 if r.kind == "within" else r.n1 + r.n2 - 2
        for k in shrinkage:
            true = abs(r.d_change) * k
            res = retrodesign(true, se, alpha, df)
            rows.append({"outcome": r.outcome, "contrast": r.contrast, "kind": r.kind,
                         "d_change": r.d_change, "shrinkage": k, "true_d": true, "se": se,
                         "df": df, "power": float(res.power), "type_s": float(res.type_s),
                         "exaggeration": float(res.exaggeration),
                         "expected_significant_d": true * float(res.exaggeration)})
    return pd.DataFrame(rows)


def exaggeration_curve(d_values=None, alpha: float = ALPHA) -> pd.DataFrame:
    """Exaggeration ratio and type S rate against the true effect, per design.

    One curve per distinct design among the reported contrasts (MBSR vs HEP, MBSR vs WL,
    MBSR within), at the actual arm sizes.

    Returns
    -------
    pandas.DataFrame
        ``design, kind, n1, n2, true_d, power, type_s, exaggeration``.
    """
    d_values = np.round(np.arange(0.05, 1.0001, 0.025), 3) if d_values is None else d_values
    rep = reported_contrasts().drop_duplicates("contrast")
    rows = []
    for r in rep.itertuples(index=False):
        n2 = None if r.kind == "within" else r.n2
        se = contrast_se(r.kind, r.n1, n2)
        df = r.n1 - 1 if r.kind == "within" else r.n1 + r.n2 - 2
        res = retrodesign(np.asarray(d_values, float), se, alpha, df)
        rows.append(pd.DataFrame({"design": r.contrast, "kind": r.kind, "n1": r.n1, "n2": r.n2,
                                  "true_d": d_values, "power": res.power,
                                  "type_s": res.type_s, "exaggeration": res.exaggeration}))
    return pd.concat(rows, ignore_index=True)
