r"""Coverage of the planted effects: the trial models fitted on all replications at once.

The trial models are fitted on every replication of a scenario at once and the 95% CI of
every contrast's effect is put on the paper's scale (:mod:`mindpain.reported`) and checked
against the twin's planted paper-scale effect
(:func:`mindpain.twin.model.planted_trial_effects`).

Models and CIs (``model`` column)
    ``paper``: the model whose t reproduces the paper's d — between arms the difference in
    mean change over the **3-arm pooled** SD of change (df = completers − 3), within MBSR a
    one-sample t of change (df = n − 1); ``change_score``: Cohen's :math:`d_s` with the two
    arms' pooled SD (between) or :math:`d_z` (within); ``ancova`` and ``ancova_hc3``: the
    adjusted difference of ``post ~ arm + pre`` (classical and HC3 SE) over the change-score
    SD. Every CI inverts the noncentral t
    (:func:`mindpain.stats.effect_sizes.noncentral_t_ci`); a d on the change-score scale is
    put on the paper scale by the constant :math:`2/\sqrt{df\,(1/n_1 + 1/n_2)}` of the
    paper's completers (between arms; within: :math:`d_z` itself), the same constant that
    links ``planted_d`` and ``planted_d_paper``. The chapter's mixed model is not
    replicated (it is the intention-to-treat model of all sessions; the baseline-only
    sessions are not simulated here, for cost).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.endtoend.settings import (
    CI_METHODS,
    COLUMNS,
    CONTRASTS,
    MODELS,
    OUTCOMES,
    SCENARIOS,
)


def _paper_factor(contrast: str) -> float:
    """Constant from a change-score d to the paper's scale (1 within an arm)."""
    from mindpain.reported import DF_BETWEEN, N_COMPLETERS

    if contrast.endswith("_within"):
        return 1.0
    a, b = contrast.split("_vs_")
    return float(2.0 / np.sqrt(DF_BETWEEN * (1 / N_COMPLETERS[a] + 1 / N_COMPLETERS[b])))


def median_mc_se(values) -> float:
    """Monte-Carlo SE of a sample median, free of any distributional assumption.

    The order statistics at ``n/2 ± 1.96 sqrt(n)/2`` bound a 95 % confidence interval
    of the median (binomial argument); its half-width divided by 1.96 is the SE. NaN for
    fewer than 10 values.
    """
    x = np.sort(np.asarray(values, float))
    n = len(x)
    if n < 10:
        return float("nan")
    half = 1.96 * np.sqrt(n) / 2
    lo, hi = int(np.floor(n / 2 - half)), int(np.ceil(n / 2 + half))
    return float((x[min(hi, n - 1)] - x[max(lo, 0)]) / (2 * 1.96))


def replication_estimates(scores: pd.DataFrame) -> pd.DataFrame:
    """Estimates and 95% CIs on the paper's scale of every contrast and model, per replication.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`~mindpain.endtoend.replication.replicate` for many replications (one
        world).

    Returns
    -------
    pandas.DataFrame
        ``replication, outcome, contrast, model, estimate, ci_low, ci_high`` (paper scale),
        and for the paper's test its ``t`` and ``df`` (NaN for the other models).
    """
    from mindpain.stats.effect_sizes import noncentral_t_ci
    from mindpain.trial.calibration import calibration_estimates, completer_arrays, paper_test

    # Arms are randomized anew in every replication: give the completers of each arm the
    # same labels in every replication, so the replications stack column by column.
    scores = scores.sort_values(["replication", "group", "participant_id", "session"])
    rank = scores.groupby(["replication", "group"])["participant_id"].rank(method="dense")
    scores = scores.assign(participant_id=scores["group"] + "-"
                           + rank.astype(int).astype(str).str.zfill(3))
    frames = []
    for outcome in OUTCOMES:
        est = calibration_estimates(scores, outcome)
        est = est[est["contrast"].isin(CONTRASTS)].copy()
        reps = np.sort(scores["replication"].unique())
        est["replication"] = reps[est["replication"].to_numpy()]
        factor = est["contrast"].map(_paper_factor)
        est = est.rename(columns={"estimate_d": "estimate"})
        for col in ("estimate", "ci_low", "ci_high"):
            est[col] = est[col] * factor
        frames.append(est.assign(outcome=outcome))
        # the paper's test: 3-arm pooled SD between arms, one-sample t within MBSR
        pre, post, arm = completer_arrays(scores, outcome)
        for contrast in CONTRASTS:
            t, df, scale = paper_test(post - pre, arm, contrast)
            lo, hi = noncentral_t_ci(t, df)
            k = scale * _paper_factor(contrast)  # noncentrality -> d -> paper scale
            frames.append(pd.DataFrame({"replication": reps, "outcome": outcome,
                                        "contrast": contrast, "model": "paper",
                                        "estimate": t * k, "ci_low": lo * k,
                                        "ci_high": hi * k, "t": t, "df": float(df)}))
    out = pd.concat(frames, ignore_index=True)
    return out[["replication", "outcome", "contrast", "model", "estimate", "ci_low",
                "ci_high", "t", "df"]]


