r"""Long-term meditators (LTM): group comparison with naive participants and dose-response.

Inputs are the *outcomes table* (one row per participant and session: ``participant_id,
session, group`` and the outcomes ``nps, nps_pos, nps_neg, siips1, intensity,
unpleasantness``; ``age`` and ``sex`` for the adjusted analyses) and a *practice table*
(``participant_id, lifetime_hours, retreat_hours``; BIDS ``phenotype/practice.tsv`` or the
participants table). :func:`meditator_table` checks both once (:func:`validate_practice`)
and returns one row per analysed participant: each LTM's single session and each naive
participant's baseline (session ``pre`` of groups MBSR, HEP and WL). The checked input and
the vectorised estimators are in :mod:`mindpain.meditators.models` (import them from
there); this module runs the analysis, compares it with the planted
truth (read through :mod:`mindpain.truth`), writes and displays it.

Practice predictors
-------------------
Non-retreat ("daily") practice is lifetime minus retreat hours. Hours enter as
:math:`\log_{10}\max(h, 1)`, the twin's own transform (zero hours count as one hour).
Estimated slopes are per **tenfold** more hours (one unit of :math:`\log_{10}`).

Group comparison (LTM vs naive baseline), per outcome
-----------------------------------------------------
``welch_d``
    Cohen's d: mean difference (LTM minus naive) over the pooled SD. p from Welch's t test;
    the 95% CI inverts the noncentral t of the Welch statistic (Welch df) and is mapped to
    the d scale with the ratio of the Welch SE to the pooled SD
    (:func:`mindpain.stats.effect_sizes.standardised`).
``ancova_d``
    OLS ``y ~ LTM + age + sex`` with HC3 standard errors (the groups differ in size and,
    for SIIPS1, in variance); the adjusted difference is divided by the same pooled SD.
``bf10``
    JZS Bayes factor :math:`BF_{10}` (pingouin, Cauchy prior scale 0.707) of the
    pooled-variance t; no CI or p.

Dose-response within meditators, per signature
----------------------------------------------
``retreat`` and ``daily`` come from one model holding the other component (and age, sex)
fixed; ``lifetime`` is a separate model on lifetime hours (and age, sex).

``ols``
    OLS slope, divided by the SD of the naive baseline (so: naive SDs per tenfold hours).
    95% CI: t quantile (residual df) times a delta-method SE that adds the sampling
    variance of the naive SD, :math:`\mathrm{Var}(s)/s^2 \approx 1/(2(n_{naive}-1))`.
``rlm``
    statsmodels RLM with Huber's norm (t = 1.345, MAD scale, H1 covariance), same
    scaling; CI and p use the t distribution with the OLS residual df (a small-sample
    correction of statsmodels' normal reference) and the same delta method.
``partial_r``
    Partial correlation of the outcome with log hours controlling the same covariates
    (pingouin ``partial_corr``; Fisher-z CI with :math:`n - k - 3` df, k covariates).
``spearman``
    Spearman correlation of the outcome with log hours (no covariates); p from scipy;
    95% CI from a seeded percentile bootstrap over meditators.

Planted values
--------------
The twin's value of every estimand is derived in :mod:`mindpain.twin.meditators`
(:func:`~mindpain.twin.meditators.planted_meditator_effects`), which the twin writes into the
dataset; :func:`truth_for` reads it from there through :mod:`mindpain.truth`.

Multiplicity
------------
Holm's step-down correction per method within families: the group comparison on the four
signatures; on the two ratings; retreat and daily slopes on the four signatures (8 tests);
lifetime slopes on the four signatures. ``p`` is unadjusted, ``p_adj`` Holm-adjusted.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.core.config import derive_rng
from mindpain.core.io import write_json, write_tsv
from mindpain.core.vocabulary import (
    GROUP_METHODS,
    OUTCOME_LABELS,
    SIGNATURE_OUTCOMES,
    TRIAL_OUTCOMES,
)
from mindpain.meditators.models import (
    PREDICTORS,
    covariates,
    design_matrix,
    group_batch,
    meditator_table,
    ols_batch,
    scaled_slope,
)
from mindpain.stats.effect_sizes import LEVEL, fisher_ci, standardised
from mindpain.stats.multiplicity import holm_by_family
from mindpain.truth import read_meditator_truth

#: Columns of ``meditator_effects.tsv``.
EFFECT_COLUMNS = ["outcome", "effect", "method", "analysis", "estimate", "ci_low", "ci_high",
                  "p", "p_adj", "planted", "n", "note"]
EFFECT_LABELS = {"group": "LTM vs naive", "retreat": "retreat hours",
                 "daily": "non-retreat hours", "lifetime": "lifetime hours"}
METHOD_LABELS = {"welch_d": "Welch t, Cohen's d", "ancova_d": "ANCOVA (age, sex), d",
                 "bf10": "Bayes factor BF10", "ols": "OLS slope", "rlm": "Huber RLM slope",
                 "partial_r": "partial r", "spearman": "Spearman rho"}
MIN_BOOT_N = 8


# ---------------------------------------------------------------- analysis


def _row(outcome, effect, method, n, estimate=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan,
         note=""):
    return {"outcome": outcome, "effect": effect, "method": method,
            "analysis": f"{effect}_{method}", "estimate": float(estimate),
            "ci_low": float(ci_low), "ci_high": float(ci_high), "p": float(p), "n": int(n),
            "note": note}


def _join(*notes) -> str:
    return "; ".join(n for n in notes if n)


def compare_groups(data: pd.DataFrame, outcomes=TRIAL_OUTCOMES) -> list[dict]:
    """LTM vs naive baseline per outcome: ``welch_d``, ``ancova_d`` and ``bf10`` rows."""
    import pingouin as pg

    rows = []
    cov, cov_notes = covariates(data)
    for k in outcomes:
        ok = data[k].notna()
        a = data.loc[ok & data["cohort"].eq("LTM"), k].to_numpy(float)
        b = data.loc[ok & data["cohort"].eq("naive"), k].to_numpy(float)
        n = a.size + b.size
        if a.size < 2 or b.size < 2:
            note = f"needs at least 2 per group (LTM {a.size}, naive {b.size})"
            rows += [_row(k, "group", m, n, note=note) for m in GROUP_METHODS]
            continue
        g = group_batch(a, b)
        rows.append(_row(k, "group", "welch_d", n, g["d"][0], g["ci_low"][0], g["ci_high"][0],
                         g["p"][0]))
        bf = float(pg.bayesfactor_ttest(float(g["t_pooled"][0]), a.size, b.size))
        rows.append(_row(k, "group", "bf10", n, bf,
                         note="JZS BF10 (r = 0.707) of the pooled t; no CI or p"))
        frame = pd.concat([data.loc[ok, [k]], cov.loc[ok]], axis=1)
        frame["ltm"] = data.loc[ok, "cohort"].eq("LTM").astype(float)
        complete = frame.dropna()
        lost = len(frame) - len(complete)
        note = _join(*cov_notes, f"{lost} without age/sex left out" if lost else "")
        X, keep, const_note = design_matrix(complete, ["ltm", *[c for c in cov.columns]])
        if "ltm" not in keep or len(complete) - X.shape[1] < 1:
            rows.append(_row(k, "group", "ancova_d", len(complete),
                             note=_join(note, const_note, "too few participants to adjust")))
            continue
        fit = ols_batch(X, complete[k].to_numpy(float)[None, :], hc3=True)
        j = 1 + keep.index("ltm")
        sd = g["sd_pooled"][0]
        out = standardised(fit["coef"][0, j], fit["se"][0, j], sd, fit["df"])
        rows.append(_row(k, "group", "ancova_d", len(complete), out["d"], out["ci_low"],
                         out["ci_high"], out["p"], _join(note, const_note)))
    return rows


def _bootstrap_spearman(x, y, rng, n_boot: int, level: float = LEVEL):
    n = x.size
    idx = rng.integers(0, n, size=(n_boot, n))
    r = _spearman_pairs(x[idx], y[idx])
    ok = np.isfinite(r)
    if ok.mean() < 0.95:
        return np.nan, np.nan, f"bootstrap: only {ok.sum()} of {n_boot} resamples defined"
    lo, hi = np.quantile(r[ok], [0.5 - level / 2, 0.5 + level / 2])
    return lo, hi, ""


def _spearman_pairs(X, Y):
    """Row-wise Spearman rho of paired rows of ``X`` and ``Y``; NaN for constant rows."""
    rx, ry = stats.rankdata(X, axis=-1), stats.rankdata(Y, axis=-1)
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (rx * ry).sum(-1) / np.sqrt((rx**2).sum(-1) * (ry**2).sum(-1))


def dose_response(data: pd.DataFrame, outcomes=SIGNATURE_OUTCOMES, *, seed: int = 0,
                  n_boot: int = 2000) -> list[dict]:
    """Retreat, daily and lifetime practice against each outcome, within meditators.

    See the module docstring for the models. Returns result rows (one per outcome ×
    effect × method); an analysis that cannot be run (too few meditators for its
    parameters, a constant predictor) gives NaN with the reason in ``note``.
    """
    import pingouin as pg
    import statsmodels.api as sm

    rows = []
    cov, cov_notes = covariates(data)
    models = {"retreat": ["log_retreat", "log_daily"], "daily": ["log_daily", "log_retreat"],
              "lifetime": ["log_lifetime"]}
    for k in outcomes:
        naive = data.loc[data["cohort"].eq("naive"), k].dropna().to_numpy(float)
        scale, n_scale = (naive.std(ddof=1), naive.size) if naive.size >= 2 else (np.nan, 0)
        med = pd.concat([data[[k, *PREDICTORS.values()]], cov], axis=1)[data["cohort"].eq("LTM")]
        for effect, preds in models.items():
            frame = med[[k, *preds, *cov.columns]].dropna()
            lost = int(med[[k, *preds]].notna().all(axis=1).sum()) - len(frame)
            base = _join(*cov_notes, f"{lost} without age/sex left out" if lost > 0 else "")
            n = len(frame)
            y, x = frame[k].to_numpy(float), frame[preds[0]].to_numpy(float)
            # Spearman: marginal, bootstrap CI.
            if n >= 3 and np.ptp(x) > 0 and np.ptp(y) > 0:
                rho, p = stats.spearmanr(x, y)
                if n >= MIN_BOOT_N:
                    lo, hi, bnote = _bootstrap_spearman(
                        x, y, derive_rng(seed, "meditators-bootstrap", k, effect), n_boot)
                else:
                    lo, hi, bnote = np.nan, np.nan, (f"bootstrap CI needs at least {MIN_BOOT_N} "
                                                     f"meditators (n = {n})")
                rows.append(_row(k, effect, "spearman", n, rho, lo, hi, p,
                                 _join(f"percentile bootstrap, {n_boot} resamples"
                                       if not bnote else "", bnote)))
            else:
                rows.append(_row(k, effect, "spearman", n,
                                 note=f"needs at least 3 meditators with varying values (n = {n})"))
            # Regression models share one design.
            X, keep, const_note = design_matrix(frame, [*preds, *cov.columns])
            p_par = X.shape[1]
            note = _join(base, const_note)
            if preds[0] not in keep or n - p_par < 1 or not np.isfinite(scale):
                why = (f"{preds[0]} constant" if preds[0] not in keep else
                       "no naive baseline to scale by" if not np.isfinite(scale) else
                       f"needs more than {p_par} meditators for {p_par} parameters (n = {n})")
                rows += [_row(k, effect, m, n, note=_join(note, why))
                         for m in ("ols", "rlm", "partial_r")]
                continue
            j = 1 + keep.index(preds[0])
            fit = ols_batch(X, y[None, :])
            est, lo, hi = scaled_slope(fit["coef"][0, j], fit["se"][0, j], fit["df"], scale,
                                       n_scale)
            t = fit["coef"][0, j] / fit["se"][0, j]
            rows.append(_row(k, effect, "ols", n, est, lo, hi,
                             2 * stats.t.sf(abs(t), fit["df"]),
                             _join(note, "naive SD per tenfold hours")))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                rlm = sm.RLM(y, X, M=sm.robust.norms.HuberT()).fit()
            est, lo, hi = scaled_slope(rlm.params[j], rlm.bse[j], fit["df"], scale, n_scale)
            rows.append(_row(k, effect, "rlm", n, est, lo, hi,
                             2 * stats.t.sf(abs(rlm.tvalues[j]), fit["df"]),
                             _join(note, "naive SD per tenfold hours")))
            covar = [c for c in keep if c != preds[0]]
            if n - len(covar) - 3 < 1:
                rows.append(_row(k, effect, "partial_r", n, note=_join(
                    note, f"Fisher CI needs n > {len(covar) + 3} (n = {n})")))
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                pc = pg.partial_corr(frame, x=preds[0], y=k, covar=covar or None)
            pcol = next(c for c in ("p_val", "p_unc", "p-val", "pval") if c in pc.columns)
            # pingouin's Fisher-z CI (n - k - 3 df) is rounded to 2 decimals: recompute it.
            r_p = float(pc["r"].iloc[0])
            lo, hi = fisher_ci(r_p, n - len(covar))
            rows.append(_row(k, effect, "partial_r", n, r_p, lo, hi,
                             pc[pcol].iloc[0], _join(note, "controls " + ", ".join(covar)
                                                     if covar else "")))
    return rows


def holm_families(effects: pd.DataFrame) -> np.ndarray:
    """Holm-adjusted p values in the families of the module docstring (NaN p stay NaN)."""
    domain = np.where(effects["outcome"].isin(SIGNATURE_OUTCOMES), "signature", "rating")
    family = np.where(effects["effect"].isin(["retreat", "daily"]), "dose", effects["effect"])
    return holm_by_family(effects["p"], [effects["method"], domain, family])


@dataclass
class MeditatorAnalysis:
    """Result of :func:`analyse_meditators`.

    Attributes
    ----------
    effects : pandas.DataFrame
        The results table (:data:`EFFECT_COLUMNS`).
    data : pandas.DataFrame
        The analysed rows (:func:`meditator_table`).
    """

    effects: pd.DataFrame
    data: pd.DataFrame


def analyse_meditators(outcomes: pd.DataFrame, practice: pd.DataFrame, *,
                       planted: pd.DataFrame | None = None, seed: int = 0, n_boot: int = 2000,
                       source=None) -> MeditatorAnalysis:
    """Group comparison and dose-response of the long-term meditators.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Outcomes table (with ``age`` and ``sex`` for the adjusted analyses).
    practice : pandas.DataFrame
        ``participant_id, lifetime_hours, retreat_hours`` (meditators).
    planted : pandas.DataFrame, optional
        ``outcome, effect, method, planted`` (:func:`truth_for` of the dataset, or
        :func:`mindpain.truth.planted_meditator_effects` of a preset); without it
        ``planted`` is NaN.
    seed : int
        Seed of the bootstrap.
    n_boot : int
        Bootstrap resamples.
    source : str or path-like, optional
        Origin of ``practice`` (error messages).

    Returns
    -------
    MeditatorAnalysis

    Examples
    --------
    >>> from mindpain.twin import draw_participants, participant_level_parameters
    >>> from mindpain.twin import simulate_observed
    >>> params = participant_level_parameters("small")
    >>> obs = simulate_observed(params, 1, 1).drop(columns="replication")
    >>> people = draw_participants(params, 1)
    >>> obs = obs.merge(people[["participant_id", "age", "sex"]], on="participant_id")
    >>> res = analyse_meditators(obs, people, n_boot=200)
    >>> sorted(res.effects["effect"].unique())
    ['daily', 'group', 'lifetime', 'retreat']
    """
    data = meditator_table(outcomes, practice, source)
    rows = compare_groups(data) + dose_response(data, seed=seed, n_boot=n_boot)
    effects = pd.DataFrame(rows)
    effects["p_adj"] = holm_families(effects)
    if planted is not None:
        effects = effects.merge(planted[["outcome", "effect", "method", "planted"]],
                                on=["outcome", "effect", "method"], how="left")
    else:
        effects["planted"] = np.nan
    return MeditatorAnalysis(effects=effects[EFFECT_COLUMNS], data=data)


# ---------------------------------------------------------------- planted values


def truth_for(cfg) -> pd.DataFrame | None:
    """Planted values of the configured dataset, read from the file the twin wrote into it.

    ``None`` for a dataset without planted truth (real data); see
    :func:`mindpain.truth.read_meditator_truth`.
    """
    return read_meditator_truth(cfg.dataset_dir)


# ---------------------------------------------------------------- results files


def write_meditator_effects(effects: pd.DataFrame, cfg) -> Path:
    """Write ``results/tables/meditator_effects.tsv`` atomically (with a JSON sidecar)."""
    from mindpain.core.store import table_path

    path = table_path(cfg, "meditator_effects.tsv")
    write_tsv(path, effects[EFFECT_COLUMNS])
    write_json(path.with_suffix(".json"), {
        "estimate": "welch_d/ancova_d: Cohen's d (pooled SD); bf10: Bayes factor; ols/rlm: "
                    "naive SD per tenfold hours; partial_r/spearman: correlation",
        "p": "unadjusted two-sided p", "p_adj": "Holm within families (see "
                                                    "mindpain.meditators.analysis)",
        "planted": "value the twin implies for the estimand (its planted_meditator_effects.tsv); "
                   "n/a where none applies", "n": "participants in the analysis",
        "note": "reason for a missing value or a detail of the analysis"})
    return path


# ---------------------------------------------------------------- calibration, for the chapter


def meditator_calibration_summary(coverage: pd.DataFrame, design: Mapping, *,
                                  target: float = 0.95, tolerance: float = 0.03,
                                  alpha: float = 0.05) -> dict:
    """Numbers of chapter 5's calibration paragraph: coverage, false positives and power.

    Parameters
    ----------
    coverage : pandas.DataFrame
        The meditator calibration (``meditator_coverage.tsv``): ``analysis, outcome,
        quantity, value, mc_se, replications, planted``, where ``quantity`` is
        ``coverage``, ``false_positive_rate`` or ``power``.
    design : mapping
        The twin's parameters of the study's design (the ``full`` preset's
        :func:`mindpain.twin.params.load_parameters`): ``design.n_meditators`` and the per-arm
        ``design.n_completers`` and ``design.n_baseline_only``.
    target, tolerance : float
        The nominal coverage and the accepted band around it.
    alpha : float
        The nominal false-positive rate of an unadjusted test.

    Returns
    -------
    dict
        ``reps`` (most replications of any analysis), ``reps_rlm`` (of the Huber
        regressions), ``n_ltm`` and ``n_naive`` (the calibrated design); for the SIIPS1
        retreat slope (OLS) ``retreat_value``, ``retreat_mc_se`` and ``retreat_planted``
        (its coverage) and ``retreat_power``; ``n_cov``, ``cov_min``, ``cov_max`` and
        ``n_within`` (coverages within ``target`` ± ``tolerance``); for the planted nulls
        ``n_fpr``, ``fpr_max``, ``fpr_mean``, ``fpr_bound`` (``alpha`` plus three
        Monte-Carlo SE at ``fpr_reps`` replications, the most), ``fpr_n_above`` (rates above
        their own bound) and ``group_siips1_fpr``; phrases ``fpr_worst`` (the outcome and
        analysis of the highest rate), ``fpr_verdict`` and ``fpr_summary``.

    Examples
    --------
    >>> cal = pd.DataFrame({
    ...     "analysis": ["retreat_ols", "retreat_ols", "group_welch_d", "daily_rlm"],
    ...     "outcome": ["siips1", "siips1", "siips1", "nps"],
    ...     "quantity": ["coverage", "power", "false_positive_rate", "false_positive_rate"],
    ...     "value": [0.95, 0.2, 0.04, 0.3], "mc_se": [0.01, 0.01, 0.01, 0.01],
    ...     "replications": [1000, 1000, 1000, 200], "planted": [-1.0, -1.0, 0.0, 0.0]})
    >>> design = {"design.n_meditators": 30, "design.n_completers": {"MBSR": 30},
    ...           "design.n_baseline_only": {"MBSR": 2}}
    >>> s = meditator_calibration_summary(cal, design)
    >>> s["reps"], s["reps_rlm"], s["n_naive"], s["fpr_n_above"], s["fpr_worst"]
    (1000, 200, 32, 1, 'NPS, `daily_rlm`')
    """
    cov = coverage[coverage["quantity"] == "coverage"]
    fpr = coverage[coverage["quantity"] == "false_positive_rate"]
    key = coverage.set_index(["analysis", "outcome", "quantity"])
    retreat = key.loc[("retreat_ols", "siips1", "coverage")]
    # Each rate against the nominal one plus three Monte-Carlo SE of its own replications.
    bound = alpha + 3 * np.sqrt(alpha * (1 - alpha) / fpr["replications"])
    fpr_ok = bool((fpr["value"] <= bound).all())
    worst = fpr.loc[fpr["value"].idxmax()]
    rlm = coverage["analysis"].str.endswith("rlm")
    return {
        "reps": int(coverage["replications"].max()),
        "reps_rlm": int(coverage.loc[rlm, "replications"].max()),
        "n_ltm": int(design["design.n_meditators"]),
        "n_naive": int(sum(design["design.n_completers"].values())
                       + sum(design["design.n_baseline_only"].values())),
        "retreat_value": float(retreat["value"]), "retreat_mc_se": float(retreat["mc_se"]),
        "retreat_planted": float(retreat["planted"]),
        "retreat_power": float(key.loc[("retreat_ols", "siips1", "power"), "value"]),
        "n_cov": len(cov), "cov_min": float(cov["value"].min()),
        "cov_max": float(cov["value"].max()),
        "n_within": int(((cov["value"] - target).abs() <= tolerance).sum()),
        "n_fpr": len(fpr), "fpr_max": float(fpr["value"].max()),
        "fpr_mean": float(fpr["value"].mean()), "fpr_bound": float(bound.min()),
        "fpr_reps": int(fpr["replications"].max()),
        "fpr_n_above": int((fpr["value"] > bound).sum()),
        "group_siips1_fpr": float(key.loc[("group_welch_d", "siips1", "false_positive_rate"),
                                          "value"]),
        "fpr_worst": f"{OUTCOME_LABELS.get(worst['outcome'], worst['outcome'])}, "
                     f"`{worst['analysis']}`",
        "fpr_verdict": (f"within Monte-Carlo error of the nominal {alpha:.0%}" if fpr_ok else
                        f"above the nominal {alpha:.0%} by more than Monte-Carlo error for "
                        "some of them"),
        "fpr_summary": ("planted nulls are declared significant at about the nominal rate"
                        if fpr_ok else "some planted nulls are declared significant more "
                        "often than the nominal rate"),
    }
