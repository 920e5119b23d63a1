r"""Multiverse (specification curve) of the trial's headline contrast, through the real pipeline.

Every specification runs first level -> scoring -> outcome model on the BIDS dataset:

First level (:mod:`mindpain.first_level`, one derivative folder per variant)
    smoothing FWHM (none or 8 mm), HRF model (Glover, or Glover plus its time
    derivative), high-pass cut-off (128 s, SPM's default, or 100 s, FSL's); which axes
    vary is set by the grid (:data:`GRIDS`). A confound
    axis is ready (:data:`CONFOUND_SETS`) but has one level: the twin's BOLD has no
    confounds file, so there is nothing to vary. Each variant's outputs carry the
    first-level stage's content key (inputs' sha256 and settings), so a variant is
    computed once and reused; the pipeline's own first level is reused for the default
    variant.
Scoring (:func:`mindpain.scoring.score_maps`)
    NPS and SIIPS1 responses of each session's hot>warm map by dot product, cosine
    similarity or Pearson correlation.
Outcome model, sample and covariates
    ``change_score`` (completers: the two arms' change scores; d over their pooled SD),
    ``ancova`` (completers: ``post ~ arm + pre``, three arms; d over the same pooled SD),
    ``mixedlm`` on completers or on all available sessions (random intercept, REML; d over
    :math:`\sqrt2\hat\sigma_e`, as :func:`mindpain.trial.fit_mixedlm`); each with or
    without age and sex as covariates. Completers vs all data only differ for the mixed
    model (the other two need both sessions), so the grid has 4 model-sample pairs.

The estimate is Cohen's d of the contrast (default NPS, MBSR vs HEP) with its 95 % CI and
two-sided p. The models are computed by batched closed forms (OLS; REML of the random
intercept model by a profiled one-dimensional search) so that the same code evaluates the
observed curve and thousands of permuted ones; ``tests/test_multiverse.py`` checks them
against :mod:`mindpain.trial` (two-sample t, ANCOVA, statsmodels' MixedLM).

Inference under the null (Simonsohn, Simmons & Nelson 2020)
    Arm labels are permuted among the participants of the two compared arms (all their
    sessions move together; the third arm stays), and **every** specification is
    re-estimated with the same permuted labels. The first level and scoring never see the
    labels, so permuting downstream is the same as re-running the whole pipeline on
    relabelled data, and each permuted curve is a draw of the whole curve under the sharp
    null of no difference between the two arms. Statistics: the share of specifications
    significant (p < .05) in the predicted direction (negative d: a reduction in MBSR) and
    the median estimate; their null p values are :math:`(1 + \#\{null \ge obs\})/(1 + B)`
    (share) and :math:`(1 + \#\{null \le obs\})/(1 + B)` (median).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.config import PRECOMPUTED_DIR, derive_rng
from mindpain.errors import MindpainError
from mindpain.stats.effect_sizes import standardised
from mindpain.vocabulary import ARMS, METRICS, SESSIONS

#: First-level axes: smoothing FWHM (mm; None = none), HRF model, high-pass period (s).
SMOOTHING = (None, 8.0)
HRF_MODELS = ("glover", "glover + derivative")
HIGH_PASS_S = (128.0, 100.0)
#: Confound sets (column names of fMRIPrep's confounds table); the twin has none.
CONFOUND_SETS = {"none": ()}
#: (model, sample) pairs that are defined.
MODEL_SAMPLES = (("change_score", "completers"), ("ancova", "completers"),
                 ("mixedlm", "completers"), ("mixedlm", "all"))
COVARIATE_SETS = {"none": (), "age+sex": ("age", "sex")}
OUTCOMES = ("nps", "siips1")
ALPHA = 0.05
N_PERMUTATIONS = 500
#: Preset of the committed multiverse (full design, coarse grid).
PRECOMPUTED_PRESET = "reduced"

#: Columns of ``multiverse.tsv``.
SPEC_COLUMNS = {
    "spec": "specification number (stable order of the grid)",
    "outcome": "signature (nps, siips1)",
    "contrast": "the contrast estimated (first arm minus second, change pre to post)",
    "first_level": "first-level variant label (fwhm-hrf-highpass)",
    "smoothing_fwhm": "smoothing before the first-level fit, mm (0 = none)",
    "hrf_model": "nilearn HRF model of the first level",
    "high_pass_s": "high-pass cut-off period of the cosine drift model, s",
    "confounds": "confound set of the first level",
    "metric": "signature response metric (dot, cosine, correlation)",
    "model": "outcome model (change_score, ancova, mixedlm)",
    "sample": "completers, or all available sessions (mixed model only)",
    "covariates": "none, or age+sex",
    "estimate_d": "Cohen's d of the contrast (see chapter 6 for each model's SD)",
    "ci_low": "lower end of the 95% CI of d (noncentral t)",
    "ci_high": "upper end of the 95% CI of d",
    "p": "two-sided p",
    "significant": "p < 0.05 and d in the predicted direction (negative)",
    "n": "participants in the model",
    "planted_d": "the twin's planted d of the contrast (change-score scale)",
}


@dataclass(frozen=True)
class FirstLevelVariant:
    """One combination of the first-level axes."""

    smoothing_fwhm: float | None
    hrf_model: str
    high_pass_s: float
    confounds: str = "none"

    @property
    def label(self) -> str:
        """Short, file-name-safe label, e.g. ``fwhm0-glover-hp128``."""
        hrf = "gloverderiv" if "derivative" in self.hrf_model else "glover"
        fwhm = 0 if self.smoothing_fwhm is None else self.smoothing_fwhm
        return f"fwhm{fwhm:g}-{hrf}-hp{self.high_pass_s:g}-conf{self.confounds}"

    def settings(self):
        """Return the first-level stage's :class:`~mindpain.first_level.ModelSettings`."""
        from mindpain.first_level import ModelSettings

        return ModelSettings(hrf_model=self.hrf_model, high_pass=1.0 / self.high_pass_s,
                             smoothing_fwhm=self.smoothing_fwhm,
                             confounds=CONFOUND_SETS[self.confounds])