def coverage_table(scores_by_scenario: dict, params: dict, scenarios: dict | None = None,
                   in_mask: pd.DataFrame | None = None) -> pd.DataFrame:
    """Coverage of the planted paper-scale effects, per scenario, outcome, contrast and model.

    Parameters
    ----------
    scores_by_scenario : dict
        ``{scenario: scores}`` with ``scores`` from :func:`~mindpain.endtoend.replication.replicate`
        (many replications).
    params : dict
        ``{world: Parameters}``: the twin's parameters whose planted effects are the truth,
        for every world of ``scenarios``
        (:func:`~mindpain.endtoend.runner.world_parameters`).
    scenarios : dict, optional
        :data:`~mindpain.endtoend.settings.SCENARIOS`-like description of the scenarios (default
        :data:`~mindpain.endtoend.settings.SCENARIOS`).
    in_mask : pandas.DataFrame, optional
        :func:`~mindpain.endtoend.replication.mask_effects` of each world (concatenated): the
        planted effects as read through the analysis's mask, a second truth whose coverage is
        reported beside the first (columns ``*_in_mask``; missing when not given).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`~mindpain.endtoend.settings.COLUMNS`.
    """
    from mindpain.reported import REPORTED, expected_t, p_from_t
    from mindpain.truth import planted_trial_effects

    scenarios = SCENARIOS if scenarios is None else scenarios
    worlds = dict.fromkeys(spec[0] for spec in scenarios.values())
    planted = {w: planted_trial_effects(params[w]).set_index(["outcome", "contrast"])
               for w in worlds}
    reported = {(c.outcome, c.contrast): c.d for c in REPORTED}
    reported_t = {(c.outcome, c.contrast): expected_t(c) for c in REPORTED}
    rows = []
    for scenario, scores in scores_by_scenario.items():
        world, log_odds = scenarios[scenario][:2]
        dropout = ("at random" if not log_odds else
                   f"MAR: log odds ratio {log_odds:g} per SD of baseline")
        est = replication_estimates(scores)
        for (outcome, contrast, model), g in est.groupby(["outcome", "contrast", "model"],
                                                         sort=False):
            truth = float(planted[world].loc[(outcome, contrast), "planted_d_paper"])
            covered = (g["ci_low"] <= truth) & (truth <= g["ci_high"])
            r = len(g)
            c = float(covered.mean())
            recoverable = float(planted[world].loc[(outcome, contrast), "recoverable_d_paper"])
            c_rec = float(((g["ci_low"] <= recoverable) & (recoverable <= g["ci_high"])).mean())
            median_t = float(g["t"].median()) if model == "paper" else np.nan
            median_t_se = median_mc_se(g["t"]) if model == "paper" else np.nan
            median_p = (float(np.median(p_from_t(g["t"], g["df"]))) if model == "paper"
                        else np.nan)
            mean = float(g["estimate"].mean())
            seen = np.nan if in_mask is None else float(
                in_mask.set_index(["world", "outcome", "contrast"]).loc[
                    (world, outcome, contrast), "planted_d_paper_in_mask"])
            covered_seen = (g["ci_low"] <= seen) & (seen <= g["ci_high"])
            c_seen = float(covered_seen.mean()) if in_mask is not None else np.nan
            rows.append({
                "scenario": scenario, "world": world, "dropout": dropout,
                "outcome": outcome, "contrast": contrast, "model": model,
                "reported": (outcome, contrast) in reported, "ci_method": CI_METHODS[model],
                "replications": r, "coverage": c, "mc_se": float(np.sqrt(c * (1 - c) / r)),
                "planted_d_paper": truth, "mean_estimate": mean,
                "mean_estimate_se": float(g["estimate"].std(ddof=1) / np.sqrt(r)),
                "bias": mean - truth,
                "mean_ci_width": float((g["ci_high"] - g["ci_low"]).mean()),
                "reported_d": reported.get((outcome, contrast), np.nan),
                "recoverable_d_paper": recoverable, "coverage_recoverable": c_rec,
                "mc_se_recoverable": float(np.sqrt(c_rec * (1 - c_rec) / r)),
                "median_t": median_t, "mc_se_median_t": median_t_se,
                "reported_t": reported_t.get((outcome, contrast), np.nan),
                "median_p": median_p,
                "planted_d_paper_in_mask": seen, "coverage_in_mask": c_seen,
                "mc_se_in_mask": float(np.sqrt(c_seen * (1 - c_seen) / r)),
                "bias_in_mask": mean - seen})
    table = pd.DataFrame(rows)
    order = {"scenario": list(scenarios), "outcome": OUTCOMES, "contrast": CONTRASTS,
             "model": MODELS}
    table = table.sort_values(list(order), key=lambda s: s.map(
        {v: k for k, v in enumerate(order[s.name])}), kind="stable")
    return table[list(COLUMNS)].reset_index(drop=True)
