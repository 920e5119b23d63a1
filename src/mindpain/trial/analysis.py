r"""Statistics of the randomized trial: MBSR vs HEP vs waitlist, pre and post.

Input is an *outcomes table*: one row per participant and session with the columns
``participant_id, session ('pre'|'post'), group ('MBSR'|'HEP'|'WL'|'LTM')`` and the
outcomes ``nps, nps_pos, nps_neg, siips1, intensity, unpleasantness``. Long-term
meditators (``LTM``) are not part of the trial and are dropped.
:func:`~mindpain.trial.models.validate_outcomes` checks the table once, before any model is
fit. The checked input and the models are in :mod:`mindpain.trial.models` (import them from
there); this module assembles the effects table, compares it with the planted truth (read through
:mod:`mindpain.truth`), writes and displays it.

Effect sizes
------------
Every contrast is reported as Cohen's d on the **observed change score**
:math:`\Delta = \text{post} - \text{pre}`, the definition the simulated twin plants
(:func:`mindpain.twin.model.planted_trial_effects`; the analyses read it through
:mod:`mindpain.truth`, from the file the twin writes into the dataset):

* between arms A and B: :math:`d = (\bar\Delta_A - \bar\Delta_B) / s_p`, with
  :math:`s_p` the pooled SD of change of the two arms (ddof 1; Cohen's :math:`d_s`);
* within arm A: :math:`d_z = \bar\Delta_A / s_{\Delta_A}`.

No small-sample (Hedges) correction is applied, as the twin's planted value is the
population d itself.

The paper's d values are on another scale (:mod:`mindpain.reported`): between arms
:math:`2t/\sqrt{df}`, within an arm :math:`d_z`. Every row therefore also carries
``estimate_d_paper``, the same model's t on that scale (between: :math:`2t/\sqrt{df}` with
the model's own df; within: :math:`t/\sqrt{n}` with the arm's completers), beside
``reported_d`` (the paper's number), ``reported_d_change`` (the change-score d the paper's
t implies) and the twin's ``planted_d`` / ``planted_d_paper``.

Confidence intervals
--------------------
The 95% CI of d is obtained by inverting the noncentral t distribution: a t statistic
for the contrast follows a noncentral t with noncentrality
:math:`\lambda = \text{effect} / \sigma_{\text{estimate}}`; the interval for
:math:`\lambda` (:func:`scipy.special.nctdtrinc`) is mapped back to the d scale. For the
change-score contrasts under normal errors with equal variances this interval is exact
(Steiger & Fouladi 1997; Cumming & Finch 2001), which is why it is the primary method.
The model-based estimates (ANCOVA, mixed model) are standardised by an estimated SD, whose
ratio to the estimate's SE is treated as known; their coverage is checked by simulation
(:func:`mindpain.trial.calibration.calibrate_trial`).

Models per outcome
------------------
``change_score``
    Two-sample (between) or one-sample (within) t test on change scores, completers.
``permutation``
    Robust alternative: the same contrasts with a permutation (between: arm labels;
    within: sign flips) p value; the d is the change-score d and no CI is given.
``ancova``
    ``post ~ C(group, Treatment('WL')) + pre`` by OLS (statsmodels), completers;
    the adjusted group difference is divided by the change-score :math:`s_p`.
``ancova_hc3``
    The same ANCOVA with HC3 heteroscedasticity-consistent standard errors.
``mixedlm``
    Linear mixed model, all available sessions (intention to treat: baseline-only
    participants count), REML, random intercept per participant, treatment coding with
    reference group WL and reference session pre:
    ``y ~ 1 + HEP + MBSR + post + HEP:post + MBSR:post``. Contrasts are linear
    combinations of the interaction and time terms, divided by the model's SD of a
    participant's change, :math:`\sqrt{2}\,\hat\sigma_e`; the t reference uses the
    completers' degrees of freedom (completers - 3). Its ``group_x_time`` row is the
    Wald test of both interaction terms as :math:`F(2, df) = \chi^2_W / 2` with the same
    df (``statistic`` = F, ``df`` = the denominator df), consistent with the contrasts.
``mixed_anova``
    pingouin's mixed ANOVA (group between, session within) on completers; the
    ``group_x_time`` row holds its interaction F test.

Multiplicity
------------
Holm's step-down correction, per model, in families: the 3 between-arm contrasts × the
4 signature outcomes (12 tests); the 3 between-arm contrasts × the 2 ratings (6 tests);
the same two families for the within-arm contrasts; and the omnibus ``group_x_time`` rows
(4 signatures; 2 ratings). ``p`` is unadjusted, ``p_adj`` Holm-adjusted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.core.vocabulary import (
    ARMS,
    BETWEEN,
    OMNIBUS,
    OUTCOME_LABELS,
    RATING_OUTCOMES,
    SIGNATURE_OUTCOMES,
    TRIAL_CONTRASTS,
    TRIAL_OUTCOMES,
    TWIN_READOUTS,
    WITHIN,
)
from mindpain.stats.effect_sizes import between_d, fisher_ci, within_d
from mindpain.stats.multiplicity import holm_by_family
from mindpain.trial.models import (
    ancova_contrasts,
    arm_pairs,
    change_scores,
    fit_ancova,
    fit_mixedlm,
    mixed_anova,
    permutation_p,
    validate_outcomes,
)
from mindpain.truth import has_planted_truth, read_trial_truth

MODELS = ("change_score", "permutation", "ancova", "ancova_hc3", "mixedlm", "mixed_anova")
#: Columns of the results table (``trial_effects.tsv``).
EFFECT_COLUMNS = ["outcome", "contrast", "model", "estimate_d", "ci_low", "ci_high",
                  "estimate_d_paper", "p", "p_adj", "reported_d", "reported_d_change",
                  "planted_d", "planted_d_paper", "covers_planted", "status", "statistic",
                  "df", "n"]
#: Columns of the truth table (:func:`truth_table`).
TRUTH_COLUMNS = ["outcome", "contrast", "planted_d", "planted_d_paper", "latent_d",
                 "reported_d", "reported_d_change", "status"]
#: Column descriptions of ``trial_effects.tsv`` (its JSON sidecar).
EFFECT_DESCRIPTIONS = {
    "outcome": "signature response (nps, nps_pos, nps_neg, siips1) or rating "
               "(intensity, unpleasantness)",
    "contrast": "between arms (A_vs_B: change in A minus change in B), within an arm "
                "(A_within: change from pre to post) or group_x_time (omnibus test)",
    "model": "change_score, permutation, ancova, ancova_hc3, mixedlm or mixed_anova "
             "(see mindpain.trial.analysis)",
    "estimate_d": "Cohen's d of the change score (between: pooled SD of change; within: d_z)",
    "ci_low": "lower end of the 95% CI of d (noncentral t inversion); n/a where none is given",
    "ci_high": "upper end of the 95% CI of d",
    "estimate_d_paper": "the same model's t on the paper's scale: 2t/sqrt(df) between arms, "
                        "d_z within an arm (see mindpain.reported)",
    "p": "unadjusted two-sided p",
    "p_adj": "Holm-adjusted p, per model and family (see mindpain.trial.analysis)",
    "reported_d": "d the paper reports for this contrast (its own scale); n/a where it "
                  "reports none",
    "reported_d_change": "the change-score d that the paper's reported p implies (t from p, "
                         "then d_s or d_z; see mindpain.reported)",
    "planted_d": "change-score d the simulated twin plants on the observed signature score "
                 "(population value); n/a where none applies or an official map is used",
    "planted_d_paper": "the planted effect on the paper's scale (2t/sqrt(df) of its expected t)",
    "covers_planted": "whether the 95% CI contains planted_d",
    "status": "where planted_d comes from, as marked in the twin's parameter file: reported "
              "(the paper's value), derived, or assumed",
    "statistic": "test statistic of the model (t, or F for group_x_time)",
    "df": "degrees of freedom of the test",
    "n": "participants in the analysis",
}
# ---------------------------------------------------------------- the analysis


@dataclass
class TrialAnalysis:
    """Result of :func:`analyse_trial`.

    Attributes
    ----------
    effects : pandas.DataFrame
        The results table (columns :data:`EFFECT_COLUMNS`).
    assumptions : pandas.DataFrame
        Shapiro-Wilk test of the residuals per outcome and model.
    residuals : pandas.DataFrame
        ``outcome, model, fitted, residual`` for residual plots.
    trial : pandas.DataFrame
        The validated trial rows.
    """

    effects: pd.DataFrame
    assumptions: pd.DataFrame
    residuals: pd.DataFrame
    trial: pd.DataFrame


def truth_table(cfg) -> pd.DataFrame:
    """Planted and reported d of every outcome × contrast for the configured dataset.

    The planted values are read from the file the twin wrote into the dataset
    (:func:`mindpain.truth.read_trial_truth`); a real dataset has none, and only the
    paper's reported values remain. The planted values are derived for the open surrogates
    (the twin's measurement model reads its latent truth through them), so they are blanked
    (NaN) for outcomes scored with an official map (NPS, NPSpos, NPSneg when the official
    NPS file is present; SIIPS1 when the official SIIPS1 is). :func:`planted_note` says
    which.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRUTH_COLUMNS` (:func:`trial_truth`).
    """
    planted = read_trial_truth(cfg.dataset_dir)
    return trial_truth(planted, official_outcomes(cfg) if planted is not None else ())


def trial_truth(planted: pd.DataFrame | None, official=()) -> pd.DataFrame:
    """Assemble the truth table from a planted table (or none) and the paper's values.

    Parameters
    ----------
    planted : pandas.DataFrame or None
        The twin's planted effects (:func:`mindpain.truth.read_trial_truth` of a dataset, or
        :func:`mindpain.truth.planted_trial_effects` of a preset); ``None`` for real data.
    official : sequence of str
        Outcomes scored with an official map: their planted values are blanked.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRUTH_COLUMNS`: ``planted_d``, ``planted_d_paper``, ``latent_d`` (NaN
        where nothing is planted), ``reported_d``, ``reported_d_change`` and ``status``
        (reported, derived or assumed; for real data ``reported`` where the paper reports
        a value, else empty).
    """
    if planted is None:
        from mindpain.reported import REPORTED

        reported = {(c.outcome, c.contrast): c.d for c in REPORTED}
        keys = [(o, c) for o in TWIN_READOUTS + RATING_OUTCOMES for c in TRIAL_CONTRASTS]
        truth = pd.DataFrame({"outcome": [o for o, _ in keys], "contrast": [c for _, c in keys],
                              "planted_d": np.nan, "planted_d_paper": np.nan,
                              "latent_d": np.nan,
                              "reported_d": [reported.get(k, np.nan) for k in keys]})
        blank = pd.Series(True, index=truth.index)
    else:
        truth = planted.copy()
        blank = truth["outcome"].isin(tuple(official))
    truth.loc[blank, ["planted_d", "planted_d_paper", "latent_d"]] = np.nan
    truth.loc[blank, "status"] = np.where(truth.loc[blank, "reported_d"].notna(), "reported",
                                          None)
    truth["reported_d_change"] = [REPORTED_D_CHANGE.get((o, c), np.nan) for o, c in
                                  zip(truth["outcome"], truth["contrast"], strict=True)]
    return truth[TRUTH_COLUMNS]


def _reported_d_change() -> dict:
    from mindpain.reported import effect_scale_table

    table = effect_scale_table()
    return {(r.outcome, r.contrast): float(r.d_change) for r in table.itertuples()}


#: The change-score d (d_s between, d_z within) that each reported p implies.
REPORTED_D_CHANGE = _reported_d_change()


def official_outcomes(cfg) -> tuple[str, ...]:
    """Outcomes scored with an official signature map in this configuration."""
    from mindpain.signatures import nps_path, siips1_path

    out = ()
    if nps_path(cfg.data_dir) is not None:
        out += ("nps", "nps_pos", "nps_neg")
    if siips1_path(cfg.data_dir) is not None:
        out += ("siips1",)
    return out


def planted_note(cfg) -> str:
    """One sentence on whether this build compares estimates with the twin's planted values."""
    if not has_planted_truth(cfg.dataset_dir):
        return ("This is not the simulated twin: there are no planted values, only the "
                "paper's reported ones.")
    official = official_outcomes(cfg)
    if not official:
        return ("The planted values are those of the twin read out by the open surrogate "
                "signatures that score it in this build.")
    names = ", ".join(OUTCOME_LABELS[o] for o in official)
    return (f"{names} are scored with the official map(s) in this build; the twin's planted "
            "values were derived for the open surrogates, so they are left empty for these "
            "outcomes rather than compared with scores from another map.")


def analyse_trial(outcomes: pd.DataFrame, truth: pd.DataFrame | None = None, *, seed: int = 0,
                  n_permutations: int = 5000, outcome_names=TRIAL_OUTCOMES) -> TrialAnalysis:
    """Run every model on every outcome and assemble the results table.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Outcomes table (LTM rows are dropped); validated first.
    truth : pandas.DataFrame, optional
        :data:`TRUTH_COLUMNS` (:func:`truth_table`); without it those columns are NaN.
    seed : int
        Seed of the permutation tests.
    n_permutations : int
        Permutations per contrast.
    outcome_names : sequence of str
        Outcomes to analyse.

    Returns
    -------
    TrialAnalysis
        The effects table, assumption checks, residuals and validated rows.

    Examples
    --------
    >>> from mindpain.twin import participant_level_parameters, simulate_observed
    >>> params = participant_level_parameters("small")
    >>> obs = simulate_observed(params, seed=1, n_replications=1)
    >>> res = analyse_trial(obs, n_permutations=99, outcome_names=("nps",))
    >>> sorted(res.effects["model"].unique())[:2]
    ['ancova', 'ancova_hc3']
    """
    from mindpain.core.config import derive_rng

    trial = validate_outcomes(outcomes, outcome_names)
    rng = derive_rng(seed, "trial-permutation")
    rows, checks, resid_rows, arm_n = [], [], [], {}
    for outcome in outcome_names:
        ch = change_scores(trial, outcome)
        arms = {a: ch.loc[ch.group == a, "change"].to_numpy() for a in ARMS}
        arm_n[outcome] = {a: v.size for a, v in arms.items()}
        n_comp = len(ch)
        perm = permutation_p(ch, rng, n_permutations)
        for name in TRIAL_CONTRASTS:
            if name in BETWEEN:
                a, b = arm_pairs(name)
                r, n = between_d(arms[a], arms[b]), arms[a].size + arms[b].size
            else:
                arm = name.split("_")[0]
                r, n = within_d(arms[arm]), arms[arm].size
            rows.append(_row(outcome, name, "change_score", r, n))
            rows.append({**_row(outcome, name, "permutation", r, n), "ci_low": np.nan,
                         "ci_high": np.nan, "p": perm[name], "statistic": np.nan,
                         "df": np.nan})
        fit = fit_ancova(ch)
        for cov_type, model in (("classical", "ancova"), ("HC3", "ancova_hc3")):
            for name, r in ancova_contrasts(fit, ch, cov_type).items():
                a, b = arm_pairs(name)
                rows.append(_row(outcome, name, model, r, int(ch.group.isin([a, b]).sum())))
        mixed = fit_mixedlm(trial, outcome, n_comp)
        for name, r in mixed["contrasts"].items():
            rows.append(_row(outcome, name, "mixedlm", r, mixed["n_participants"]))
        rows.append({"outcome": outcome, "contrast": OMNIBUS, "model": "mixedlm",
                     "p": mixed["omnibus"]["p"], "statistic": mixed["omnibus"]["statistic"],
                     "df": mixed["omnibus"]["df"], "n": mixed["n_participants"]})
        aov = mixed_anova(ch)
        rows.append({"outcome": outcome, "contrast": OMNIBUS, "model": "mixed_anova",
                     "p": aov["p"], "statistic": aov["statistic"], "df": aov["df"], "n": n_comp})
        # Residuals for the assumption checks.
        arm_mean = ch.groupby("group")["change"].transform("mean")
        for model, fitted, resid, converged in (
                ("change_score", arm_mean.to_numpy(), (ch["change"] - arm_mean).to_numpy(), True),
                ("ancova", np.asarray(fit.fittedvalues), np.asarray(fit.resid), True),
                ("mixedlm", mixed["fitted"], mixed["resid"], mixed["converged"])):
            w, p = stats.shapiro(resid) if resid.size >= 3 else (np.nan, np.nan)
            checks.append({"outcome": outcome, "model": model, "n": resid.size,
                           "shapiro_w": float(w), "shapiro_p": float(p),
                           "normal": bool(p >= 0.05), "converged": converged})
            resid_rows.append(pd.DataFrame({"outcome": outcome, "model": model,
                                            "fitted": fitted, "residual": resid}))
    effects = pd.DataFrame(rows)
    effects["estimate_d_paper"] = paper_scale_d(effects, arm_n)
    effects = _add_truth(effects, truth)
    effects["p_adj"] = holm_adjust(effects)
    effects = effects[EFFECT_COLUMNS]
    return TrialAnalysis(effects=effects, assumptions=pd.DataFrame(checks),
                         residuals=pd.concat(resid_rows, ignore_index=True), trial=trial)


def paper_scale_d(effects: pd.DataFrame, arm_n: dict) -> np.ndarray:
    r"""Each row's t on the paper's d scale (:mod:`mindpain.reported`).

    Between arms :math:`2t/\sqrt{df}` with the row's own t (``statistic``) and df; within
    an arm :math:`t/\sqrt{n}` with ``n`` the arm's completers (``arm_n[outcome][arm]``).
    NaN where the row has no t (permutation p values, omnibus tests).

    Examples
    --------
    >>> e = pd.DataFrame({"outcome": ["nps", "nps"], "contrast": ["MBSR_vs_HEP", "MBSR_within"],
    ...                   "statistic": [-2.0, -2.0], "df": [88.0, 27.0]})
    >>> paper_scale_d(e, {"nps": {"MBSR": 28}}).round(3).tolist()
    [-0.426, -0.378]
    """
    from mindpain.reported import d_paper, d_z

    out = np.full(len(effects), np.nan)
    for i, r in enumerate(effects[["outcome", "contrast", "statistic", "df"]].itertuples()):
        if r.contrast in BETWEEN:
            out[i] = d_paper(r.statistic, r.df)
        elif r.contrast in WITHIN:
            out[i] = d_z(r.statistic, arm_n[r.outcome][r.contrast.split("_")[0]])
    return out


def _row(outcome, contrast, model, r, n) -> dict:
    return {"outcome": outcome, "contrast": contrast, "model": model,
            "estimate_d": float(r["d"]), "ci_low": float(r["ci_low"]),
            "ci_high": float(r["ci_high"]), "p": float(r["p"]), "statistic": float(r["t"]),
            "df": float(r["df"]), "n": int(n)}


def _add_truth(effects: pd.DataFrame, truth: pd.DataFrame | None) -> pd.DataFrame:
    if truth is None:
        truth = pd.DataFrame(columns=TRUTH_COLUMNS)
    truth = truth.reindex(columns=TRUTH_COLUMNS)
    out = effects.merge(truth, on=["outcome", "contrast"], how="left")
    for col in ("planted_d", "planted_d_paper", "reported_d", "reported_d_change"):
        out[col] = out[col].astype(float)
    has = out[["ci_low", "ci_high", "planted_d"]].notna().all(axis=1)
    covers = (out["ci_low"] <= out["planted_d"]) & (out["planted_d"] <= out["ci_high"])
    out["covers_planted"] = pd.Series(pd.array(np.where(has, covers, pd.NA), dtype="boolean"),
                                      index=out.index)
    return out


def holm_adjust(effects: pd.DataFrame) -> np.ndarray:
    """Holm-adjusted p values in the families described in the module docstring.

    A family is (model, outcome domain: signatures or ratings, contrast kind: between,
    within or omnibus).
    """
    domain = np.where(effects["outcome"].isin(SIGNATURE_OUTCOMES), "signature", "rating")
    kind = np.where(effects["contrast"].isin(BETWEEN), "between",
                    np.where(effects["contrast"].isin(WITHIN), "within", "omnibus"))
    return holm_by_family(effects["p"], [effects["model"], domain, kind])


# ---------------------------------------------------------------- neural-subjective link


def neural_subjective_link(trial: pd.DataFrame, signatures=("nps", "siips1"),
                           ratings=RATING_OUTCOMES) -> pd.DataFrame:
    """Correlations between signature responses and ratings (trial participants).

    Two analyses per signature × rating: the repeated-measures correlation (pingouin
    ``rm_corr``: within-participant association across the two sessions, completers), and
    the change-on-change correlation across completers, as a partial correlation
    adjusting for arm (so the planted group effects do not drive it). 95% CIs by Fisher z
    with the analysis' degrees of freedom.

    Returns
    -------
    pandas.DataFrame
        ``signature, rating, method, r, ci_low, ci_high, p, dof, n``.
    """
    import pingouin as pg

    rows = []
    for sig in signatures:
        for rat in ratings:
            data = trial.dropna(subset=[sig, rat])
            both = data.groupby("participant_id")["session"].transform("nunique").eq(2)
            data = data[both]
            rm = pg.rm_corr(data, x=sig, y=rat, subject="participant_id")
            pcol = next(c for c in ("pval", "p_unc", "p_val", "p-val") if c in rm.columns)
            r, dof = float(rm["r"].iloc[0]), int(rm["dof"].iloc[0])
            rows.append({"signature": sig, "rating": rat, "method": "rm_corr", "r": r,
                         **_fisher_ci(r, dof), "p": float(rm[pcol].iloc[0]), "dof": dof,
                         "n": int(data["participant_id"].nunique())})
            wide = pd.DataFrame({
                "x": change_scores(data, sig)["change"], "y": change_scores(data, rat)["change"],
                "group": change_scores(data, sig)["group"]}).dropna()
            for arm in ARMS[:-1]:
                wide[arm] = (wide["group"] == arm).astype(float)
            pc = pg.partial_corr(wide, x="x", y="y", covar=list(ARMS[:-1]))
            pcol = next(c for c in ("p_val", "p_unc", "pval", "p-val") if c in pc.columns)
            r, n = float(pc["r"].iloc[0]), len(wide)
            dof = n - 2 - (len(ARMS) - 1)
            rows.append({"signature": sig, "rating": rat, "method": "change_on_change", "r": r,
                         **_fisher_ci(r, dof), "p": float(pc[pcol].iloc[0]), "dof": dof,
                         "n": n})
    return pd.DataFrame(rows)


def _fisher_ci(r: float, dof: int) -> dict:
    """Fisher-z CI of a correlation with ``dof`` degrees of freedom (n_eff = dof + 2)."""
    low, high = fisher_ci(r, dof + 2)
    return {"ci_low": float(low), "ci_high": float(high)}


# ---------------------------------------------------------------- results files


def write_trial_effects(effects: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write the results table atomically to ``trial_effects.tsv``.

    Parameters
    ----------
    effects : pandas.DataFrame
        The results table (:attr:`TrialAnalysis.effects`).
    cfg : mindpain.core.config.Config
        Configuration (gives the folder, :func:`mindpain.core.store.table_path`).
    out_dir : path-like, optional
        Folder to write to instead.

    Returns
    -------
    pathlib.Path
        The written file; its JSON sidecar (``trial_effects.json``, the column descriptions
        :data:`EFFECT_DESCRIPTIONS`) is written beside it.
    """
    from mindpain.core.io import write_json, write_tsv
    from mindpain.core.store import table_path

    path = write_tsv(table_path(cfg, "trial_effects.tsv", out_dir), effects[EFFECT_COLUMNS])
    write_json(path.with_suffix(".json"), EFFECT_DESCRIPTIONS)
    return path