#: First-level grids: which axes vary. ``book``: the committed multiverse (HRF x high-pass,
#: no smoothing: on the reduced twin's 10 mm grid an 8 mm kernel is below one voxel, so the
#: smoothing axis would double the cost for a near-identical map); ``full``: every axis
#: (``python -m mindpain.multiverse --grid full``); ``small``: the test twin (smoothing only).
GRIDS = {"book": {"smoothing": (None,), "hrf": HRF_MODELS, "high_pass": HIGH_PASS_S},
         "full": {"smoothing": SMOOTHING, "hrf": HRF_MODELS, "high_pass": HIGH_PASS_S},
         "small": {"smoothing": SMOOTHING, "hrf": HRF_MODELS[:1], "high_pass": HIGH_PASS_S[:1]}}


def first_level_variants(grid: str = "book") -> list[FirstLevelVariant]:
    """Return every first-level variant of ``grid`` (:data:`GRIDS`; default variant first)."""
    if grid not in GRIDS:
        raise MindpainError(f"unknown multiverse grid {grid!r}; expected one of "
                            f"{', '.join(GRIDS)}")
    axes = GRIDS[grid]
    return [FirstLevelVariant(f, h, hp, c) for f, h, hp, c in
            itertools.product(axes["smoothing"], axes["hrf"], axes["high_pass"], CONFOUND_SETS)]


def n_specifications(grid: str = "book") -> int:
    """Return the number of specifications per outcome."""
    return (len(first_level_variants(grid)) * len(METRICS) * len(MODEL_SAMPLES)
            * len(COVARIATE_SETS))


# ---------------------------------------------------------------- first level and scoring


def variant_dir(cfg, variant: FirstLevelVariant) -> Path:
    """Return a variant's derivative folder (the pipeline's own for the default settings)."""
    from mindpain.first_level import ModelSettings
    from mindpain.pipeline import first_level_dir

    if variant.settings() == ModelSettings(confounds=()):
        return first_level_dir(cfg)
    return cfg.derivatives_dir / "multiverse" / f"first-level-{variant.label}"


