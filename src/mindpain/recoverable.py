"""What one draw of the twin shows against the truth the analysis can recover.

The twin writes two truths for every effect: the value **planted in the generator**, as its
ideal measurement model reads it (``planted_d_paper``, ``planted``), and the
**recoverable** value (``recoverable_d_paper``, ``recoverable``): the effect that this
pipeline, in this world and on this grid, can recover, the estimand its intervals are
meant to cover. In the realistic world the pipeline attenuates the effects, so the two
differ. This module sets a chapter's estimates beside both and says, in numbers and a few
words, whether each 95% interval covers the recoverable value and, where one does not, how
rare such a miss is over the replications (chapter 4's end-to-end and participant-level
calibrations, chapter 5's meditator calibration).

Functions named ``*_summary`` return dicts of numbers and short phrases; the chapters glue
them into sentences that live in their Markdown. Nothing here is written to a results
table: the tables the analyses write keep their columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mindpain.core.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS

#: Keys of one trial contrast.
_TRIAL_KEYS = ["outcome", "contrast"]
#: Keys of one meditator analysis.
_MEDITATOR_KEYS = ["outcome", "effect", "method"]


# ---------------------------------------------------------------- the recoverable truth


def trial_recoverable(truth: pd.DataFrame, planted: pd.DataFrame | None) -> pd.DataFrame:
    r"""Add the recoverable effect of every contrast to the trial's truth table.

    The recoverable effect comes on the paper's scale (``recoverable_d_paper`` of the twin's
    ``planted_effects.tsv``); on the change-score scale it is
    ``recoverable_d_paper`` times the design's ratio of the two scales for that contrast,
    ``planted_d / planted_d_paper`` (both are the same expected t, :math:`d_s =
    t\sqrt{1/n_1 + 1/n_2}` and :math:`2t/\sqrt{df}`, so the ratio depends only on the
    arms' sizes). A contrast planted as exactly zero in every outcome takes the ratio of
    no outcome: its recoverable change-score d is 0 when its recoverable paper-scale d is
    0, else missing.

    Parameters
    ----------
    truth : pandas.DataFrame
        The trial's truth table (:func:`mindpain.trial.analysis.truth_table`): ``outcome, contrast,
        planted_d, planted_d_paper``; a blank planted value (real data, an official map)
        leaves the recoverable value blank.
    planted : pandas.DataFrame or None
        The twin's planted effects with ``recoverable_d_paper``
        (:func:`mindpain.truth.read_trial_truth`); ``None`` for real data.

    Returns
    -------
    pandas.DataFrame
        ``truth`` with ``recoverable_d_paper`` and ``recoverable_d`` (change-score scale).

    Examples
    --------
    >>> truth = pd.DataFrame({"outcome": ["nps"], "contrast": ["MBSR_vs_HEP"],
    ...                       "planted_d": [-0.6], "planted_d_paper": [-0.5]})
    >>> planted = truth.assign(recoverable_d_paper=[-0.4])
    >>> trial_recoverable(truth, planted).recoverable_d.round(3).tolist()
    [-0.48]
    """
    out = truth.drop(columns=["recoverable_d_paper", "recoverable_d"], errors="ignore")
    if planted is None or "recoverable_d_paper" not in planted:
        return out.assign(recoverable_d_paper=np.nan, recoverable_d=np.nan)
    out = out.merge(planted[[*_TRIAL_KEYS, "recoverable_d_paper"]], on=_TRIAL_KEYS, how="left")
    out["recoverable_d_paper"] = out["recoverable_d_paper"].astype(float).where(
        out["planted_d_paper"].notna())
    nonzero = out["planted_d_paper"].astype(float).abs() > 0
    ratio = (out["planted_d"] / out["planted_d_paper"]).where(nonzero)
    ratio = ratio.groupby(out["contrast"]).transform("median")
    zero = out["recoverable_d_paper"].eq(0)
    out["recoverable_d"] = np.where(zero, 0.0, out["recoverable_d_paper"] * ratio)
    out["recoverable_d"] = out["recoverable_d"].where(out["recoverable_d_paper"].notna())
    return out


def trial_with_recoverable(effects: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Set the recoverable effect beside every trial estimate, and whether its CI covers it.

    Parameters
    ----------
    effects : pandas.DataFrame
        The trial's effects (:attr:`mindpain.trial.analysis.TrialAnalysis.effects`): ``outcome,
        contrast, ci_low, ci_high`` (change-score scale).
    truth : pandas.DataFrame
        :func:`trial_recoverable` of the truth table.

    Returns
    -------
    pandas.DataFrame
        ``effects`` with ``recoverable_d``, ``recoverable_d_paper`` and
        ``covers_recoverable`` (boolean; missing where there is no CI or no recoverable
        value). For display only: the effects file keeps its columns.
    """
    cols = ["recoverable_d", "recoverable_d_paper"]
    out = effects.drop(columns=[*cols, "covers_recoverable"], errors="ignore").merge(
        truth[[*_TRIAL_KEYS, *cols]], on=_TRIAL_KEYS, how="left")
    out["covers_recoverable"] = _covers(out, "recoverable_d")
    return out


def meditators_with_recoverable(effects: pd.DataFrame,
                                planted: pd.DataFrame | None) -> pd.DataFrame:
    """Set the recoverable value beside every meditator estimate, and whether its CI covers it.

    Parameters
    ----------
    effects : pandas.DataFrame
        The meditator effects (:func:`mindpain.meditators.analysis.analyse_meditators`).
    planted : pandas.DataFrame or None
        The twin's planted meditator effects with ``recoverable``
        (:func:`mindpain.truth.read_meditator_truth`); ``None`` for real data.

    Returns
    -------
    pandas.DataFrame
        ``effects`` with ``recoverable`` and ``covers_recoverable`` (display only).
    """
    out = effects.drop(columns=["recoverable", "covers_recoverable"], errors="ignore")
    if planted is None or "recoverable" not in planted:
        out = out.assign(recoverable=np.nan)
    else:
        out = out.merge(planted[[*_MEDITATOR_KEYS, "recoverable"]], on=_MEDITATOR_KEYS,
                        how="left")
        out["recoverable"] = out["recoverable"].astype(float).where(out["planted"].notna())
    out["covers_recoverable"] = _covers(out, "recoverable")
    return out


def _covers(frame: pd.DataFrame, truth: str) -> pd.Series:
    """Whether each row's 95% CI contains ``frame[truth]`` (missing where either is)."""
    lo, hi, value = (frame[c].astype(float) for c in ("ci_low", "ci_high", truth))
    has = lo.notna() & hi.notna() & value.notna()
    inside = (lo <= value) & (value <= hi)
    return pd.Series(pd.array(np.where(has, inside, pd.NA), dtype="boolean"), index=frame.index)


# ---------------------------------------------------------------- chapter 4: the trial


def trial_draw_summary(effects: pd.DataFrame, *, endtoend: pd.DataFrame | None = None,
                       calibration: pd.DataFrame | None = None, scenario: str = "realistic",
                       labels: Mapping[str, str] | None = None) -> dict:
    """Count one draw's intervals that cover the recoverable effect; say how rare each miss is.

    A miss is set against the replications of the same contrast and model: the end-to-end
    calibration in ``scenario`` (its ``coverage_recoverable``, or ``coverage`` while the
    table has no recoverable column), else the participant-level calibration (where the
    responses come from the measurement model, so planted and recoverable are one value).

    Parameters
    ----------
    effects : pandas.DataFrame
        :func:`trial_with_recoverable` of the rows a display shows (``outcome, contrast,
        model, estimate_d, ci_low, ci_high, recoverable_d, covers_recoverable``).
    endtoend : pandas.DataFrame, optional
        The end-to-end calibration (``scenario, outcome, contrast, model, coverage``, and
        ``coverage_recoverable`` when the table has it).
    calibration : pandas.DataFrame, optional
        The participant-level calibration (``outcome, contrast, model, coverage``).
    scenario : str
        The end-to-end scenario of this draw's world.
    labels : mapping, optional
        Display names of the models (default: their codes).

    Returns
    -------
    dict
        ``n_ci`` (intervals with a recoverable value), ``n_cover``, ``n_miss``,
        ``expected_miss`` (misses the replications lead one to expect over these rows,
        where they give a coverage; NaN if none), ``misses`` (phrase listing each miss with
        how often its interval misses over the replications, or "none"), ``verdict``
        (phrase: about as many as expected, or more, judged by :func:`miss_tail` at 5%)
        and ``has_truth`` (whether any row has a recoverable value).
    """
    labels = dict(labels or {})
    rows = effects.dropna(subset=["ci_low", "ci_high", "recoverable_d"])
    rates = [_replicated_coverage(r, endtoend, calibration, scenario) for r in rows.itertuples()]
    covered = rows["covers_recoverable"].astype(bool).to_numpy()
    known = [1 - c for c, _ in rates if np.isfinite(c)]
    expected = float(np.sum(known)) if known else np.nan
    misses = []
    for r, (cov, source), ok in zip(rows.itertuples(), rates, covered, strict=True):
        if ok:
            continue
        text = (f"{OUTCOME_LABELS.get(r.outcome, r.outcome)} "
                f"{CONTRAST_LABELS.get(r.contrast, r.contrast)}, "
                f"{labels.get(r.model, r.model)}: {r.estimate_d:.2f} "
                f"[{r.ci_low:.2f}, {r.ci_high:.2f}] against {r.recoverable_d:.2f}")
        text += (f"; such an interval misses in {1 - cov:.1%} of {source}"
                 if np.isfinite(cov) else "; no replications of this model measure how often")
        misses.append(text)
    n_miss = len(misses)
    known_miss = sum(1 for (c, _), ok in zip(rates, covered, strict=True)
                     if np.isfinite(c) and not ok)
    verdict = _verdict(len(rows), known, known_miss, "recoverable value")
    return {"n_ci": len(rows), "n_cover": int(covered.sum()), "n_miss": n_miss,
            "expected_miss": expected, "misses": "; ".join(misses) or "none",
            "verdict": verdict, "has_truth": bool(len(rows))}


def miss_tail(miss_rates: Sequence[float], n_miss: int) -> float:
    """Chance of at least ``n_miss`` misses among intervals that miss independently.

    The number of misses is then Poisson-binomial with the given per-interval miss rates
    (computed exactly by convolution). Intervals of one data set are not independent, so
    this is a yardstick, not a test.

    >>> round(miss_tail([0.05, 0.05], 1), 4)
    0.0975
    """
    dist = np.array([1.0])
    for q in miss_rates:
        dist = np.convolve(dist, [1 - q, q])
    return float(dist[n_miss:].sum()) if n_miss < len(dist) else 0.0


def _verdict(n_rows: int, known: Sequence[float], known_miss: int, truth: str) -> str:
    """Say whether the misses among intervals with known miss rates are as many as expected."""
    if not n_rows:
        return f"there is no {truth} to compare with"
    if not known:
        return "no replications say how many misses to expect"
    tail = miss_tail(known, known_miss)
    if tail >= 0.05:
        return "about as many misses as the replications lead one to expect"
    share = f"only {tail:.1%}" if tail >= 0.001 else "fewer than 0.1%"
    return ("more misses than the replications lead one to expect: if the intervals missed "
            f"independently, at least {known_miss} misses would occur in {share} of draws")


def _replicated_coverage(row, endtoend, calibration, scenario) -> tuple[float, str]:
    """Coverage of the recoverable value over the replications of ``row``'s contrast/model."""
    if endtoend is not None:
        hit = endtoend[(endtoend["scenario"] == scenario) & (endtoend["outcome"] == row.outcome)
                       & (endtoend["contrast"] == row.contrast)
                       & (endtoend["model"] == row.model)]
        column = "coverage_recoverable" if "coverage_recoverable" in endtoend else "coverage"
        if len(hit) and np.isfinite(hit[column].iloc[0]):
            return (float(hit[column].iloc[0]),
                    f"{int(hit['replications'].iloc[0])} replications through the pipeline")
    if calibration is not None:
        hit = calibration[(calibration["outcome"] == row.outcome)
                          & (calibration["contrast"] == row.contrast)
                          & (calibration["model"] == row.model)]
        if len(hit) and np.isfinite(hit["coverage"].iloc[0]):
            return (float(hit["coverage"].iloc[0]),
                    f"{int(hit['replications'].iloc[0])} participant-level replications")
    return np.nan, ""


#: How far the median t through the pipeline may lie from the paper's t for the twin to
#: count as reproducing it (per reported contrast, in the default world).
T_GAP_ALLOWED = 0.2


def endtoend_summary(endtoend: pd.DataFrame, scenario: str = "realistic",
                     model: str = "paper") -> dict:
    """Summarise the end-to-end calibration's reported contrasts: truth, coverage, median t.

    Parameters
    ----------
    endtoend : pandas.DataFrame
        The end-to-end calibration table (``scenario, outcome, contrast, model, reported,
        coverage, mc_se, planted_d_paper, mean_estimate``; when present also
        ``recoverable_d_paper, coverage_recoverable, mc_se_recoverable, median_t,
        reported_t, median_p``).
    scenario : str
        The scenario (world) summarised.
    model : str
        The model summarised (default: the paper's test).

    Returns
    -------
    dict
        ``has_recoverable`` and ``has_t`` (whether the table has those columns);
        ``rows`` (the reported contrasts of ``scenario`` and ``model``, one row each, with
        the columns above that exist); ``coverage_min``, ``coverage_max``,
        ``coverage_mean`` (of the recoverable value, or of the planted value while there is
        no recoverable column); ``n_miss_band`` (rows below the band's lower end,
        :data:`mindpain.endtoend.summary.TARGET` minus ``TOLERANCE``, by more than two
        Monte-Carlo SE); ``n`` (rows); ``max_t_gap`` (largest absolute median t minus paper t, NaN
        without t); ``t_gap_allowed`` (:data:`T_GAP_ALLOWED`) and ``n_t_gap_beyond`` (rows
        whose median t is further than that from the paper's); ``n_t_outside_band`` (rows
        whose median t is more than two Monte-Carlo SE from the paper's; NaN without
        ``mc_se_median_t``); phrases: ``truth_words`` and ``t_words`` (what the table holds)
        and ``t_list`` (each contrast's median t beside the paper's t and the median p, or why
        there is none); ``t_note`` (a sentence on the contrasts whose median t lies beyond
        ``t_gap_allowed``: each named with its gap in Monte-Carlo SE, and whether that gap
        can be told from chance at this many replications).
    """
    from mindpain.endtoend.summary import TARGET, TOLERANCE

    rows = endtoend[(endtoend["scenario"] == scenario) & (endtoend["model"] == model)
                    & endtoend["reported"].astype(bool)].reset_index(drop=True)
    has_rec = {"recoverable_d_paper", "coverage_recoverable"} <= set(endtoend.columns)
    has_t = {"median_t", "reported_t"} <= set(endtoend.columns)
    cov = rows["coverage_recoverable" if has_rec else "coverage"].astype(float)
    se = rows["mc_se_recoverable" if has_rec and "mc_se_recoverable" in rows
              else "mc_se"].astype(float)
    gap = ((rows["median_t"] - rows["reported_t"]).abs().max() if has_t and len(rows)
           else np.nan)
    truth_words = ("the recoverable effect, the one this pipeline can estimate in this world"
                   if has_rec else
                   "the planted effect (this end-to-end table has no recoverable column yet, "
                   "so the generator's value stands in for it)")
    t_words = ("the median t through the pipeline beside the paper's t" if has_t else
               "none yet (this end-to-end table has no median t column; the participant-"
               "level replication above gives one)")
    has_t_se = has_t and "mc_se_median_t" in rows
    if has_t:
        t_list = "; ".join(
            f"{OUTCOME_LABELS.get(r.outcome, r.outcome)} "
            f"{CONTRAST_LABELS.get(r.contrast, r.contrast)}: median t {r.median_t:.2f}"
            + (f" (Monte-Carlo SE {r.mc_se_median_t:.2f})" if has_t_se else "")
            + f", paper {r.reported_t:.2f}"
            + (f" (median p {r.median_p:.3f})" if "median_p" in rows
               and np.isfinite(r.median_p) else "")
            for r in rows.itertuples()) or "no reported contrast in this table"
    else:
        t_list = t_words
    return {"has_recoverable": has_rec, "has_t": has_t, "rows": rows, "n": len(rows),
            "t_list": t_list, "t_note": _t_gap_note(rows, has_t, has_t_se),
            "coverage_min": float(cov.min()) if len(cov) else np.nan,
            "coverage_max": float(cov.max()) if len(cov) else np.nan,
            "coverage_mean": float(cov.mean()) if len(cov) else np.nan,
            "n_miss_band": int((cov + 2 * se < TARGET - TOLERANCE).sum()),
            "max_t_gap": float(gap),
            "t_gap_allowed": T_GAP_ALLOWED,
            "n_t_gap_beyond": int(((rows["median_t"] - rows["reported_t"]).abs()
                                   > T_GAP_ALLOWED).sum()) if has_t else np.nan,
            "n_t_outside_band": int(((rows["median_t"] - rows["reported_t"]).abs()
                                     > 2 * rows["mc_se_median_t"]).sum())
            if has_t_se else np.nan,
            "truth_words": truth_words, "t_words": t_words}


def _t_gap_note(rows: pd.DataFrame, has_t: bool, has_se: bool) -> str:
    """Return a sentence on the reported contrasts whose median t misses the paper's t.

    A miss is a gap larger than :data:`T_GAP_ALLOWED` (see :func:`endtoend_summary`).

    Examples
    --------
    >>> rows = pd.DataFrame({"outcome": ["nps", "nps"], "contrast": ["MBSR_vs_HEP",
    ...                      "MBSR_within"], "median_t": [-2.0, -2.7], "reported_t": [-2.0, -2.4],
    ...                      "mc_se_median_t": [0.1, 0.1]})
    >>> note = _t_gap_note(rows, True, True)
    >>> note.startswith("One contrast lies"), "gap -0.30, 3.0 Monte-Carlo SE" in note
    (True, True)
    """
    if not has_t:
        return ""
    gap = (rows["median_t"] - rows["reported_t"]).abs()
    beyond = rows[gap > T_GAP_ALLOWED]
    if beyond.empty:
        return (f"Every reported contrast's median t lies within {T_GAP_ALLOWED:.1f} of the "
                "paper's.")
    parts = []
    for r in beyond.itertuples():
        label = (f"{OUTCOME_LABELS.get(r.outcome, r.outcome)} "
                 f"{CONTRAST_LABELS.get(r.contrast, r.contrast)} "
                 f"(gap {r.median_t - r.reported_t:+.2f}")
        if has_se:
            z = abs(r.median_t - r.reported_t) / r.mc_se_median_t
            label += (f", {z:.1f} Monte-Carlo SE: "
                      + ("within what chance gives at this many replications)" if z <= 2
                         else "more than chance gives at this many replications)"))
        else:
            label += ")"
        parts.append(label)
    count = "One contrast lies" if len(parts) == 1 else f"{len(parts)} contrasts lie"
    return (f"{count} further than {T_GAP_ALLOWED:.1f} from the paper's t: "
            + "; ".join(parts) + ".")


# ---------------------------------------------------------------- chapter 5: meditators


def practice_replications(seed: int, preset: str = "full",
                          n_replications: int = 1000) -> pd.DataFrame:
    """Estimate every meditator analysis over replications of the twin's participant level.

    The same replications as the meditator calibration
    (:func:`mindpain.meditators.calibration.calibrate_meditators`, without the Huber fits):
    the same people, ages and practice hours every time, new true levels and noise.

    Returns
    -------
    pandas.DataFrame
        ``replication, outcome, effect, method, estimate, ci_low, ci_high, p, p_adj``.
    """
    from mindpain.meditators import calibration as meditator_calibration
    from mindpain.twin.params import participant_level_parameters

    # the calibration's own replicated data (one definition, in its module)
    params = participant_level_parameters(preset)
    data, arrays = meditator_calibration.replicated_outcomes(params, seed, n_replications)
    return meditator_calibration.calibration_estimates(data, arrays)


def practice_summary(effects: pd.DataFrame, replications: pd.DataFrame,
                     calibration: pd.DataFrame, *, effect: str, outcome: str = "siips1",
                     method: str = "ols") -> dict:
    """Set one draw's practice slope against its replication distribution, power and coverage.

    Parameters
    ----------
    effects : pandas.DataFrame
        :func:`meditators_with_recoverable` of this draw's meditator effects.
    replications : pandas.DataFrame
        :func:`practice_replications` (``outcome, effect, method, estimate``).
    calibration : pandas.DataFrame
        The meditator calibration (``analysis, outcome, quantity, value, replications``).
    effect, outcome, method : str
        The analysis (e.g. ``retreat``, ``siips1``, ``ols``).

    Returns
    -------
    dict
        ``estimate, ci_low, ci_high, planted, recoverable`` (NaN without a planted value);
        ``rep_low, rep_median, rep_high`` (2.5th, 50th, 97.5th percentiles of the
        replicated estimates); ``n_rep``; ``tail`` (share of replications at least as far
        from the replication median, on the draw's side); ``power`` (share of replications
        significant after Holm, where the calibration gives one; else NaN) and
        ``false_positive`` (unadjusted, for a planted null; else NaN); ``coverage`` (of
        the calibration); phrases: ``truth`` (the recoverable and the planted value, or
        that there is none), ``covers`` (whether the 95% interval contains the recoverable
        value), ``sign`` (whether the estimate has the planted sign), ``position``
        ("lies inside" / "lies **outside**" / cannot be placed) and ``rarity`` (how rare
        a draw this far out is).
    """
    row = effects[(effects["outcome"] == outcome) & (effects["effect"] == effect)
                  & (effects["method"] == method)].iloc[0]
    reps = replications[(replications["outcome"] == outcome)
                        & (replications["effect"] == effect)
                        & (replications["method"] == method)]["estimate"].to_numpy(float)
    reps = reps[np.isfinite(reps)]
    est = float(row["estimate"])
    planted = float(row["planted"]) if pd.notna(row.get("planted")) else np.nan
    recoverable = float(row["recoverable"]) if pd.notna(row.get("recoverable")) else np.nan
    low, median, high = (np.percentile(reps, [2.5, 50, 97.5]) if len(reps)
                         else (np.nan, np.nan, np.nan))
    if len(reps) and np.isfinite(est):
        tail = float(np.mean(reps >= est) if est >= median else np.mean(reps <= est))
    else:
        tail = np.nan
    cal = calibration[(calibration["analysis"] == f"{effect}_{method}")
                      & (calibration["outcome"] == outcome)].set_index("quantity")["value"]
    truth = recoverable if np.isfinite(recoverable) else planted
    lo, hi = float(row["ci_low"]), float(row["ci_high"])
    if not np.isfinite(est):
        words = ("planted in the generator "
                 f"{planted:.2f}" if np.isfinite(planted) else "no planted value")
        covers = "there is no interval to hold against the truth in this build"
        sign = "no sign to compare"
    elif not np.isfinite(truth):
        words = "there is no planted value (not the twin)"
        covers = "there is no recoverable value to hold its interval against"
        sign = "no planted sign to match"
    else:
        words = (f"recoverable {recoverable:.2f}, planted in the generator {planted:.2f}"
                 if np.isfinite(recoverable) else f"planted in the generator {planted:.2f}")
        covers = ("its 95% interval contains the recoverable value" if lo <= truth <= hi
                  else "its 95% interval does **not** contain the recoverable value")
        sign = ("the planted value is zero, so there is no sign to match" if truth == 0
                else "it has the planted sign" if np.sign(est) == np.sign(truth)
                else "it has the **opposite** sign to the planted one")
    inside = np.isfinite(low) and low <= est <= high
    position = ("lies inside" if inside else "lies **outside**" if np.isfinite(est)
                else "cannot be set against (this build could not estimate it; see the "
                     "table's note)")
    side = "above" if np.isfinite(median) and est >= median else "below"
    rarity = ("there is no estimate to place" if not np.isfinite(tail) else
              f"{tail:.1%} of the {len(reps)} replications lie this far {side} their median"
              if tail > 0 else
              f"none of the {len(reps)} replications lies this far {side} their median")
    return {"estimate": est, "ci_low": lo, "ci_high": hi, "planted": planted,
            "recoverable": recoverable, "rep_low": float(low), "rep_median": float(median),
            "rep_high": float(high), "n_rep": len(reps), "tail": tail,
            "power": float(cal.get("power", np.nan)),
            "false_positive": float(cal.get("false_positive_rate", np.nan)),
            "coverage": float(cal.get("coverage", np.nan)), "truth": words,
            "covers": covers, "sign": sign,
            "position": position, "rarity": rarity}


def draw_misses_summary(effects: pd.DataFrame, calibration: pd.DataFrame, *,
                        labels: Mapping[str, str] | None = None,
                        methods: Sequence[str] | None = None) -> dict:
    """Count one meditator draw's intervals that cover the recoverable value; rarity of misses.

    Parameters
    ----------
    effects : pandas.DataFrame
        :func:`meditators_with_recoverable` of this draw's meditator effects.
    calibration : pandas.DataFrame
        The meditator calibration (``analysis, outcome, quantity, value, replications``);
        its ``coverage`` rows say how often each analysis's interval contains the truth.
    labels : mapping, optional
        Phrase of each analysis code ``<effect>_<method>`` (default: the code).
    methods : sequence of str, optional
        Only these methods (default: all).

    Returns
    -------
    dict
        ``n_ci``, ``n_cover``, ``n_miss``, ``expected_miss``, ``misses`` (phrase, or
        "none"), ``verdict`` and ``has_truth``, as :func:`trial_draw_summary`.
    """
    labels = dict(labels or {})
    truth = effects["recoverable"].where(effects["recoverable"].notna(), effects["planted"])
    rows = effects.assign(truth=truth).dropna(subset=["ci_low", "ci_high", "truth"])
    if methods is not None:
        rows = rows[rows["method"].isin(methods)]
    cov = calibration[calibration["quantity"] == "coverage"].set_index(
        ["analysis", "outcome"])
    known, misses, known_miss = [], [], 0
    for r in rows.itertuples():
        key = (f"{r.effect}_{r.method}", r.outcome)
        rate = float(cov.loc[key, "value"]) if key in cov.index else np.nan
        n_rep = int(cov.loc[key, "replications"]) if key in cov.index else 0
        if np.isfinite(rate):
            known.append(1 - rate)
        if r.ci_low <= r.truth <= r.ci_high:
            continue
        known_miss += int(np.isfinite(rate))
        text = (f"{labels.get(key[0], key[0])} with {OUTCOME_LABELS.get(r.outcome, r.outcome)}: "
                f"{r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}] against {r.truth:.2f}")
        text += (f"; such an interval misses in {1 - rate:.1%} of {n_rep} replications"
                 if np.isfinite(rate) else "; no replications measure how often")
        misses.append(text)
    expected = float(np.sum(known)) if known else np.nan
    n_miss = len(misses)
    verdict = _verdict(len(rows), known, known_miss, "planted value")
    return {"n_ci": len(rows), "n_cover": len(rows) - n_miss, "n_miss": n_miss,
            "expected_miss": expected, "misses": "; ".join(misses) or "none",
            "verdict": verdict, "has_truth": bool(len(rows))}


# ---------------------------------------------------------------- calibration tables


def coverage_summary(table: pd.DataFrame, *, value: str = "coverage", se: str = "mc_se",
                     target: float = 0.95, tolerance: float = 0.03) -> dict:
    """Range of a calibration's coverage and the rows outside its band.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per calibrated estimate, with a coverage (share of replications whose 95%
        CI contains the truth) and its Monte-Carlo SE.
    value, se : str
        The coverage column and its SE column.
    target, tolerance : float
        The nominal coverage and the accepted band around it.

    Returns
    -------
    dict
        ``n``, ``min``, ``max``, ``mean``; ``n_below`` and ``n_above`` (rows outside the
        band by more than two Monte-Carlo SE); ``miss_max`` (the largest share of
        replications whose interval misses, ``1 - min``).

    Examples
    --------
    >>> t = pd.DataFrame({"coverage": [0.95, 0.80], "mc_se": [0.01, 0.01]})
    >>> s = coverage_summary(t)
    >>> s["n_below"], round(s["miss_max"], 2)
    (1, 0.2)
    """
    cov = table[value].astype(float)
    err = table[se].astype(float)
    return {"n": len(cov), "min": float(cov.min()), "max": float(cov.max()),
            "mean": float(cov.mean()),
            "n_below": int((cov + 2 * err < target - tolerance).sum()),
            "n_above": int((cov - 2 * err > target + tolerance).sum()),
            "miss_max": float(1 - cov.min())}
