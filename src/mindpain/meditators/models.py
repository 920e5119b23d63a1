r"""Long-term meditators: the checked input and the estimators, vectorised over replications.

:func:`meditator_table` checks the outcomes and practice tables once
(:func:`validate_practice`) and returns the analysed rows with the log practice hours;
the estimators (:func:`ols_batch`, :func:`group_batch`, :func:`scaled_slope`,
:func:`spearman_batch`) fit one row of outcomes or many replications at
once. :mod:`mindpain.meditators.analysis` assembles them into the analysis (see its docstring for
the models) and :mod:`mindpain.meditators.calibration` replicates them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import NAIVE_GROUPS
from mindpain.stats.effect_sizes import LEVEL, standardised
from mindpain.stats.tables import check_outcomes_table, id_list

#: Practice predictors: effect name -> column of log10 hours.
PREDICTORS = {"retreat": "log_retreat", "daily": "log_daily", "lifetime": "log_lifetime"}
HOURS = ("lifetime_hours", "retreat_hours")


# ---------------------------------------------------------------- validation


def validate_practice(practice: pd.DataFrame, groups, source=None) -> pd.DataFrame:
    """Check practice hours against the participants' groups.

    Parameters
    ----------
    practice : pandas.DataFrame
        ``participant_id, lifetime_hours, retreat_hours``: a BIDS ``phenotype/practice.tsv``
        (meditators only) or a participants table (missing hours for naive participants).
    groups : mapping or pandas.Series
        ``participant_id -> group`` of every analysed participant.
    source : str or path-like, optional
        Where the practice table came from (put first in error messages).

    Returns
    -------
    pandas.DataFrame
        One row per meditator: ``participant_id, lifetime_hours, retreat_hours``.

    Raises
    ------
    mindpain.core.errors.MindpainError
        Missing columns; a repeated participant; hours that are not numbers, negative or
        infinite; retreat hours above lifetime hours; a meditator without hours (or with
        one of the two missing); hours given for a non-meditator or for a participant
        not in the outcomes. Each message names the participants.

    Examples
    --------
    >>> practice = pd.DataFrame({"participant_id": ["sub-2"], "lifetime_hours": [900.0],
    ...                          "retreat_hours": [300.0]})
    >>> validate_practice(practice, {"sub-1": "WL", "sub-2": "LTM"})["retreat_hours"].tolist()
    [300.0]
    """
    groups = pd.Series(groups, dtype=object) if not isinstance(groups, pd.Series) else groups
    where = "practice hours"
    if not isinstance(practice, pd.DataFrame):
        raise MindpainError(f"{where}: expected a table, got {type(practice).__name__}", source)
    missing = [c for c in ("participant_id", *HOURS) if c not in practice.columns]
    if missing:
        raise MindpainError(f"{where}: missing column(s) {', '.join(missing)}; expected "
                            "participant_id, lifetime_hours, retreat_hours", source)
    table = practice[["participant_id", *HOURS]].copy()
    table["participant_id"] = table["participant_id"].astype(str)
    dup = table["participant_id"][table["participant_id"].duplicated()]
    if len(dup):
        raise MindpainError(f"{where}: participant(s) listed more than once: {id_list(dup)}",
                            source)
    for col in HOURS:
        raw = table[col]
        num = pd.to_numeric(raw, errors="coerce")
        bad = table["participant_id"][num.isna() & raw.notna()]
        if len(bad):
            raise MindpainError(f"{where}: {col} is not a number for {id_list(bad)}", source)
        table[col] = num.astype(float)
    has = table[list(HOURS)].notna().any(axis=1)
    unknown = table["participant_id"][has & ~table["participant_id"].isin(groups.index)]
    if len(unknown):
        raise MindpainError(f"{where}: hours given for participant(s) not in the outcomes "
                            f"table: {id_list(unknown)}", source)
    group_of = table["participant_id"].map(groups)
    non_med = table["participant_id"][has & group_of.ne("LTM")]
    if len(non_med):
        raise MindpainError(f"{where}: hours given for non-meditator(s) {id_list(non_med)} "
                            f"(group {id_list(group_of[non_med.index].unique())}); only LTM "
                            "participants have practice hours", source)
    ltm = groups.index[groups.eq("LTM")]
    listed = table.set_index("participant_id")
    absent = [p for p in ltm if p not in listed.index]
    if absent:
        raise MindpainError(f"{where}: meditator(s) without practice hours: {id_list(absent)}; "
                            "every LTM participant needs lifetime_hours and retreat_hours",
                            source)
    med = listed.loc[list(ltm)]
    for col in HOURS:
        who = med.index[med[col].isna()]
        if len(who):
            raise MindpainError(f"{where}: {col} missing for meditator(s) {id_list(who)}", source)
        who = med.index[~np.isfinite(med[col])]
        if len(who):
            raise MindpainError(f"{where}: {col} is infinite for {id_list(who)}", source)
        who = med.index[med[col] < 0]
        if len(who):
            vals = ", ".join(f"{p} ({med.at[p, col]:g})" for p in who[:5])
            raise MindpainError(f"{where}: negative {col} for {vals}; expected hours >= 0",
                                source)
    who = med.index[med["retreat_hours"] > med["lifetime_hours"]]
    if len(who):
        raise MindpainError(f"{where}: retreat_hours exceed lifetime_hours for {id_list(who)}; "
                            "retreat practice is part of lifetime practice", source)
    return med.reset_index()[["participant_id", *HOURS]]


def meditator_table(outcomes: pd.DataFrame, practice: pd.DataFrame, source=None) -> pd.DataFrame:
    r"""Return the analysed rows: each LTM's session and each naive participant's baseline.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Outcomes table (one row per participant and session).
    practice : pandas.DataFrame
        Practice hours (see :func:`validate_practice`).
    source : str or path-like, optional
        Origin of the practice table, for error messages.

    Returns
    -------
    pandas.DataFrame
        ``participant_id, group, cohort ('LTM'|'naive'), age, sex`` (when present), the
        outcomes, the hours (``daily_hours`` = lifetime - retreat) and their
        ``log_retreat, log_daily, log_lifetime`` (:math:`\log_{10}\max(h, 1)`).

    Raises
    ------
    mindpain.core.errors.MindpainError
        Missing columns, unknown groups, a participant in two groups, a meditator with more
        than one session, no naive baseline, or invalid practice hours.
    """
    data = check_outcomes_table(outcomes)
    groups = data.groupby("participant_id")["group"].first()
    ltm = data[data["group"].eq("LTM")]
    n_ses = ltm.groupby("participant_id")["session"].nunique()
    if (n_ses > 1).any():
        raise MindpainError("outcomes table: meditator(s) with more than one session: "
                            f"{id_list(n_ses.index[n_ses > 1])}; LTM were scanned once")
    naive = data[data["group"].isin(NAIVE_GROUPS) & data["session"].eq("pre")]
    if naive.empty:
        raise MindpainError("outcomes table: no naive baseline rows (groups MBSR/HEP/WL, "
                            "session 'pre'); they are the comparison sample")
    hours = validate_practice(practice, groups, source)
    rows = pd.concat([ltm, naive], ignore_index=True)
    rows = rows.drop(columns=[c for c in (*HOURS, "daily_hours") if c in rows.columns])
    rows = rows.merge(hours, on="participant_id", how="left")
    rows.insert(2, "cohort", np.where(rows["group"].eq("LTM"), "LTM", "naive"))
    rows["daily_hours"] = rows["lifetime_hours"] - rows["retreat_hours"]
    for effect, col in PREDICTORS.items():
        h = rows[f"{effect}_hours"].to_numpy(float)
        rows[col] = np.log10(np.maximum(h, 1.0))
    return rows.drop(columns="session").reset_index(drop=True)


# ---------------------------------------------------------------- vectorised estimators


def covariates(data: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Numeric age and sex (female = 1) columns; notes say what had to be left out."""
    notes, cov = [], pd.DataFrame(index=data.index)
    if "age" in data.columns:
        cov["age"] = pd.to_numeric(data["age"], errors="coerce")
    else:
        notes.append("no age column")
    if "sex" in data.columns:
        sex = data["sex"].astype(str).str.strip().str.upper().str[:1]
        cov["sex_f"] = np.where(sex.eq("F"), 1.0, np.where(sex.eq("M"), 0.0, np.nan))
    else:
        notes.append("no sex column")
    return cov, notes