def run_variant(cfg, bids_dir, variant: FirstLevelVariant, signatures, progress=False):
    """First level (trial participants) and scoring of one variant.

    Returns
    -------
    tuple
        (long score table ``participant_id, session, outcome, metric, response``,
        seconds spent, runs computed).
    """
    from mindpain import first_level as fl
    from mindpain.scoring import ResamplingWarning, score_maps

    start = time.perf_counter()
    out = variant_dir(cfg, variant)
    out.mkdir(parents=True, exist_ok=True)
    fl.write_dataset_description(out, bids_dir)
    specs = fl.find_runs(bids_dir, participant_label=fl.naive_subjects(bids_dir))
    # The stage's own run loop, with this variant's settings (run_first_level exposes
    # only the smoothing); outputs are content-keyed, so an unchanged variant is skipped.
    summary = fl._run_all(specs, out, variant.settings(), None, cfg.n_jobs, progress)
    if not summary.ok:
        path, reason = summary.failed[0]
        raise MindpainError(f"first level ({variant.label}) failed for "
                            f"{len(summary.failed)} run(s): {reason}", path)
    maps = [m["hotVsWarm"]["effect"] for _, m in sorted(summary.session_maps.items())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResamplingWarning)
        table = score_maps(maps, list(signatures.values()), metrics=METRICS,
                           n_jobs=cfg.n_jobs, data_dir=cfg.data_dir)
    names = {sig.name: outcome for outcome, sig in signatures.items()}
    table["outcome"] = table["signature"].map(names)
    table = table[table["region"] == "whole"]
    runs = sum(1 for label in summary.computed if "_run-" in label)
    return (table[["participant_id", "session", "outcome", "metric", "response"]]
            .assign(first_level=variant.label), time.perf_counter() - start, runs)


# ---------------------------------------------------------------- batched models


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


# ---------------------------------------------------------------- the multiverse


