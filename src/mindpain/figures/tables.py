r"""Results tables for reading: the chapters' rounded, labelled views of the effects tables.

The TSV files keep full precision (:func:`mindpain.trial.write_trial_effects`,
:func:`mindpain.meditators.write_meditator_effects`); these functions only choose rows,
order them, label them and round the numbers for display, as the figure functions beside
them draw results without computing any.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.meditators import EFFECT_LABELS, METHOD_LABELS
from mindpain.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS, TRIAL_CONTRASTS, TRIAL_OUTCOMES


def _number(value, fmt: str = "{:.2f}") -> str:
    """Format a number for display; a missing value is an empty cell."""
    return "" if pd.isna(value) else fmt.format(value)


def _p_value(value) -> str:
    return _number(value, "{:.3f}")


def trial_effects(effects: pd.DataFrame, models=("change_score", "ancova", "mixedlm"),
                  outcomes=TRIAL_OUTCOMES) -> pd.DataFrame:
    r"""Return the trial's effects as a readable table: one row per outcome, contrast and model.

    Parameters
    ----------
    effects : pandas.DataFrame
        The trial's effects table (:attr:`mindpain.trial.TrialAnalysis.effects`).
    models, outcomes : sequence of str
        Which models and outcomes to show, in this order.

    Returns
    -------
    pandas.DataFrame
        ``Outcome, Contrast, Model, d [95% CI]`` (change-score scale), ``d (paper scale)``
        (the same model's t as :math:`2t/\sqrt{df}` between arms, :math:`d_z` within),
        ``p, p (Holm), Paper d`` (as reported, paper scale), ``Planted d`` (change-score
        scale), ``CI covers planted``; numbers rounded.
    """
    rows = effects[effects.model.isin(models) & effects.outcome.isin(outcomes)
                   & effects.contrast.isin(TRIAL_CONTRASTS)].copy()
    order = {"outcome": outcomes, "contrast": TRIAL_CONTRASTS, "model": models}
    rows = rows.sort_values(list(order), key=lambda col: col.map(
        {value: k for k, value in enumerate(order[col.name])}))
    return pd.DataFrame({
        "Outcome": rows.outcome.map(OUTCOME_LABELS),
        "Contrast": rows.contrast.map(CONTRAST_LABELS),
        "Model": rows.model,
        "d [95% CI]": [f"{d:.2f} [{lo:.2f}, {hi:.2f}]" for d, lo, hi in
                       zip(rows.estimate_d, rows.ci_low, rows.ci_high, strict=True)],
        "d (paper scale)": rows.estimate_d_paper.map(_number),
        "p": rows.p.map(_p_value),
        "p (Holm)": rows.p_adj.map(_p_value),
        "Paper d": rows.reported_d.map(_number),
        "Planted d": rows.planted_d.map(_number),
        "CI covers planted": rows.covers_planted.map(
            lambda x: "" if pd.isna(x) else ("yes" if x else "no")),
    }).reset_index(drop=True)


def meditator_effects(effects: pd.DataFrame) -> pd.DataFrame:
    """Return the meditator analyses' effects as a readable table (rounded, labelled).

    Parameters
    ----------
    effects : pandas.DataFrame
        The meditator effects table (:func:`mindpain.meditators.analyse_meditators`).

    Returns
    -------
    pandas.DataFrame
        ``Outcome, Effect, Method, Estimate, 95% CI, p, p (Holm), Planted, n, Note``.
    """
    ci = [f"[{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi) else ""
          for lo, hi in zip(effects["ci_low"], effects["ci_high"], strict=True)]
    return pd.DataFrame({
        "Outcome": effects["outcome"].map(OUTCOME_LABELS),
        "Effect": effects["effect"].map(EFFECT_LABELS),
        "Method": effects["method"].map(METHOD_LABELS),
        "Estimate": effects["estimate"].map(_number), "95% CI": ci,
        "p": effects["p"].map(_p_value),
        "p (Holm)": effects["p_adj"].map(_p_value),
        "Planted": effects["planted"].map(_number), "n": effects["n"], "Note": effects["note"],
    }).reset_index(drop=True)
