"""Calibration of the meditator analyses on replications of the twin's participant level.

:func:`calibrate_meditators` re-draws the twin many times and measures, per method, the
coverage of the 95% CIs of the planted values
(:func:`mindpain.twin.meditators.planted_meditator_effects`), the false-positive rate where
the parameter is a planted null (after Holm) and the power elsewhere;
:func:`load_or_calibrate` caches the table in ``meditator_coverage.tsv``.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.core.checksums import code_closure, code_fingerprint
from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.core.store import cached_table, table_path
from mindpain.core.vocabulary import SIGNATURE_OUTCOMES, TRIAL_OUTCOMES
from mindpain.meditators.models import (
    covariates,
    design_matrix,
    group_batch,
    meditator_table,
    ols_batch,
    scaled_slope,
    spearman_batch,
)
from mindpain.stats.effect_sizes import fisher_ci, standardised
from mindpain.stats.multiplicity import holm_rows
from mindpain.truth import planted_meditator_effects
from mindpain.twin.params import participant_level_parameters
from mindpain.twin.participants import draw_participants, simulate_observed

#: Columns of ``meditator_coverage.tsv``.
COVERAGE_COLUMNS = ["analysis", "outcome", "quantity", "value", "mc_se", "replications",
                    "planted", "mean_estimate", "note"]


def replicated_outcomes(params, seed: int, n_replications: int):
    """Return the replicated outcomes as arrays and the analysed participants' covariates.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The participant-level model's parameters
        (:func:`~mindpain.twin.params.participant_level_parameters`).
    seed : int
        Master seed.
    n_replications : int
        Number of replications.

    Returns
    -------
    tuple
        ``(data, arrays)``: the first replication's meditator table and the outcomes of every
        replication as arrays (used by the calibration and by
        :func:`mindpain.recoverable.practice_replications`, so both read the same draws).
    """
    people = draw_participants(params, seed)
    obs = simulate_observed(params, seed, n_replications)
    obs = obs[obs["session"].eq("pre")]
    first = obs[obs["replication"].eq(0)].drop(columns="replication")
    first = first.merge(people[["participant_id", "age", "sex"]], on="participant_id")
    data = meditator_table(first, people)
    order = data["participant_id"].tolist()
    arrays = {}
    for k in TRIAL_OUTCOMES:
        wide = obs.pivot(index="replication", columns="participant_id", values=k)
        arrays[k] = wide[order].to_numpy(float)
    return data, arrays


def calibration_estimates(data: pd.DataFrame, arrays: dict) -> pd.DataFrame:
    """Vectorised estimates of every calibrated analysis for every replication.

    The participants (hours, age, sex) are fixed across replications, so every regression
    shares one design and all replications are fitted at once.

    Returns
    -------
    pandas.DataFrame
        ``replication, outcome, effect, method, estimate, ci_low, ci_high, p, p_adj``.
    """
    ltm = data["cohort"].eq("LTM").to_numpy()
    cov, _ = covariates(data)
    frames = []

    def add(k, effect, method, est, lo, hi, p):
        R = len(est)
        frames.append(pd.DataFrame({"replication": np.arange(R), "outcome": k, "effect": effect,
                                    "method": method, "estimate": est, "ci_low": lo,
                                    "ci_high": hi, "p": p}))

    Xg, _, _ = design_matrix(pd.concat([cov, pd.Series(ltm.astype(float), name="ltm",
                                                 index=data.index)], axis=1),
                       ["ltm", *cov.columns])
    for k in TRIAL_OUTCOMES:
        Y = arrays[k]
        g = group_batch(Y[:, ltm], Y[:, ~ltm])
        add(k, "group", "welch_d", g["d"], g["ci_low"], g["ci_high"], g["p"])
        fit = ols_batch(Xg, Y, hc3=True)
        out = standardised(fit["coef"][:, 1], fit["se"][:, 1], g["sd_pooled"], fit["df"])
        add(k, "group", "ancova_d", out["d"], out["ci_low"], out["ci_high"], out["p"])
    med = data[ltm]
    cov_m = cov[ltm]
    n_naive = int((~ltm).sum())
    for k in SIGNATURE_OUTCOMES:
        Y = arrays[k][:, ltm]
        scale = arrays[k][:, ~ltm].std(-1, ddof=1)
        for effect, preds in (("retreat", ["log_retreat", "log_daily"]),
                              ("daily", ["log_daily", "log_retreat"]),
                              ("lifetime", ["log_lifetime"])):
            frame = pd.concat([med[preds], cov_m], axis=1)
            X, keep, _ = design_matrix(frame, [*preds, *cov_m.columns])
            fit = ols_batch(X, Y)
            c, se = fit["coef"][:, 1], fit["se"][:, 1]
            t = c / se
            p = 2 * stats.t.sf(np.abs(t), fit["df"])
            est, lo, hi = scaled_slope(c, se, fit["df"], scale, n_naive)
            add(k, effect, "ols", est, lo, hi, p)
            r = t / np.sqrt(t**2 + fit["df"])
            lo, hi = fisher_ci(r, len(Y.T) - (len(keep) - 1))
            add(k, effect, "partial_r", r, lo, hi, p)
            rho, p_s = spearman_batch(med[preds[0]].to_numpy(float), Y)
            nan = np.full(len(rho), np.nan)
            add(k, effect, "spearman", rho, nan, nan, p_s)
    est = pd.concat(frames, ignore_index=True)
    est["p_adj"] = _holm_by_replication(est)
    return est


def _holm_by_replication(est: pd.DataFrame) -> np.ndarray:
    """Holm within the families of the module docstring, separately per replication."""
    domain = np.where(est["outcome"].isin(SIGNATURE_OUTCOMES), "signature", "rating")
    family = np.where(est["effect"].isin(["retreat", "daily"]), "dose", est["effect"])
    adj = np.full(len(est), np.nan)
    keys = pd.Series(list(zip(est["method"], domain, family, strict=True)), index=est.index)
    for _, idx in est.groupby(keys).groups.items():
        sub = est.loc[idx]
        wide = sub.pivot_table(index="replication", columns=["outcome", "effect"], values="p",
                               aggfunc="first")
        adjusted = pd.DataFrame(holm_rows(wide.to_numpy()), index=wide.index,
                                columns=wide.columns)
        long = adjusted.stack(["outcome", "effect"], future_stack=True).rename("p_adj")
        keyed = sub.join(long, on=["replication", "outcome", "effect"])
        adj[est.index.get_indexer(idx)] = keyed["p_adj"].to_numpy()
    return adj


def _rlm_estimates(data: pd.DataFrame, arrays: dict, n_rep: int,
                   outcomes=SIGNATURE_OUTCOMES) -> pd.DataFrame:
    """Huber RLM slopes for the first ``n_rep`` replications (one statsmodels fit each)."""
    import statsmodels.api as sm

    ltm = data["cohort"].eq("LTM").to_numpy()
    cov, _ = covariates(data)
    med, cov_m = data[ltm], cov[ltm]
    n_naive = int((~ltm).sum())
    frame = pd.concat([med[["log_retreat", "log_daily"]], cov_m], axis=1)
    X, keep, _ = design_matrix(frame, ["log_retreat", "log_daily", *cov_m.columns])
    df = X.shape[0] - X.shape[1]
    rows = []
    for k in outcomes:
        Y, scale = arrays[k][:n_rep, ltm], arrays[k][:n_rep, ~ltm].std(-1, ddof=1)
        for rep in range(len(Y)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = sm.RLM(Y[rep], X, M=sm.robust.norms.HuberT()).fit()
            for effect, j in (("retreat", 1), ("daily", 2)):
                est, lo, hi = scaled_slope(fit.params[j], fit.bse[j], df, scale[rep], n_naive)
                rows.append({"replication": rep, "outcome": k, "effect": effect, "method": "rlm",
                             "estimate": est, "ci_low": lo, "ci_high": hi,
                             "p": 2 * stats.t.sf(abs(fit.tvalues[j]), df)})
    return pd.DataFrame(rows)


def calibrate_meditators(seed: int, preset: str = "full", n_replications: int = 1000,
                         rlm_replications: int = 200) -> pd.DataFrame:
    r"""Coverage and false-positive rates of the meditator analyses over replications.

    Draws ``simulate_observed(params, seed, n_replications)`` with ``params`` the
    participant-level model of ``preset``
    (:func:`~mindpain.twin.params.participant_level_parameters`, loaded once; same
    participants, hours and ages in every replication; new true levels and noise), runs
    the vectorised estimators (:func:`calibration_estimates`) and Huber RLM on the first
    ``rlm_replications`` replications, and summarises per analysis and outcome:

    * ``coverage``: share of replications whose 95% CI contains the planted value;
    * ``false_positive_rate``: where the parameter file plants 0 (``group_d``,
      ``retreat_slope`` or ``daily_slope`` of the outcome's signatures), the share of
      replications with **unadjusted** p < .05, the per-test error rate that the nominal
      5% refers to. The ``planted`` column shows what the generator implies (not always
      exactly 0);
    * ``power``: the share with Holm-adjusted p < .05 where the planted value is not 0;
    * ``rejection_rate``: the share with unadjusted p < .05 for a marginal Spearman
      correlation whose parameter is 0 but which is not a null (no planted value).

    RLM (Huber) is refitted for the retreat and daily slopes of the four signatures on
    the first ``rlm_replications`` replications (one statsmodels fit each).

    ``mc_se`` is :math:`\sqrt{\hat q(1-\hat q)/R}`.
    """
    params = participant_level_parameters(preset)
    data, arrays = replicated_outcomes(params, seed, n_replications)
    est = calibration_estimates(data, arrays)
    if rlm_replications:
        rlm = _rlm_estimates(data, arrays, min(rlm_replications, n_replications))
        rlm["p_adj"] = _holm_by_replication(rlm)
        est = pd.concat([est, rlm], ignore_index=True)
    # the planted values are the measurement model's, the same in every world
    planted = planted_meditator_effects(params)
    est = est.merge(planted, on=["outcome", "effect", "method"], how="left")
    est["analysis"] = est["effect"] + "_" + est["method"]
    rows = []
    for (analysis, k), sub in est.groupby(["analysis", "outcome"], sort=False):
        truth, R = float(sub["planted"].iloc[0]), len(sub)
        pnull = float(sub["parameter_value"].iloc[0]) == 0.0
        common = {"analysis": analysis, "outcome": k, "replications": R, "planted": truth,
                  "mean_estimate": float(sub["estimate"].mean())}
        if np.isfinite(truth) and sub["ci_low"].notna().all():
            cov = ((sub["ci_low"] <= truth) & (truth <= sub["ci_high"])).mean()
            rows.append({**common, "quantity": "coverage", "value": cov, "note": ""})
        rate = float((sub["p"] < 0.05).mean())
        which = "unadjusted"
        if pnull and not np.isfinite(truth):
            rows.append({**common, "quantity": "rejection_rate", "value": rate,
                         "note": f"{which} p < .05; parameter is 0 but this marginal rank "
                                 "correlation is not a null (practice components correlate)"})
        elif pnull:
            note = f"{which} p < .05"
            if np.isfinite(truth) and abs(truth) > 1e-9:
                note += (f"; parameter is 0 but the generator implies {truth:+.3f}, so not "
                         "every rejection is false")
            rows.append({**common, "quantity": "false_positive_rate", "value": rate,
                         "note": note})
        elif np.isfinite(truth) and abs(truth) > 1e-9:
            rows.append({**common, "quantity": "power",
                         "value": float((sub["p_adj"] < 0.05).mean()),
                         "note": "Holm-adjusted p < .05"})
    out = pd.DataFrame(rows)
    out["mc_se"] = np.sqrt(out["value"] * (1 - out["value"]) / out["replications"])
    return out[COVERAGE_COLUMNS]


def _code_fingerprint() -> str:
    """Hash of the code and parameters that determine the calibration."""
    return code_fingerprint(code_closure(__name__))


def load_or_calibrate(cfg, n_replications: int = 1000, rlm_replications: int = 200,
                      preset: str = "full") -> pd.DataFrame:
    """Return the calibration table, computing it only when its cache is absent or stale.

    Written to ``results/tables/meditator_coverage.tsv`` with a JSON sidecar holding the
    cache key: preset, seed, replication counts and a hash of the code and parameters. A copy
    committed in ``book/precomputed/`` under the same key is adopted instead of computing.
    Calibration uses the full design by default (participant level only, no BOLD).
    """
    key = {"seed": int(cfg.seed), "preset": preset, "n_replications": int(n_replications),
           "rlm_replications": int(rlm_replications), "code": _code_fingerprint()}
    return cached_table(
        table_path(cfg, "meditator_coverage.tsv"), key,
        lambda: calibrate_meditators(cfg.seed, preset, n_replications, rlm_replications),
        {"quantity": "coverage (95% CI contains planted), false_positive_rate (parameter-level "
                     "null rejected at .05 after Holm) or power",
         "value": "share of replications", "mc_se": "Monte-Carlo standard error",
         "planted": "value implied by the generator", "mean_estimate": "mean over replications"},
        committed=PRECOMPUTED_DIR)
