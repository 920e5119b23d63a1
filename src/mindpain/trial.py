r"""Statistics of the randomized trial: MBSR vs HEP vs waitlist, pre and post.

Input is an *outcomes table*: one row per participant and session with the columns
``participant_id, session ('pre'|'post'), group ('MBSR'|'HEP'|'WL'|'LTM')`` and the
outcomes ``nps, nps_pos, nps_neg, siips1, intensity, unpleasantness``. Long-term
meditators (``LTM``) are not part of the trial and are dropped. :func:`validate_outcomes`
checks the table once, before any model is fit.

Effect sizes
------------
Every contrast is reported as Cohen's d on the **observed change score**
:math:`\Delta = \text{post} - \text{pre}`, the definition the simulated twin plants
(:func:`mindpain.twin.model.planted_trial_effects`):

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
(:func:`mindpain.trial_calibration.calibrate_trial`).

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

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.errors import MindpainError
from mindpain.stats.effect_sizes import LEVEL, between_d, standardised, within_d
from mindpain.stats.multiplicity import holm_by_family
from mindpain.vocabulary import (
    ARMS,
    BETWEEN,
    CONTRAST_LABELS,
    GROUPS,
    OMNIBUS,
    OUTCOME_LABELS,
    RATING_OUTCOMES,
    SESSIONS,
    SIGNATURE_OUTCOMES,
    TRIAL_CONTRASTS,
    TRIAL_OUTCOMES,
    WITHIN,
)

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
             "(see mindpain.trial)",
    "estimate_d": "Cohen's d of the change score (between: pooled SD of change; within: d_z)",
    "ci_low": "lower end of the 95% CI of d (noncentral t inversion); n/a where none is given",
    "ci_high": "upper end of the 95% CI of d",
    "estimate_d_paper": "the same model's t on the paper's scale: 2t/sqrt(df) between arms, "
                        "d_z within an arm (see mindpain.reported)",
    "p": "unadjusted two-sided p",
    "p_adj": "Holm-adjusted p, per model and family (see mindpain.trial)",
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
REQUIRED_COLUMNS = ("participant_id", "session", "group")


# ---------------------------------------------------------------- validation


def validate_outcomes(table, outcomes=TRIAL_OUTCOMES) -> pd.DataFrame:
    """Check an outcomes table and return its trial rows (LTM dropped).

    Every check runs before any model is fit; each failure raises
    :class:`~mindpain.errors.MindpainError` with a one-line message.

    Parameters
    ----------
    table : pandas.DataFrame
        Outcomes table (one row per participant and session).
    outcomes : sequence of str
        Outcome columns that must be present and numeric.

    Returns
    -------
    pandas.DataFrame
        Rows of the arms MBSR, HEP and WL, sorted by participant and session, with
        ``session`` and ``group`` as plain strings.

    Raises
    ------
    MindpainError
        Missing columns, a session label other than pre/post, an unknown group, a
        participant in two groups, a duplicated participant-session row, a non-numeric
        outcome, or an arm with fewer than 2 participants with both sessions of an outcome.

    Examples
    --------
    >>> from mindpain.twin import simulate_observed
    >>> obs = simulate_observed("small", seed=1, n_replications=1)
    >>> sorted(validate_outcomes(obs)["group"].unique())
    ['HEP', 'MBSR', 'WL']
    """
    if not isinstance(table, pd.DataFrame):
        raise MindpainError(f"outcomes table: expected a pandas DataFrame, got "
                            f"{type(table).__name__}")
    outcomes = tuple(outcomes)
    missing = [c for c in (*REQUIRED_COLUMNS, *outcomes) if c not in table.columns]
    if missing:
        raise MindpainError(f"outcomes table: missing column(s) {', '.join(missing)}; expected "
                            f"{', '.join((*REQUIRED_COLUMNS, *outcomes))}")
    data = table.copy()
    for col in REQUIRED_COLUMNS:
        if data[col].isna().any():
            raise MindpainError(f"outcomes table: column {col!r} has missing values")
        data[col] = data[col].astype(str)
    bad = sorted(set(data["session"]) - set(SESSIONS))
    if bad:
        raise MindpainError(f"outcomes table: session label(s) {', '.join(map(repr, bad))}; "
                            "expected 'pre' or 'post'")
    bad = sorted(set(data["group"]) - set(GROUPS))
    if bad:
        raise MindpainError(f"outcomes table: group label(s) {', '.join(map(repr, bad))}; "
                            f"expected one of {', '.join(GROUPS)}")
    n_groups = data.groupby("participant_id")["group"].nunique()
    if (n_groups > 1).any():
        who = n_groups.index[n_groups > 1].tolist()
        arms = data.groupby("participant_id")["group"].agg(lambda g: "/".join(sorted(set(g))))
        detail = ", ".join(f"{p} ({arms[p]})" for p in who[:3])
        raise MindpainError(f"outcomes table: participant(s) in more than one group: {detail}"
                            f"{' ...' if len(who) > 3 else ''}; each participant has one group")
    dup = data.duplicated(["participant_id", "session"])
    if dup.any():
        first = data.loc[dup].iloc[0]
        raise MindpainError(f"outcomes table: {dup.sum()} duplicated participant-session row(s), "
                            f"e.g. {first.participant_id} {first.session}; expected one row each")
    for col in outcomes:
        if not pd.api.types.is_numeric_dtype(data[col]):
            raise MindpainError(f"outcomes table: outcome column {col!r} is not numeric "
                                f"(dtype {data[col].dtype})")
    data = data[data["group"].isin(ARMS)]
    for col in outcomes:
        ok = data.dropna(subset=[col])
        both = ok.groupby("participant_id")["session"].nunique().eq(2)
        arm_of = ok.groupby("participant_id")["group"].first()
        counts = arm_of[both].value_counts()
        for arm in ARMS:
            n = int(counts.get(arm, 0))
            if n < 2:
                raise MindpainError(
                    f"outcomes table: group {arm!r} has {n} participant(s) with pre and post "
                    f"{col!r}; at least 2 are needed")
    order = {s: k for k, s in enumerate(SESSIONS)}
    data = data.sort_values(["participant_id", "session"], key=lambda s: s.map(order)
                            if s.name == "session" else s, kind="stable")
    return data.reset_index(drop=True)


def change_scores(trial: pd.DataFrame, outcome: str) -> pd.DataFrame:
    """Completers' pre, post and change of ``outcome`` (rows with a missing value dropped).

    Parameters
    ----------
    trial : pandas.DataFrame
        Output of :func:`validate_outcomes`.
    outcome : str
        Outcome column.

    Returns
    -------
    pandas.DataFrame
        Index ``participant_id``; columns ``group, pre, post, change``.
    """
    wide = trial.dropna(subset=[outcome]).pivot(index="participant_id", columns="session",
                                                values=outcome)
    wide = wide.reindex(columns=list(SESSIONS)).dropna()
    groups = trial.groupby("participant_id")["group"].first()
    out = pd.DataFrame({"group": groups.reindex(wide.index), "pre": wide["pre"],
                        "post": wide["post"]})
    out["change"] = out["post"] - out["pre"]
    return out


# ---------------------------------------------------------------- vectorised core


# ANCOVA design: columns [1, MBSR, HEP, pre] (reference arm WL); contrast vectors.
_ANCOVA_L = {"MBSR_vs_HEP": np.array([0.0, 1, -1, 0]), "MBSR_vs_WL": np.array([0.0, 1, 0, 0]),
             "HEP_vs_WL": np.array([0.0, 0, 1, 0])}


def ancova_batch(pre, post, arm) -> dict:
    """OLS ANCOVA ``post ~ arm + pre`` for many replications at once (classical and HC3 SEs).

    Parameters
    ----------
    pre, post : numpy.ndarray
        Shape ``(R, n)``: completers' values per replication.
    arm : numpy.ndarray
        Shape ``(n,)``: arm label of each column (``MBSR``, ``HEP``, ``WL``).

    Returns
    -------
    dict
        Per between-arm contrast: ``(estimate, se, se_hc3)`` arrays of shape ``(R,)``;
        and ``"df"``, the residual degrees of freedom.
    """
    pre, post = np.atleast_2d(pre).astype(float), np.atleast_2d(post).astype(float)
    arm = np.asarray(arm)
    R, n = pre.shape
    X = np.empty((R, n, 4))
    X[..., 0] = 1.0
    X[..., 1] = arm == "MBSR"
    X[..., 2] = arm == "HEP"
    X[..., 3] = pre
    xtx_inv = np.linalg.inv(np.einsum("rni,rnj->rij", X, X))
    beta = np.einsum("rij,rnj,rn->ri", xtx_inv, X, post)
    resid = post - np.einsum("rni,ri->rn", X, beta)
    df = n - 4
    s2 = (resid**2).sum(-1) / df
    lev = np.einsum("rni,rij,rnj->rn", X, xtx_inv, X)
    omega = (resid / (1 - lev)) ** 2
    bread = np.einsum("rij,rnj->rin", xtx_inv, X)
    cov_hc3 = np.einsum("rin,rn,rjn->rij", bread, omega, bread)
    out = {"df": df}
    for name, L in _ANCOVA_L.items():
        est = beta @ L
        se = np.sqrt(s2 * np.einsum("i,rij,j->r", L, xtx_inv, L))
        se3 = np.sqrt(np.einsum("i,rij,j->r", L, cov_hc3, L))
        out[name] = (est, se, se3)
    return out


def _arm_pairs(name):
    a, b = name.split("_vs_")
    return a, b


# ---------------------------------------------------------------- single-run models


def _mixedlm_design(data: pd.DataFrame):
    g = data["group"].to_numpy()
    post = (data["session"] == "post").to_numpy(float)
    hep, mbsr = (g == "HEP").astype(float), (g == "MBSR").astype(float)
    names = ["Intercept", "HEP", "MBSR", "post", "HEP:post", "MBSR:post"]
    return np.column_stack([np.ones(len(g)), hep, mbsr, post, hep * post, mbsr * post]), names


# Contrast vectors on [Intercept, HEP, MBSR, post, HEP:post, MBSR:post].
_MIXED_L = {"MBSR_vs_HEP": [0, 0, 0, 0, -1, 1], "MBSR_vs_WL": [0, 0, 0, 0, 0, 1],
            "HEP_vs_WL": [0, 0, 0, 0, 1, 0], "MBSR_within": [0, 0, 0, 1, 0, 1],
            "HEP_within": [0, 0, 0, 1, 1, 0], "WL_within": [0, 0, 0, 1, 0, 0]}


def fit_mixedlm(data: pd.DataFrame, outcome: str, n_completers: int | None = None) -> dict:
    r"""Fit the random-intercept group × time model to all available sessions (REML).

    Parameters
    ----------
    data : pandas.DataFrame
        Trial rows (:func:`validate_outcomes`); rows with a missing ``outcome`` are dropped.
    outcome : str
        Outcome column.
    n_completers : int, optional
        Participants with both sessions (default: counted from ``data``); sets the
        degrees of freedom ``n_completers - 3`` of the t reference.

    Returns
    -------
    dict
        ``contrasts`` (name -> dict of d, CI, p, t, df), ``omnibus`` (``statistic`` =
        F = Wald chi2 / 2, ``df_num`` = 2, ``df`` = completers - 3, ``p``, ``wald_chi2``),
        ``sd_change`` (:math:`\sqrt{2}\hat\sigma_e`), ``converged``, ``fitted`` and
        ``resid`` (arrays), ``n_obs``, ``n_participants``.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    data = data.dropna(subset=[outcome])
    X, _ = _mixedlm_design(data)
    if n_completers is None:
        n_completers = int(data.groupby("participant_id")["session"].nunique().eq(2).sum())
    model = sm.MixedLM(data[outcome].to_numpy(float), X, groups=data["participant_id"].to_numpy())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message=".*boundary.*")
        res = model.fit(reml=True)
    converged = bool(res.converged) and not any(issubclass(w.category, ConvergenceWarning)
                                                for w in caught)
    fe = np.asarray(res.fe_params)
    cov = np.asarray(res.cov_params())[: fe.size, : fe.size]
    sd_change = float(np.sqrt(2 * res.scale))
    df = max(n_completers - 3, 1)
    contrasts = {}
    for name, L in _MIXED_L.items():
        L = np.asarray(L, float)
        contrasts[name] = standardised(L @ fe, np.sqrt(L @ cov @ L), sd_change, df)
    Lw = np.array([_MIXED_L["HEP_vs_WL"], _MIXED_L["MBSR_vs_WL"]], float)
    b = Lw @ fe
    wald = float(b @ np.linalg.solve(Lw @ cov @ Lw.T, b))
    f_stat = wald / len(Lw)
    fitted = np.asarray(res.fittedvalues)
    return {"contrasts": contrasts,
            "omnibus": {"statistic": f_stat, "df_num": float(len(Lw)), "df": float(df),
                        "p": float(stats.f.sf(f_stat, len(Lw), df)), "wald_chi2": wald},
            "sd_change": sd_change, "converged": converged, "fitted": fitted,
            "resid": data[outcome].to_numpy(float) - fitted, "n_obs": len(data),
            "n_participants": int(data["participant_id"].nunique())}


