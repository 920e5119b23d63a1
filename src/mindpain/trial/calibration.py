"""Calibration of the trial's methods on replications of the twin, and the paper's replication.

:func:`calibrate_trial` re-draws the twin's participant level many times
(:func:`mindpain.twin.participants.simulate_observed`) and measures how often each model's 95%
CI of d covers the planted value (and its Monte-Carlo error); :func:`load_or_calibrate` caches the
table in ``trial_coverage.tsv``. :func:`replication_table` checks that the twin reproduces
the paper's reported t statistics (the paper's own models, :func:`paper_model_t`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.core.checksums import code_closure, code_fingerprint
from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.core.io import read_tsv
from mindpain.core.store import cached_table, table_path
from mindpain.core.vocabulary import ARMS, BETWEEN, TRIAL_CONTRASTS, TRIAL_OUTCOMES, WITHIN
from mindpain.reported import REPORTED, expected_t, p_from_t
from mindpain.stats.effect_sizes import between_d, standardised, within_d
from mindpain.trial.analysis import MODELS
from mindpain.trial.models import ancova_batch, arm_pairs, fit_mixedlm
from mindpain.truth import planted_trial_effects
from mindpain.twin.params import participant_level_parameters
from mindpain.twin.participants import simulate_observed


def completer_arrays(obs: pd.DataFrame, outcome: str):
    """Completers' pre/post arrays ``(R, n)`` and their arms, from a replicated table.

    ``obs`` has ``replication, participant_id, session, group`` and ``outcome``; every
    replication has the same completers (the arms' participants with both sessions).
    """
    data = obs[obs["group"].isin(ARMS)]
    wide = data.pivot_table(index=["replication", "participant_id"], columns="session",
                            values=outcome, aggfunc="first").dropna()
    reps = wide.index.get_level_values(0).unique()
    pids = wide.loc[reps[0]].index
    pre = wide["pre"].to_numpy().reshape(len(reps), -1)
    post = wide["post"].to_numpy().reshape(len(reps), -1)
    arm = data.drop_duplicates("participant_id").set_index("participant_id")["group"]
    return pre, post, arm.reindex(pids).to_numpy()


def calibration_estimates(obs: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Change-score and ANCOVA d with CIs for every replication of ``obs`` (vectorised).

    Returns
    -------
    pandas.DataFrame
        ``replication, contrast, model, estimate_d, ci_low, ci_high``.
    """
    pre, post, arm = completer_arrays(obs, outcome)
    change = post - pre
    R = change.shape[0]
    frames = []

    def add(contrast, model, r):
        frames.append(pd.DataFrame({"replication": np.arange(R), "contrast": contrast,
                                    "model": model, "estimate_d": r["d"],
                                    "ci_low": r["ci_low"], "ci_high": r["ci_high"]}))

    sds = {}
    for name in BETWEEN:
        a, b = arm_pairs(name)
        r = between_d(change[:, arm == a], change[:, arm == b])
        sds[name] = r["sd"]
        add(name, "change_score", r)
    for name in WITHIN:
        add(name, "change_score", within_d(change[:, arm == name.split("_")[0]]))
    anc = ancova_batch(pre, post, arm)
    for name in BETWEEN:
        est, se, se3 = anc[name]
        add(name, "ancova", standardised(est, se, sds[name], anc["df"]))
        add(name, "ancova_hc3", standardised(est, se3, sds[name], anc["df"]))
    return pd.concat(frames, ignore_index=True)


def _mixedlm_replication(obs_rep: pd.DataFrame, outcome: str) -> list[dict]:
    fit = fit_mixedlm(obs_rep, outcome)
    return [{"contrast": name, "estimate_d": float(r["d"]), "ci_low": float(r["ci_low"]),
             "ci_high": float(r["ci_high"])} for name, r in fit["contrasts"].items()]


def calibrate_trial(seed: int, preset: str = "full", n_replications: int = 1000,
                    mixedlm_replications: int = 400, mixedlm_outcomes=("nps",),
                    n_jobs: int = 1, outcome_names=TRIAL_OUTCOMES) -> pd.DataFrame:
    r"""Coverage of the 95% CIs of d over replications of the twin's participant level.

    Draws ``simulate_observed(params, seed, n_replications)`` with ``params`` the
    participant-level model of ``preset``
    (:func:`~mindpain.twin.params.participant_level_parameters`, loaded once) and, per
    replication, computes
    the change-score and ANCOVA (classical and HC3) d with CIs for every outcome
    (vectorised), and the mixed model's for ``mixedlm_outcomes`` on the first
    ``mixedlm_replications`` replications (one fit each, joblib-parallel).

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, model, coverage, mc_se, replications, planted_d,
        mean_estimate, mean_ci_width``; ``mc_se`` is the Monte-Carlo SE
        :math:`\sqrt{\hat c(1-\hat c)/R}`.
    """
    from joblib import Parallel, delayed

    # the participant-level model plants for itself (no pipeline transfer)
    params = participant_level_parameters(preset)
    obs = simulate_observed(params, seed, n_replications)
    obs = obs[obs["group"].isin(ARMS)]
    estimates = []
    for outcome in outcome_names:
        estimates.append(calibration_estimates(obs, outcome).assign(outcome=outcome))
    n_mixed = min(mixedlm_replications, n_replications)
    jobs = [(outcome, rep) for outcome in mixedlm_outcomes for rep in range(n_mixed)]
    if jobs:
        by_rep = dict(tuple(obs[obs["replication"] < n_mixed].groupby("replication")))
        fits = Parallel(n_jobs=n_jobs)(delayed(_mixedlm_replication)(by_rep[rep], outcome)
                                       for outcome, rep in jobs)
        for (outcome, rep), rows in zip(jobs, fits, strict=True):
            estimates.append(pd.DataFrame(rows).assign(outcome=outcome, replication=rep,
                                                       model="mixedlm"))
    est = pd.concat(estimates, ignore_index=True)
    truth = planted_trial_effects(params)[["outcome", "contrast", "planted_d"]]
    est = est.merge(truth, on=["outcome", "contrast"])
    est["covered"] = (est["ci_low"] <= est["planted_d"]) & (est["planted_d"] <= est["ci_high"])
    est["width"] = est["ci_high"] - est["ci_low"]
    cov = (est.groupby(["outcome", "contrast", "model"], sort=False)
           .agg(coverage=("covered", "mean"), replications=("covered", "size"),
                planted_d=("planted_d", "first"), mean_estimate=("estimate_d", "mean"),
                mean_ci_width=("width", "mean"))
           .reset_index())
    cov["mc_se"] = np.sqrt(cov["coverage"] * (1 - cov["coverage"]) / cov["replications"])
    order = {m: k for k, m in enumerate(MODELS)}
    cov = cov.sort_values(["outcome", "model", "contrast"],
                          key=lambda s: s.map({o: k for k, o in enumerate(outcome_names)})
                          if s.name == "outcome" else s.map(order) if s.name == "model"
                          else s.map({c: k for k, c in enumerate(TRIAL_CONTRASTS)}), kind="stable")
    return cov[["outcome", "contrast", "model", "coverage", "mc_se", "replications", "planted_d",
                "mean_estimate", "mean_ci_width"]].reset_index(drop=True)


# ---------------------------------------------------------------- replication of the paper


#: Tolerance of the replication check: median t within this of the reported t.
REPLICATION_T_TOLERANCE = 0.15


def paper_model_t(obs: pd.DataFrame) -> pd.DataFrame:
    r"""T of every reported contrast as the paper's numbers imply it was tested, per replication.

    Between arms: difference in mean change against the **3-arm pooled** SD of change of
    the completers (df = completers − 3); MBSR within: one-sample t of MBSR's change
    (df = n − 1). These are the models whose t reproduce the paper's d from its p values
    (:mod:`mindpain.reported`).

    Parameters
    ----------
    obs : pandas.DataFrame
        Replicated outcomes (:func:`mindpain.twin.participants.simulate_observed`).

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, replication, t, df, p``.
    """
    frames = []
    for outcome in dict.fromkeys(c.outcome for c in REPORTED):
        pre, post, arm = completer_arrays(obs[obs["group"].isin(ARMS)], outcome)
        for c in (c for c in REPORTED if c.outcome == outcome):
            t, df, _ = paper_test(post - pre, arm, c.contrast)
            frames.append(pd.DataFrame({"outcome": outcome, "contrast": c.contrast,
                                        "replication": np.arange(len(t)), "t": t,
                                        "df": float(df), "p": p_from_t(t, df)}))
    return pd.concat(frames, ignore_index=True)


def paper_test(change: np.ndarray, arm: np.ndarray, contrast: str) -> tuple:
    r"""T of one trial contrast as the paper tested it, for many replications at once.

    Between arms (``"A_vs_B"``): the difference in mean change over the **3-arm pooled** SD
    of change (df = completers − 3); within an arm (``"A_within"``): the one-sample t of its
    change (df = n − 1).

    Parameters
    ----------
    change : numpy.ndarray
        ``(replications, participants)`` change scores.
    arm : numpy.ndarray
        ``(participants,)`` arm of each column (:data:`~mindpain.core.vocabulary.ARMS`).
    contrast : str
        ``"A_vs_B"`` or ``"A_within"``.

    Returns
    -------
    tuple
        ``(t, df, scale)``: t per replication, its degrees of freedom, and the factor
        :math:`\sqrt{1/n_A + 1/n_B}` (within: :math:`1/\sqrt{n}`) that turns t into the
        change-score d of the contrast.
    """
    if contrast.endswith("_within"):
        x = change[:, arm == contrast.split("_")[0]]
        t = x.mean(1) / (x.std(1, ddof=1) / np.sqrt(x.shape[1]))
        return t, x.shape[1] - 1, 1 / np.sqrt(x.shape[1])
    a, b = contrast.split("_vs_")
    n = {g: int((arm == g).sum()) for g in ARMS}
    df = sum(n.values()) - len(ARMS)
    ss = sum(((change[:, arm == g] - change[:, arm == g].mean(1, keepdims=True)) ** 2).sum(1)
             for g in ARMS)
    scale = np.sqrt(1 / n[a] + 1 / n[b])
    diff = change[:, arm == a].mean(1) - change[:, arm == b].mean(1)
    return diff / (np.sqrt(ss / df) * scale), df, scale


def replication_table(seed: int, n_replications: int = 2000, preset: str = "full") -> pd.DataFrame:
    """Compare the twin's median t and p over replications with the paper's reported ones.

    Draws ``n_replications`` participant-level replications of the twin
    (:func:`mindpain.twin.participants.simulate_observed`), tests each reported contrast with
    :func:`paper_model_t`, and compares the median t with the reported t (two-sided p → t
    on the contrast's df) and the median p with the reported p.

    Returns
    -------
    pandas.DataFrame
        One row per reported contrast: ``outcome, contrast, df, reported_d, reported_p,
        reported_t, median_t, median_p, t_within`` (|median t − reported t| ≤
        :data:`REPLICATION_T_TOLERANCE`), ``p_within`` (reported p / 2 ≤ median p ≤ 2 ×
        reported p), ``power`` (share with p < .05) and ``replications``.
    """
    params = participant_level_parameters(preset)
    reps = paper_model_t(simulate_observed(params, seed, n_replications))
    rows = []
    for c in REPORTED:
        sub = reps[(reps.outcome == c.outcome) & (reps.contrast == c.contrast)]
        t_rep, med_t, med_p = expected_t(c), float(sub.t.median()), float(sub.p.median())
        rows.append({"outcome": c.outcome, "contrast": c.contrast, "df": c.df,
                     "reported_d": c.d, "reported_p": c.p, "reported_t": t_rep,
                     "median_t": med_t, "median_p": med_p,
                     "t_within": bool(abs(med_t - t_rep) <= REPLICATION_T_TOLERANCE),
                     "p_within": bool(c.p / 2 <= med_p <= 2 * c.p),
                     "power": float((sub.p < 0.05).mean()), "replications": len(sub)})
    return pd.DataFrame(rows)


def _code_fingerprint() -> str:
    """Hash of the code and parameters that determine the calibration."""
    return code_fingerprint(code_closure(__name__))


def load_or_calibrate(cfg, n_replications: int = 1000, mixedlm_replications: int = 400,
                      mixedlm_outcomes=("nps",), preset: str = "full",
                      out_dir=None) -> pd.DataFrame:
    """Return the calibration table, computing it only when its cache is absent or stale.

    The table is written to ``trial_coverage.tsv`` in the result tables' folder (or
    ``out_dir``; :func:`mindpain.core.store.table_path`)
    with a JSON sidecar holding the cache key (seed, preset, replication counts and a hash
    of the code and the parameter file). A copy committed in ``book/precomputed/`` under the
    same key is adopted instead of computing. Calibration always uses the full design by
    default: it needs no BOLD, only the participant level.
    """
    key = {"seed": int(cfg.seed), "preset": preset, "n_replications": int(n_replications),
           "mixedlm_replications": int(mixedlm_replications),
           "mixedlm_outcomes": list(mixedlm_outcomes), "code": _code_fingerprint()}
    path = table_path(cfg, "trial_coverage.tsv", out_dir)
    return cached_table(
        path, key,
        lambda: calibrate_trial(cfg.seed, preset, n_replications, mixedlm_replications,
                                mixedlm_outcomes, n_jobs=min(max(int(cfg.n_jobs), 1), 2)),
        {"coverage": "share of replications whose 95% CI of d contains planted_d",
         "mc_se": "Monte-Carlo standard error of coverage",
         "replications": "replications of simulate_observed used",
         "mean_estimate": "mean estimated d over replications",
         "mean_ci_width": "mean width of the 95% CI of d"},
        read=lambda p: read_tsv(p, keep_default_na=True), committed=PRECOMPUTED_DIR)
