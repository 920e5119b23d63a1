"""The chapters' own results tables, each a :class:`~mindpain.figures.tables.DisplayTable`.

One function per table a chapter shows (the trial's effects, the meditator comparisons,
demographics, the calibrations side by side, the multiverse's replications); each chooses
rows and columns of a results table and hands them to
:func:`~mindpain.figures.tables.readable_table`, the one presentation helper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from mindpain.core.vocabulary import (
    TRIAL_CONTRASTS,
    TRIAL_OUTCOMES,
)
from mindpain.figures.tables import (
    COLUMNS,
    DisplayTable,
    is_missing,
    readable_table,
)
from mindpain.meditators.analysis import EFFECT_LABELS, METHOD_LABELS


def trial_effects(effects: pd.DataFrame, models=("change_score", "ancova", "mixedlm"),
                  outcomes=TRIAL_OUTCOMES) -> DisplayTable:
    r"""Return the trial's effects as a readable table: one row per outcome, contrast and model.

    Parameters
    ----------
    effects : pandas.DataFrame
        The trial's effects table (:attr:`mindpain.trial.analysis.TrialAnalysis.effects`).
    models, outcomes : sequence of str
        Which models and outcomes to show, in this order.

    Returns
    -------
    DisplayTable
        ``Outcome, Contrast, Model, d [95% CI]`` (change-score scale), ``d (paper scale)``
        (the same model's t as :math:`2t/\sqrt{df}` between arms, :math:`d_z` within),
        ``p, p (Holm), Paper d`` (as reported, paper scale), the recoverable d and the d
        planted in the generator (change-score scale) and whether the CI covers the
        recoverable d, when ``effects`` carries them
        (:func:`mindpain.recoverable.trial_with_recoverable`; otherwise the planted d and
        whether the CI covers it); numbers rounded; "—" where a value does not exist, with
        the reason in the note.
    """
    rows = effects[effects.model.isin(models) & effects.outcome.isin(outcomes)
                   & effects.contrast.isin(TRIAL_CONTRASTS)].copy()
    order = {"outcome": outcomes, "contrast": TRIAL_CONTRASTS, "model": models}
    rows = rows.sort_values(list(order), key=lambda col: col.map(
        {value: k for k, value in enumerate(order[col.name])}))
    rows["interval"] = ["" if any(is_missing(v) for v in (d, lo, hi))
                        else f"{d:.2f} [{lo:.2f}, {hi:.2f}]"
                        for d, lo, hi in zip(rows.estimate_d, rows.ci_low, rows.ci_high,
                                             strict=True)]
    truth = (["recoverable_d", "planted_d", "covers_recoverable"]
             if "recoverable_d" in rows else ["planted_d", "covers_planted"])
    return readable_table(
        rows, ["outcome", "contrast", "model", "interval", "estimate_d_paper", "p", "p_adj",
               "reported_d", *truth],
        headers={"interval": "d [95% CI], change-score scale",
                 "estimate_d_paper": "d, paper scale"},
        kinds={"interval": "num", "estimate_d_paper": "num"},
        digits={"estimate_d_paper": 2},
        missing="the paper reports no value for this contrast, or the twin plants none "
                "(a rating, or your own data).")


def meditator_effects(effects: pd.DataFrame) -> DisplayTable:
    """Return the meditator analyses' effects as a readable table (rounded, labelled).

    Parameters
    ----------
    effects : pandas.DataFrame
        The meditator effects table (:func:`mindpain.meditators.analysis.analyse_meditators`).

    Returns
    -------
    DisplayTable
        ``Outcome, Effect, Method, Estimate, 95% CI, p, p (Holm)``, the recoverable value
        and whether the CI covers it when ``effects`` carries them
        (:func:`mindpain.recoverable.meditators_with_recoverable`), the value planted in the
        generator, ``n, Note``; "—" where a method gives no such value (a Bayes factor has
        no CI or p) or nothing was planted, as the note under the table says.
    """
    shown = effects.copy()
    shown["interval"] = [f"[{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) and np.isfinite(hi)
                         else "" for lo, hi in zip(effects["ci_low"], effects["ci_high"],
                                                   strict=True)]
    return readable_table(
        shown, ["outcome", "effect", "method", "estimate", "interval", "p", "p_adj",
                *(["recoverable", "covers_recoverable"] if "recoverable" in shown else []),
                "planted", "n", "note"],
        headers={"interval": "95% CI"}, kinds={"interval": "num"},
        missing="the method gives no such value (a Bayes factor has no interval or p), the "
                "estimate could not be computed (see its note), or nothing was planted.")


def demographics(table: pd.DataFrame) -> DisplayTable:
    """Return chapter 1's demographics table (:func:`mindpain.bids.describe.demographics_table`).

    Parameters
    ----------
    table : pandas.DataFrame
        The formatted table, one row per group (its index).

    Returns
    -------
    DisplayTable
        ``Group`` (as a reader says it) and the table's own headers; "—" where the
        participants table records no age or sex.
    """
    shown = table.rename_axis("group")
    return readable_table(shown, headers={c: c for c in table.columns},
                          kinds={c: "num" for c in table.columns},
                          missing="the participants table records no age or sex here.")


def side_by_side(parts: Mapping[str, pd.DataFrame], keys: Sequence[str],
                 values: Sequence[str], *, missing: str | None = None) -> DisplayTable:
    """Return several tables' ``values`` side by side, matched on ``keys`` (outer join).

    Parameters
    ----------
    parts : mapping
        Name of each part (it ends each header: "Coverage, <name>") -> its table.
    keys : sequence of str
        Columns that identify a row (e.g. outcome, contrast, model).
    values : sequence of str
        Columns of each part to show (headers from :data:`COLUMNS`).
    missing : str, optional
        Why a row of one part has no match in another (required when one has none).

    Returns
    -------
    DisplayTable
        One row per key, ``len(parts) * len(values)`` value columns, one header each.
    """
    joined, headers = None, {}
    for k, (name, part) in enumerate(parts.items()):
        renamed = {v: f"{v}__{k}" for v in values}
        piece = part.set_index(list(keys))[list(values)].rename(columns=renamed)
        headers.update({renamed[v]: f"{COLUMNS[v].header}, {name}" for v in values})
        joined = piece if joined is None else joined.join(piece, how="outer")
    kinds = {f"{v}__{k}": COLUMNS[v].kind for k in range(len(parts)) for v in values}
    digits = {f"{v}__{k}": COLUMNS[v].digits for k in range(len(parts)) for v in values}
    return readable_table(joined, headers=headers, kinds=kinds, digits=digits,
                          missing=missing)


def analysis_label(code: str) -> str:
    """Name of a meditator analysis code ``<effect>_<method>`` as a reader says it.

    >>> analysis_label("retreat_ols")
    'retreat hours: OLS slope'
    """
    effect, _, method = str(code).partition("_")
    return f"{EFFECT_LABELS.get(effect, effect)}: {METHOD_LABELS.get(method, method)}"


#: Display names of the meditator calibration's quantities.
QUANTITY_LABELS = {"coverage": "coverage of the 95% CI", "rejection_rate": "rejection rate",
                   "false_positive_rate": "false-positive rate", "power": "power"}


def meditator_coverage(coverage: pd.DataFrame) -> DisplayTable:
    """Return chapter 5's calibration table, from :mod:`mindpain.meditators.calibration`.

    Parameters
    ----------
    coverage : pandas.DataFrame
        One row per analysis, outcome and quantity (``value`` a share of replications).

    Returns
    -------
    DisplayTable
        Every row; the analysis as its effect and method (e.g. "retreat hours: OLS slope").
    """
    shown = coverage.assign(analysis=coverage["analysis"].map(analysis_label))
    return readable_table(
        shown, ["analysis", "outcome", "quantity", "value", "mc_se", "replications",
                "planted", "mean_estimate", "note"],
        headers={"value": "Rate (share of replications)", "planted": "Planted value",
                 "mean_estimate": "Mean estimate"},
        kinds={"value": "num", "quantity": "label"}, labels={"quantity": QUANTITY_LABELS},
        missing="not defined for this quantity.")


def multiverse_replications(spread: pd.DataFrame) -> DisplayTable:
    """Return chapter 6's table of the multiverse replicated on independently drawn twins.

    Parameters
    ----------
    spread : pandas.DataFrame
        One row per outcome (:func:`mindpain.multiverse.replications.spread_summary`): ``outcome,
        replications, n_specs, truth_d, spec_sd_median, sampling_sd_median,
        sampling_to_spec, coverage_min, coverage_median, coverage_max,
        share_specs_coverage_ge_90``.

    Returns
    -------
    DisplayTable
        Every row; the two spreads, their ratio and the coverage over specifications under
        headers that say what each is a median or extreme of.
    """
    return readable_table(
        spread, ["outcome", "replications", "n_specs", "truth_d", "spec_sd_median",
                 "sampling_sd_median", "sampling_to_spec", "coverage_min", "coverage_median",
                 "coverage_max", "share_specs_coverage_ge_90"],
        headers={"truth_d": "Recoverable d", "spec_sd_median": "SD across specifications "
                 "(median over replications)", "sampling_sd_median": "SD across "
                 "replications (median over specifications)", "sampling_to_spec": "Ratio of "
                 "the two SDs", "coverage_min": "Coverage, lowest", "coverage_median":
                 "Coverage, median", "coverage_max": "Coverage, highest",
                 "share_specs_coverage_ge_90": "Specifications covering in at least 90%"},
        digits={"truth_d": 2, "spec_sd_median": 2, "sampling_sd_median": 2,
                "sampling_to_spec": 1, "coverage_min": 2, "coverage_median": 2,
                "coverage_max": 2, "share_specs_coverage_ge_90": 2})