def fit_ancova(changes: pd.DataFrame):
    """Fit ``post ~ C(group, Treatment('WL')) + pre`` by OLS (statsmodels) on completers.

    Returns
    -------
    statsmodels.regression.linear_model.RegressionResultsWrapper
        The fitted model (classical standard errors).
    """
    import statsmodels.formula.api as smf

    return smf.ols("post ~ C(group, Treatment('WL')) + pre", data=changes).fit()


def _ancova_contrasts(fit, changes: pd.DataFrame, cov_type: str) -> dict:
    """Between-arm contrasts of an ANCOVA fit as d (standardised by the change-score s_p)."""
    names = fit.model.exog_names
    cov = np.asarray(fit.cov_params() if cov_type == "classical"
                     else fit.get_robustcov_results(cov_type="HC3").cov_params())
    params = np.asarray(fit.params)
    col = {"MBSR": names.index("C(group, Treatment('WL'))[T.MBSR]"),
           "HEP": names.index("C(group, Treatment('WL'))[T.HEP]")}
    out = {}
    for name in BETWEEN:
        a, b = _arm_pairs(name)
        L = np.zeros(len(names))
        for arm, sign in ((a, 1.0), (b, -1.0)):
            if arm in col:
                L[col[arm]] += sign
        sd = between_d(changes.loc[changes.group == a, "change"],
                       changes.loc[changes.group == b, "change"])["sd"]
        out[name] = standardised(L @ params, np.sqrt(L @ cov @ L), sd, fit.df_resid)
    return out


