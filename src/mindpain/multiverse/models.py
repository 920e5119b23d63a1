r"""Batched outcome models of the multiverse: every specification, every permutation at once.

The estimate is Cohen's d of the contrast (default NPS, MBSR vs HEP) with its 95 % CI and
two-sided p. The models are computed by batched closed forms (OLS; REML of the random
intercept model by a profiled one-dimensional search) so that the same code evaluates the
observed curve and thousands of permuted ones (:func:`estimate_specs`);
``tests/test_multiverse.py`` checks them against :mod:`mindpain.trial.models` (two-sample t,
ANCOVA, statsmodels' MixedLM).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.multiverse.grid import COVARIATE_SETS
from mindpain.stats.effect_sizes import standardised


def _inv(a):
    """Invert a batch of matrices; pseudo-inverse when a permutation makes one singular.

    Possible only in tiny samples, where an arm can coincide with a covariate.
    """
    try:
        return np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return np.linalg.pinv(a, hermitian=True)


def _ols(X, y):
    """Batched OLS: ``X`` (R, n, p), ``y`` (n,) -> beta (R, p), XtX^-1 (R, p, p), RSS (R,)."""
    xtx_inv = _inv(np.einsum("rni,rnj->rij", X, X))
    beta = np.einsum("rij,rnj,n->ri", xtx_inv, X, y)
    resid = y[None, :] - np.einsum("rni,ri->rn", X, beta)
    return beta, xtx_inv, (resid**2).sum(1)


def _class_sums(X, y, cls):
    """Per variance class: X'X (R, 3, p, p), X'y (R, 3, p), y'y (3,) and row counts (3,)."""
    onehot = np.stack([(cls == c).astype(float) for c in range(3)])  # (3, n)
    xtx = np.einsum("cn,rni,rnj->rcij", onehot, X, X)
    xty = np.einsum("cn,rni,n->rci", onehot, X, y)
    return xtx, xty, onehot @ (y**2), onehot.sum(1)


def _reml_profile(sums, gammas):
    """Profiled REML objective and fit of the transformed random-intercept model.

    Each transformed row has a variance class: 0 within-person difference (variance
    sigma^2), 1 person mean of two sessions (sigma^2 (1 + 2 gamma)), 2 single baseline
    (sigma^2 (1 + gamma)); gamma = sigma_u^2 / sigma^2. Weights are constant within a
    class, so X'WX is a weighted sum of the classes' X'X. ``gammas`` (R, G).
    """
    xtx, xty, yy, counts = sums
    n, p = counts.sum(), xtx.shape[-1]
    w = 1.0 / (1.0 + np.array([0.0, 2.0, 1.0]) * gammas[..., None])  # (R, G, 3)
    xtwx = np.einsum("rgc,rcij->rgij", w, xtx)
    xtwy = np.einsum("rgc,rci->rgi", w, xty)
    inv = _inv(xtwx)
    beta = np.einsum("rgij,rgj->rgi", inv, xtwy)
    rss = np.einsum("rgc,c->rg", w, yy) - np.einsum("rgi,rgi->rg", beta, xtwy)
    sigma2 = rss / (n - p)
    _, logdet = np.linalg.slogdet(xtwx)
    objective = (n - p) * np.log(sigma2) - np.log(w) @ counts + logdet
    return objective, beta, inv, sigma2