def participant_frame(scores: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Return the wide per-participant table of one score series (trial arms only).

    Columns ``participant_id, group, pre, post, age, sex_m``.
    """
    wide = scores.pivot_table(index="participant_id", columns="session", values="response",
                              aggfunc="first").reindex(columns=list(SESSIONS))
    people = participants[participants["group"].isin(ARMS)]
    people = people.set_index("participant_id")
    frame = people[["group"]].join(wide, how="inner")
    frame["age"] = people["age"].astype(float) if "age" in people else np.nan
    frame["sex_m"] = (people["sex"].astype(str) == "M").astype(float) \
        if "sex" in people else np.nan
    return frame.dropna(subset=["pre"]).reset_index()


def permuted_labels(groups: np.ndarray, contrast: str, n_permutations: int, seed: int):
    """Observed labels (row 0) and ``n_permutations`` permutations within the two arms."""
    a, b = contrast.split("_vs_")
    rng = derive_rng(seed, "multiverse-null", contrast)
    idx = np.flatnonzero(np.isin(groups, [a, b]))
    rows = [groups.copy()]
    for _ in range(n_permutations):
        lab = groups.copy()
        lab[idx] = groups[rng.permutation(idx)]
        rows.append(lab)
    return np.asarray(rows)


@dataclass
class Multiverse:
    """Result of :func:`run_multiverse`."""

    specs: pd.DataFrame
    null: pd.DataFrame
    summary: pd.DataFrame
    timing: dict = field(default_factory=dict)


def curve_statistics(d, p, alpha: float = ALPHA):
    """Share significant in the predicted (negative) direction and median d, per row."""
    d, p = np.atleast_2d(d), np.atleast_2d(p)
    return ((p < alpha) & (d < 0)).mean(1), np.median(d, axis=1)


def analyse_scores(scores: pd.DataFrame, participants: pd.DataFrame, planted: dict,
                   contrast: str = "MBSR_vs_HEP", n_permutations: int = N_PERMUTATIONS,
                   seed: int = 0) -> Multiverse:
    """Specification curve and its permutation null from the scores of every variant.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``first_level, participant_id, session, outcome, metric, response``.
    participants : pandas.DataFrame
        ``participant_id, group, age, sex``.
    planted : dict
        outcome -> planted d of the contrast (NaN when unknown).
    """
    variants = {v.label: v for grid in GRIDS for v in first_level_variants(grid)}
    spec_rows, null_rows, summary_rows = [], [], []
    for outcome in OUTCOMES:
        d_all, p_all = [], []
        labels = None
        for label in dict.fromkeys(scores["first_level"]):
            v = variants[label]
            for metric in METRICS:
                sub = scores[(scores.first_level == label) & (scores.outcome == outcome)
                             & (scores.metric == metric)]
                frame = participant_frame(sub, participants)
                if labels is None:
                    labels = permuted_labels(frame["group"].to_numpy(), contrast,
                                             n_permutations, seed)
                elif not np.array_equal(labels[0], frame["group"].to_numpy()):
                    raise MindpainError(f"multiverse: variant {label} has a different set of "
                                        "participants than the first")
                for res in estimate_specs(frame, labels, contrast):
                    spec_rows.append({
                        "outcome": outcome, "contrast": contrast, "first_level": label,
                        "smoothing_fwhm": v.smoothing_fwhm or 0.0, "hrf_model": v.hrf_model,
                        "high_pass_s": v.high_pass_s, "confounds": v.confounds,
                        "metric": metric, "model": res["model"], "sample": res["sample"],
                        "covariates": res["covariates"], "estimate_d": res["d"][0],
                        "ci_low": res["ci_low"][0], "ci_high": res["ci_high"][0],
                        "p": res["p"][0], "n": res["n"],
                        "planted_d": planted.get(outcome, np.nan)})
                    d_all.append(res["d"])
                    p_all.append(res["p"])
        d_all, p_all = np.asarray(d_all).T, np.asarray(p_all).T  # (R + 1, specs)
        share, median = curve_statistics(d_all, p_all)
        B = share.size - 1
        null_rows.append(pd.DataFrame({"outcome": outcome, "permutation": np.arange(1, B + 1),
                                       "share_significant": share[1:],
                                       "median_d": median[1:]}))
        summary_rows.append({
            "outcome": outcome, "contrast": contrast, "n_specs": d_all.shape[1],
            "share_significant": share[0], "median_d": median[0],
            "p_share": (1 + np.sum(share[1:] >= share[0] - 1e-12)) / (1 + B),
            "p_median": (1 + np.sum(median[1:] <= median[0])) / (1 + B),
            "null_share_mean": share[1:].mean(), "null_share_q95": np.quantile(share[1:], 0.95),
            "permutations": B, "planted_d": planted.get(outcome, np.nan)})
    specs = pd.DataFrame(spec_rows)
    specs["significant"] = (specs["p"] < ALPHA) & (specs["estimate_d"] < 0)
    specs.insert(0, "spec", np.arange(len(specs)))
    return Multiverse(specs=specs[list(SPEC_COLUMNS)],
                      null=pd.concat(null_rows, ignore_index=True),
                      summary=pd.DataFrame(summary_rows))


def run_multiverse(cfg, contrast: str = "MBSR_vs_HEP", n_permutations: int = N_PERMUTATIONS,
                   progress: bool = False, grid: str = "book") -> Multiverse:
    """Run every first-level variant and scoring on ``cfg``'s dataset, then the curve.

    Returns
    -------
    Multiverse
        ``specs`` (columns :data:`SPEC_COLUMNS`), ``null`` (one row per outcome and
        permutation), ``summary`` (share significant, median d, their null p values) and
        ``timing`` (seconds per variant and for the statistics).
    """
    from mindpain.bids import load_participants
    from mindpain.pipeline import ensure_dataset, outcome_signatures
    from mindpain.trial import truth_table

    bids_dir = ensure_dataset(cfg)
    sigs = outcome_signatures(cfg)
    sigs = {k: sigs[k] for k in OUTCOMES}
    frames, timing = [], {"variants": {}}
    for variant in first_level_variants(grid):
        table, seconds, runs = run_variant(cfg, bids_dir, variant, sigs, progress)
        frames.append(table)
        timing["variants"][variant.label] = {"seconds": seconds, "runs_computed": runs}
    start = time.perf_counter()
    truth = truth_table(cfg)
    truth = truth[truth["contrast"] == contrast].set_index("outcome")["planted_d"]
    result = analyse_scores(pd.concat(frames, ignore_index=True), load_participants(bids_dir),
                            {k: float(truth.get(k, np.nan)) for k in OUTCOMES}, contrast,
                            n_permutations, cfg.seed)
    timing["statistics_seconds"] = time.perf_counter() - start
    result.timing = timing
    return result


# ---------------------------------------------------------------- committed result


def content_key(preset: str, seed: int, n_permutations: int = N_PERMUTATIONS,
                contrast: str = "MBSR_vs_HEP", grid: str = "book") -> dict:
    """Key of a multiverse result: preset, seed, grid, permutations and a code fingerprint.

    The fingerprint (:func:`mindpain.io.code_fingerprint`) hashes the code of this module and
    of every package module it imports, transitively (:func:`mindpain.io.code_closure`: twin,
    first level, scoring, signatures, models; docstrings and comments do not count) and the
    twin's parameter file.
    """
    from mindpain.io import code_closure, code_fingerprint

    return {"preset": preset, "seed": int(seed), "contrast": contrast,
            "n_permutations": int(n_permutations),
            "first_level": [v.label for v in first_level_variants(grid)],
            "metrics": list(METRICS), "models": [list(m) for m in MODEL_SAMPLES],
            "covariates": list(COVARIATE_SETS), "outcomes": list(OUTCOMES),
            "code": code_fingerprint(code_closure(__name__))}


def write_result(result: Multiverse, folder, key: dict) -> Path:
    """Write the multiverse's three tables and ``multiverse.json`` atomically into ``folder``.

    Files: ``multiverse_specs.tsv``, ``multiverse_null.tsv``, ``multiverse_summary.tsv`` and
    ``multiverse.json`` (key, column meanings, timing).
    """
    from mindpain.io import write_json, write_tsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_tsv(folder / "multiverse_specs.tsv", result.specs, float_format="%.10g")
    write_tsv(folder / "multiverse_null.tsv", result.null, float_format="%.10g")
    write_tsv(folder / "multiverse_summary.tsv", result.summary, float_format="%.10g")
    return write_json(folder / "multiverse.json", {
        "key": key, "columns": SPEC_COLUMNS, "timing": result.timing,
        "made_by": "make multiverse (python -m mindpain.multiverse)"})


def load_result(folder, key: dict) -> Multiverse:
    """Read a committed multiverse; a missing or stale one raises a one-line error.

    Raises
    ------
    MindpainError
        When the files are absent or their key differs from ``key`` (the code, the twin's
        parameters, the seed or the grid changed): run ``make multiverse``.
    """
    folder = Path(folder)
    meta_path = folder / "multiverse.json"
    hint = f"run `make multiverse SEED={key['seed']}` to (re)compute it"
    if not meta_path.is_file():
        raise MindpainError(f"no precomputed multiverse; {hint}", meta_path)
    meta = json.loads(meta_path.read_text())
    if meta.get("key") != key:
        stored = meta.get("key", {})
        changed = sorted(k for k in set(key) | set(stored) if key.get(k) != stored.get(k))
        raise MindpainError(f"precomputed multiverse is stale ({', '.join(changed)} changed); "
                            f"{hint}", meta_path)

    def read(name):
        return pd.read_csv(folder / name, sep="\t", na_values="n/a")

    return Multiverse(specs=read("multiverse_specs.tsv"), null=read("multiverse_null.tsv"),
                      summary=read("multiverse_summary.tsv"), timing=meta.get("timing", {}))


def load_or_run(cfg, n_permutations: int = N_PERMUTATIONS, folder=None,
                small_permutations: int = 200) -> tuple:
    """Return the book's multiverse: committed for the full twin, computed for the small one.

    The full twin's first level costs minutes per variant, so the book reads the result
    that ``make multiverse`` computed on the ``reduced`` preset (full design, coarse grid)
    and checks its key. The small twin (tests) is cheap and is computed here, on the
    smoothing axis only and with ``small_permutations``.

    Returns
    -------
    tuple
        (:class:`Multiverse`, preset it was computed on, whether it was read from disk).
    """
    if cfg.preset == "small":
        return (run_multiverse(cfg, n_permutations=small_permutations, grid="small"),
                cfg.preset, False)
    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    key = content_key(PRECOMPUTED_PRESET, cfg.seed, n_permutations)
    return load_result(folder, key), PRECOMPUTED_PRESET, True


def write_multiverse(specs: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write ``multiverse.tsv`` (every specification) and its JSON sidecar to the tables."""
    from mindpain.design import write_table

    return write_table(specs, "multiverse.tsv", SPEC_COLUMNS, cfg, out_dir,
                       Description="Specification curve: one row per specification of the "
                                   "multiverse")


def main(argv=None) -> int:
    """``python -m mindpain.multiverse``: compute and write the committed multiverse."""
    from mindpain.config import get_config

    parser = argparse.ArgumentParser(prog="python -m mindpain.multiverse",
                                     description=main.__doc__)
    parser.add_argument("--preset", default=PRECOMPUTED_PRESET)
    parser.add_argument("--seed", default=None)
    parser.add_argument("--out", default=str(PRECOMPUTED_DIR))
    parser.add_argument("--n-permutations", type=int, default=N_PERMUTATIONS)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--grid", default="book", choices=sorted(GRIDS))
    args = parser.parse_args(argv)
    overrides = {"preset": args.preset, "bids_dir": None}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.n_jobs is not None:
        overrides["n_jobs"] = args.n_jobs
    try:
        cfg = get_config(**overrides)
        key = content_key(cfg.preset, cfg.seed, args.n_permutations, grid=args.grid)
        result = run_multiverse(cfg, n_permutations=args.n_permutations, progress=True,
                                grid=args.grid)
        path = write_result(result, args.out, key)
    except MindpainError as err:
        print(f"mindpain multiverse: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({len(result.specs)} specifications)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