def _permutation_p(changes: pd.DataFrame, rng: np.random.Generator, n_permutations: int) -> dict:
    """Two-sided permutation p values of the change-score contrasts.

    Between: arm labels of the two arms permuted (difference in mean change). Within:
    random sign flips of the arm's changes (mean change). p = (1 + #extreme) / (1 + B).
    """
    out = {}
    for name in BETWEEN:
        a, b = _arm_pairs(name)
        x = np.concatenate([changes.loc[changes.group == a, "change"].to_numpy(),
                            changes.loc[changes.group == b, "change"].to_numpy()])
        na = int((changes.group == a).sum())
        obs = x[:na].mean() - x[na:].mean()
        perm = rng.permuted(np.broadcast_to(x, (n_permutations, x.size)), axis=1)
        null = perm[:, :na].mean(1) - perm[:, na:].mean(1)
        out[name] = (1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (1 + n_permutations)
    for name in WITHIN:
        x = changes.loc[changes.group == name.split("_")[0], "change"].to_numpy()
        signs = rng.choice([-1.0, 1.0], size=(n_permutations, x.size))
        null = (signs * x).mean(1)
        out[name] = (1 + np.sum(np.abs(null) >= abs(x.mean()) - 1e-12)) / (1 + n_permutations)
    return out


def _mixed_anova(changes: pd.DataFrame) -> dict:
    """Run pingouin's mixed ANOVA on completers; the interaction row (F, DF2, p, np2)."""
    import pingouin as pg

    long = pd.concat([changes.assign(session=s, value=changes[s]) for s in SESSIONS])
    long = long.reset_index()[["participant_id", "group", "session", "value"]]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        aov = pg.mixed_anova(long, dv="value", within="session", between="group",
                             subject="participant_id")
    row = aov.set_index("Source").loc["Interaction"]
    pcol = "p_unc" if "p_unc" in aov.columns else "p-unc"
    return {"statistic": float(row["F"]), "df": float(row["DF2"]), "p": float(row[pcol]),
            "np2": float(row["np2"])}


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
    """Planted and reported d of every outcome × contrast for the configured data.

    For the twin scored with the open surrogates, ``planted_trial_effects(cfg.preset)``.
    The planted values are derived for the surrogates (the twin's measurement model reads
    its latent truth through them), so they are blanked (NaN) for outcomes scored with an
    official map (NPS, NPSpos, NPSneg when the official NPS file is present; SIIPS1 when the
    official SIIPS1 is), and for every outcome of a user's dataset (``cfg.bids_dir`` set),
    where only the paper's reported values remain. :func:`planted_note` says which.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRUTH_COLUMNS`.
    """
    from mindpain.twin.model import planted_trial_effects

    if cfg.bids_dir is None:
        truth = planted_trial_effects(cfg.preset)
        blank = truth["outcome"].isin(official_outcomes(cfg))
    else:
        truth = planted_trial_effects("full")
        blank = pd.Series(True, index=truth.index)
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
    if cfg.bids_dir is not None:
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
    >>> from mindpain.twin import simulate_observed
    >>> obs = simulate_observed("small", seed=1, n_replications=1)
    >>> res = analyse_trial(obs, n_permutations=99, outcome_names=("nps",))
    >>> sorted(res.effects["model"].unique())[:2]
    ['ancova', 'ancova_hc3']
    """
    from mindpain.config import derive_rng

    trial = validate_outcomes(outcomes, outcome_names)
    rng = derive_rng(seed, "trial-permutation")
    rows, checks, resid_rows, arm_n = [], [], [], {}
    for outcome in outcome_names:
        ch = change_scores(trial, outcome)
        arms = {a: ch.loc[ch.group == a, "change"].to_numpy() for a in ARMS}
        arm_n[outcome] = {a: v.size for a, v in arms.items()}
        n_comp = len(ch)
        perm = _permutation_p(ch, rng, n_permutations)
        for name in TRIAL_CONTRASTS:
            if name in BETWEEN:
                a, b = _arm_pairs(name)
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
            for name, r in _ancova_contrasts(fit, ch, cov_type).items():
                a, b = _arm_pairs(name)
                rows.append(_row(outcome, name, model, r, int(ch.group.isin([a, b]).sum())))
        mixed = fit_mixedlm(trial, outcome, n_comp)
        for name, r in mixed["contrasts"].items():
            rows.append(_row(outcome, name, "mixedlm", r, mixed["n_participants"]))
        rows.append({"outcome": outcome, "contrast": OMNIBUS, "model": "mixedlm",
                     "p": mixed["omnibus"]["p"], "statistic": mixed["omnibus"]["statistic"],
                     "df": mixed["omnibus"]["df"], "n": mixed["n_participants"]})
        aov = _mixed_anova(ch)
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
                         **_fisher_ci(r, dof - 1), "p": float(rm[pcol].iloc[0]), "dof": dof,
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
                         **_fisher_ci(r, dof - 1), "p": float(pc[pcol].iloc[0]), "dof": dof,
                         "n": n})
    return pd.DataFrame(rows)


def _fisher_ci(r: float, n_minus_3: float, level: float = LEVEL) -> dict:
    z = np.arctanh(np.clip(r, -0.999999, 0.999999))
    half = stats.norm.ppf(0.5 + level / 2) / np.sqrt(max(n_minus_3, 1))
    return {"ci_low": float(np.tanh(z - half)), "ci_high": float(np.tanh(z + half))}


# ---------------------------------------------------------------- results files


def tables_dir(cfg) -> Path:
    """Folder of the result tables: ``cfg.results_dir`` (``<project>/results/tables``).

    Configurations without that attribute fall back to ``results/tables`` beside the work
    folder.
    """
    if getattr(cfg, "results_dir", None) is not None:
        return Path(cfg.results_dir)
    return Path(cfg.work_dir).parent / "results" / "tables"


def write_trial_effects(effects: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write the results table atomically to ``trial_effects.tsv``.

    Parameters
    ----------
    effects : pandas.DataFrame
        The results table (:attr:`TrialAnalysis.effects`).
    cfg : mindpain.config.Config
        Configuration (gives the folder, :func:`tables_dir`).
    out_dir : path-like, optional
        Folder to write to instead.

    Returns
    -------
    pathlib.Path
        The written file; its JSON sidecar (``trial_effects.json``, the column descriptions
        :data:`EFFECT_DESCRIPTIONS`) is written beside it.
    """
    from mindpain.io import write_json, write_tsv

    folder = Path(out_dir) if out_dir is not None else tables_dir(cfg)
    path = write_tsv(folder / "trial_effects.tsv", effects[EFFECT_COLUMNS])
    write_json(path.with_suffix(".json"), EFFECT_DESCRIPTIONS)
    return path


# ---------------------------------------------------------------- display helpers


def format_effects(effects: pd.DataFrame, models=("change_score", "ancova", "mixedlm"),
                   outcomes=TRIAL_OUTCOMES) -> pd.DataFrame:
    r"""Return a readable results table: one row per outcome, contrast and model.

    Columns: ``Outcome, Contrast, Model, d [95% CI]`` (change-score scale), ``d (paper
    scale)`` (the same model's t as :math:`2t/\sqrt{df}` between arms, :math:`d_z` within),
    ``p, p (Holm), Paper d`` (as reported, paper scale), ``Planted d`` (change-score scale),
    ``CI covers planted``; numbers rounded for display (the TSV keeps full precision).
    """
    rows = effects[effects.model.isin(models) & effects.outcome.isin(outcomes)
                   & effects.contrast.isin(TRIAL_CONTRASTS)].copy()
    rows["_o"] = rows.outcome.map({o: k for k, o in enumerate(outcomes)})
    rows["_c"] = rows.contrast.map({c: k for k, c in enumerate(TRIAL_CONTRASTS)})
    rows["_m"] = rows.model.map({m: k for k, m in enumerate(models)})
    rows = rows.sort_values(["_o", "_c", "_m"])

    def num(x, fmt="{:.2f}"):
        return "" if pd.isna(x) else fmt.format(x)

    return pd.DataFrame({
        "Outcome": rows.outcome.map(OUTCOME_LABELS),
        "Contrast": rows.contrast.map(CONTRAST_LABELS),
        "Model": rows.model,
        "d [95% CI]": [f"{d:.2f} [{lo:.2f}, {hi:.2f}]" for d, lo, hi in
                       zip(rows.estimate_d, rows.ci_low, rows.ci_high, strict=True)],
        "d (paper scale)": rows.estimate_d_paper.map(num),
        "p": rows.p.map(lambda x: num(x, "{:.3f}")),
        "p (Holm)": rows.p_adj.map(lambda x: num(x, "{:.3f}")),
        "Paper d": rows.reported_d.map(num),
        "Planted d": rows.planted_d.map(num),
        "CI covers planted": rows.covers_planted.map(
            lambda x: "" if pd.isna(x) else ("yes" if x else "no")),
    }).reset_index(drop=True)