def reml_random_intercept(X, y, cls, n_grid: int = 61, n_refine: int = 40):
    r"""REML fit of a random-intercept model with at most two sessions per person, batched.

    The data are given in the orthogonally transformed form (see :func:`_mixed_rows`):
    within a person, the difference and the mean of two sessions are independent, so the
    model is a weighted regression whose weights depend on one ratio
    :math:`\gamma = \sigma_u^2/\sigma_e^2 \ge 0`. The profiled REML criterion is
    minimised over :math:`\gamma` by a grid on :math:`\log\gamma` (plus
    :math:`\gamma = 0`) refined by golden-section search.

    Returns
    -------
    tuple
        ``beta`` (R, p), ``cov`` (R, p, p) = :math:`\hat\sigma^2 (X^T W X)^{-1}`,
        ``sigma2`` (R,) and ``gamma`` (R,).
    """
    sums = _class_sums(X, y, cls)
    R = X.shape[0]
    logs = np.linspace(-9.0, 7.0, n_grid)
    grid = np.concatenate([[0.0], np.exp(logs)])
    obj = _reml_profile(sums, np.broadcast_to(grid, (R, grid.size)))[0]
    best = obj.argmin(1)
    # Golden-section refinement on log gamma around the best interior grid point.
    step = logs[1] - logs[0]
    centre = np.where(best == 0, logs[0], logs[np.clip(best - 1, 0, n_grid - 1)])
    lo, hi = centre - step, centre + step
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(n_refine):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        fa = _reml_profile(sums, np.exp(a)[:, None])[0][:, 0]
        fb = _reml_profile(sums, np.exp(b)[:, None])[0][:, 0]
        left = fa < fb
        hi = np.where(left, b, hi)
        lo = np.where(left, lo, a)
    refined = np.exp((lo + hi) / 2)
    zero_best = obj[:, 0] <= _reml_profile(sums, refined[:, None])[0][:, 0]
    gamma = np.where(zero_best, 0.0, refined)
    _, beta, inv, sigma2 = _reml_profile(sums, gamma[:, None])
    beta, inv, sigma2 = beta[:, 0], inv[:, 0], sigma2[:, 0]
    return beta, sigma2[:, None, None] * inv, sigma2, gamma


def _mixed_rows(frame: pd.DataFrame, labels: np.ndarray, covariates, sample: str):
    """Build the transformed rows of the mixed model for every permutation.

    ``frame``: one row per participant (``pre, post`` (NaN if absent), ``age, sex_m``);
    ``labels`` (R, n_people). Columns: [1, HEP, MBSR, post, HEP:post, MBSR:post, *cov].
    """
    comp = frame["post"].notna().to_numpy() & frame["pre"].notna().to_numpy()
    base = frame["pre"].notna().to_numpy() & ~comp
    if sample == "completers":
        base = np.zeros_like(base)
    pre, post = frame["pre"].to_numpy(float), frame["post"].to_numpy(float)
    column = {"age": "age", "sex": "sex_m"}
    cov = np.column_stack([frame[column[c]].to_numpy(float) for c in covariates]) \
        if covariates else np.zeros((len(frame), 0))
    hep, mbsr = (labels == "HEP").astype(float), (labels == "MBSR").astype(float)
    R = labels.shape[0]
    s2 = np.sqrt(2.0)

    def block(rows, session_post: float, scale: float):
        k = rows.sum()
        ones = np.ones((R, k))
        h, m = hep[:, rows], mbsr[:, rows]
        parts = [ones, h, m, session_post * ones, session_post * h, session_post * m]
        parts += [np.broadcast_to(cov[rows, j], (R, k)) for j in range(cov.shape[1])]
        return np.stack(parts, axis=-1) * scale

    x_pre, x_post = block(comp, 0.0, 1.0), block(comp, 1.0, 1.0)
    X = [(x_post - x_pre) / s2, (x_post + x_pre) / s2, block(base, 0.0, 1.0)]
    y = [(post[comp] - pre[comp]) / s2, (post[comp] + pre[comp]) / s2, pre[base]]
    cls = np.concatenate([np.zeros(comp.sum(), int), np.ones(comp.sum(), int),
                          np.full(base.sum(), 2)])
    return np.concatenate(X, axis=1), np.concatenate(y), cls, int(comp.sum()), \
        int(comp.sum() + base.sum())


def _as_result(est, se, sd, df) -> dict:
    out = standardised(est, se, sd, df)
    return {k: np.asarray(out[k], float) for k in ("d", "ci_low", "ci_high", "p")}


