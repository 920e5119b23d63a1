"""Models of the randomized trial, one outcome at a time: the checked input and its fits.

:func:`validate_outcomes` checks an outcomes table once; :func:`change_scores` gives the
completers' pre, post and change; the models are the ones :mod:`mindpain.trial.analysis` assembles
into its results table (see its docstring for their definitions): the vectorised ANCOVA of
many replications (:func:`ancova_batch`, for the calibration), the mixed model
(:func:`fit_mixedlm`), the ANCOVA (:func:`fit_ancova`, :func:`ancova_contrasts`), the
permutation tests (:func:`permutation_p`) and pingouin's mixed ANOVA (:func:`mixed_anova`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import ARMS, BETWEEN, SESSIONS, TRIAL_OUTCOMES, WITHIN
from mindpain.stats.effect_sizes import between_d, standardised
from mindpain.stats.tables import check_outcomes_table

#: Columns every outcomes table must have (besides the outcomes).
REQUIRED_COLUMNS = ("participant_id", "session", "group")


# ---------------------------------------------------------------- validation


def validate_outcomes(table, outcomes=TRIAL_OUTCOMES) -> pd.DataFrame:
    """Check an outcomes table and return its trial rows (LTM dropped).

    Every check runs before any model is fit; each failure raises
    :class:`~mindpain.core.errors.MindpainError` with a one-line message.

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
    >>> from mindpain.twin import participant_level_parameters, simulate_observed
    >>> params = participant_level_parameters("small")
    >>> obs = simulate_observed(params, seed=1, n_replications=1)
    >>> sorted(validate_outcomes(obs)["group"].unique())
    ['HEP', 'MBSR', 'WL']
    """
    outcomes = tuple(outcomes)
    data = check_outcomes_table(table, REQUIRED_COLUMNS, outcomes)
    bad = sorted(set(data["session"]) - set(SESSIONS))
    if bad:
        raise MindpainError(f"outcomes table: session label(s) {', '.join(map(repr, bad))}; "
                            "expected 'pre' or 'post'")
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


def arm_pairs(name: str) -> tuple[str, str]:
    """Return the two arms of a between-arm contrast ``A_vs_B``: ``(A, B)``."""
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


def ancova_contrasts(fit, changes: pd.DataFrame, cov_type: str) -> dict:
    """Between-arm contrasts of an ANCOVA fit as d (standardised by the change-score s_p)."""
    names = fit.model.exog_names
    cov = np.asarray(fit.cov_params() if cov_type == "classical"
                     else fit.get_robustcov_results(cov_type="HC3").cov_params())
    params = np.asarray(fit.params)
    col = {"MBSR": names.index("C(group, Treatment('WL'))[T.MBSR]"),
           "HEP": names.index("C(group, Treatment('WL'))[T.HEP]")}
    out = {}
    for name in BETWEEN:
        a, b = arm_pairs(name)
        L = np.zeros(len(names))
        for arm, sign in ((a, 1.0), (b, -1.0)):
            if arm in col:
                L[col[arm]] += sign
        sd = between_d(changes.loc[changes.group == a, "change"],
                       changes.loc[changes.group == b, "change"])["sd"]
        out[name] = standardised(L @ params, np.sqrt(L @ cov @ L), sd, fit.df_resid)
    return out


def permutation_p(changes: pd.DataFrame, rng: np.random.Generator, n_permutations: int) -> dict:
    """Two-sided permutation p values of the change-score contrasts.

    Between: arm labels of the two arms permuted (difference in mean change). Within:
    random sign flips of the arm's changes (mean change). p = (1 + #extreme) / (1 + B).
    """
    out = {}
    for name in BETWEEN:
        a, b = arm_pairs(name)
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


def mixed_anova(changes: pd.DataFrame) -> dict:
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