def ols_batch(X, Y, hc3: bool = False) -> dict:
    """OLS of many outcome vectors on one design (one fit per row of ``Y``).

    Parameters
    ----------
    X : array_like, shape (n, p)
        Design matrix (full column rank).
    Y : array_like, shape (R, n)
        Outcomes, one replication per row.
    hc3 : bool
        Use HC3 heteroscedasticity-consistent standard errors.

    Returns
    -------
    dict
        ``coef (R, p), se (R, p), df, sigma (R,)``.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 1, 2, 3]])
    >>> ols_batch(X, [[1.0, 3, 5, 7]])["coef"].round(6).tolist()
    [[1.0, 2.0]]
    """
    X, Y = np.asarray(X, float), np.atleast_2d(np.asarray(Y, float))
    n, p = X.shape
    xtx_inv = np.linalg.inv(X.T @ X)
    proj = xtx_inv @ X.T  # (p, n)
    coef = Y @ proj.T
    resid = Y - coef @ X.T
    df = n - p
    sigma2 = (resid**2).sum(-1) / df if df > 0 else np.full(len(Y), np.nan)
    if hc3:
        h = np.einsum("ij,jk,ik->i", X, xtx_inv, X)
        w = resid**2 / (1 - h) ** 2  # (R, n)
        se = np.sqrt(w @ (proj**2).T)
    else:
        se = np.sqrt(sigma2[:, None] * np.diag(xtx_inv)[None, :])
    return {"coef": coef, "se": se, "df": df, "sigma": np.sqrt(sigma2)}