def estimate_specs(frame: pd.DataFrame, labels: np.ndarray, contrast: str = "MBSR_vs_HEP",
                   ci: bool = True) -> list[dict]:
    """Every (model, sample, covariates) estimate for each row of ``labels``.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per trial participant: ``pre, post`` (NaN when absent), ``age``,
        ``sex_m`` (1 for male).
    labels : numpy.ndarray
        (R, n_people) arm labels: row 0 the observed ones, others permutations.
    contrast : str
        ``"A_vs_B"``.
    ci : bool
        Compute CIs (the null curves need only d and p).

    Returns
    -------
    list of dict
        One per (model, sample, covariates): ``model, sample, covariates, n`` and arrays
        ``d, ci_low, ci_high, p`` of length R.
    """
    a, b = contrast.split("_vs_")
    R = labels.shape[0]
    comp = (frame["post"].notna() & frame["pre"].notna()).to_numpy()
    pre, post = frame["pre"].to_numpy(float), frame["post"].to_numpy(float)
    change = post - pre
    out = []
    # Pooled SD of change of the two arms: rows = the two arms' completers (a fixed set
    # under permutations within the two arms).
    pair = comp & np.isin(labels[0], [a, b])
    is_a = (labels[:, pair] == a).astype(float)
    y_pair = change[pair]
    ones = np.ones_like(is_a)
    beta0, inv0, rss0 = _ols(np.stack([ones, is_a], -1), y_pair)
    df0 = pair.sum() - 2
    sd_pair = np.sqrt(rss0 / df0)
    cov_cols = {name: frame[c].to_numpy(float) for name, c in (("age", "age"), ("sex", "sex_m"))}
    for cov_name, wanted in COVARIATE_SETS.items():
        # A covariate constant over the analysed people (tiny samples) cannot be adjusted for.
        covs = tuple(c for c in wanted if np.ptp(cov_cols[c][pair]) > 0
                     and np.ptp(cov_cols[c][comp]) > 0)
        extra = [np.broadcast_to(cov_cols[c][pair], is_a.shape) for c in covs]
        if covs:
            beta, inv, rss = _ols(np.stack([ones, is_a, *extra], -1), y_pair)
        else:
            beta, inv, rss = beta0, inv0, rss0
        df = pair.sum() - 2 - len(covs)
        se = np.sqrt(rss / df * inv[:, 1, 1])
        res = _as_result(beta[:, 1], se, sd_pair, df)
        out.append({"model": "change_score", "sample": "completers", "covariates": cov_name,
                    "n": int(pair.sum()), **res})
        # ANCOVA on all three arms' completers: post ~ 1 + A + B + pre (+ covariates).
        lab = labels[:, comp]
        X = np.stack([np.ones(lab.shape), (lab == a).astype(float), (lab == b).astype(float),
                      np.broadcast_to(pre[comp], lab.shape),
                      *[np.broadcast_to(cov_cols[c][comp], lab.shape) for c in covs]], -1)
        beta, inv, rss = _ols(X, post[comp])
        df = comp.sum() - X.shape[-1]
        L = np.zeros(X.shape[-1])
        L[1], L[2] = 1.0, -1.0
        se = np.sqrt(rss / df * np.einsum("i,rij,j->r", L, inv, L))
        res = _as_result(beta @ L, se, sd_pair, df)
        out.append({"model": "ancova", "sample": "completers", "covariates": cov_name,
                    "n": int(comp.sum()), **res})
        for sample in ("completers", "all"):
            X, y, cls, n_comp, n_people = _mixed_rows(frame, labels, covs, sample)
            beta, cov, sigma2, _ = reml_random_intercept(X, y, cls)
            L = np.zeros(X.shape[-1])
            col = {"HEP": 4, "MBSR": 5}
            for arm, sign in ((a, 1.0), (b, -1.0)):
                if arm in col:
                    L[col[arm]] += sign
            se = np.sqrt(np.einsum("i,rij,j->r", L, cov, L))
            df = max(n_comp - 3 - len(covs), 1)
            res = _as_result(beta @ L, se, np.sqrt(2 * sigma2), df)
            out.append({"model": "mixedlm", "sample": sample, "covariates": cov_name,
                        "n": n_people, **res})
    if not ci:
        for row in out:
            row["ci_low"] = row["ci_high"] = np.full(R, np.nan)
    return out