def group_batch(y_ltm, y_naive, level: float = LEVEL) -> dict:
    """Welch test and Cohen's d (pooled SD) of LTM minus naive, vectorised over rows.

    Returns
    -------
    dict
        ``d, ci_low, ci_high, p`` (Welch), ``t_pooled, sd_pooled, df_welch``.

    Examples
    --------
    >>> out = group_batch([[2.0, 3.0, 4.0]], [[0.0, 1.0, 2.0]])
    >>> float(out["d"][0])
    2.0
    """
    a, b = np.atleast_2d(np.asarray(y_ltm, float)), np.atleast_2d(np.asarray(y_naive, float))
    na, nb = a.shape[-1], b.shape[-1]
    va, vb = a.var(-1, ddof=1), b.var(-1, ddof=1)
    diff = a.mean(-1) - b.mean(-1)
    sd = np.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    se_w = np.sqrt(va / na + vb / nb)
    df_w = se_w**4 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
    out = standardised(diff, se_w, sd, df_w, level)
    return {"d": out["d"], "ci_low": out["ci_low"], "ci_high": out["ci_high"], "p": out["p"],
            "t_pooled": diff / (sd * np.sqrt(1 / na + 1 / nb)), "sd_pooled": sd,
            "df_welch": df_w}


def scaled_slope(coef, se, df, scale, n_scale, level: float = LEVEL, normal: bool = False):
    r"""Slope over an estimated SD, with a delta-method CI that includes the SD's error.

    ``scale`` is a sample SD from ``n_scale`` observations, independent of the slope;
    :math:`\mathrm{Var}(s)/s^2 \approx 1/(2(n-1))` for normal data.
    """
    coef, se, scale = (np.asarray(x, float) for x in (coef, se, scale))
    est = coef / scale
    se_tot = np.sqrt(se**2 + coef**2 / (2 * (n_scale - 1))) / scale
    q = stats.norm.ppf(0.5 + level / 2) if normal else stats.t.ppf(0.5 + level / 2, df)
    return est, est - q * se_tot, est + q * se_tot


def spearman_batch(x, Y):
    """Spearman rho and its two-sided p (t approximation, as scipy) for rows of ``Y``.

    Examples
    --------
    >>> r, p = spearman_batch([1.0, 2, 3, 4, 5], [[2.0, 1, 4, 3, 5]])
    >>> round(float(r[0]), 2)
    0.8
    """
    rx = stats.rankdata(np.asarray(x, float), axis=-1)
    ry = stats.rankdata(np.atleast_2d(np.asarray(Y, float)), axis=-1)
    rx = np.broadcast_to(rx, ry.shape)
    rx = rx - rx.mean(-1, keepdims=True)
    ry = ry - ry.mean(-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (rx * ry).sum(-1) / np.sqrt((rx**2).sum(-1) * (ry**2).sum(-1))
        n = ry.shape[-1]
        t = r * np.sqrt((n - 2) / ((1 - r) * (1 + r)))
    return r, 2 * stats.t.sf(np.abs(t), n - 2)



def design_matrix(frame: pd.DataFrame, columns: list[str]):
    """Design matrix with an intercept; constant columns dropped (named in the note)."""
    keep, dropped = [], []
    for c in columns:
        (keep if frame[c].nunique() > 1 else dropped).append(c)
    X = np.column_stack([np.ones(len(frame)), *[frame[c].to_numpy(float) for c in keep]])
    note = f"{', '.join(dropped)} constant, left out" if dropped else ""
    return X, keep, note
