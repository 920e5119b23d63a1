"""Results at a glance: the paper's reported contrasts beside what this build gives.

The landing page of the book shows one small table: for each contrast the paper reports, its
d and p, this build's estimate of the same contrast (one draw of the twin, or your data), and
what the end-to-end calibration gives through the whole pipeline over many draws. Nothing is
computed here; the function only picks rows of results the chapters computed and writes them
the way a reader says them.
"""

from __future__ import annotations

import pandas as pd

from mindpain.core.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS
from mindpain.figures.tables import MISSING, DisplayTable, format_cell

#: The model whose d this build shows on the paper's scale: the mixed model, whose contrasts
#: have the paper's degrees of freedom (so 2t/sqrt(df) is the paper's conversion).
GLANCE_PAPER_MODEL = "mixedlm"
#: The model whose CI is held against the planted value (the scale the twin plants on).
GLANCE_MODEL = "change_score"
#: The end-to-end model that reproduces the paper's test (3-arm pooled SD of change).
GLANCE_ENDTOEND_MODEL = "paper"
def _with_p(d, p) -> str:
    """``"-0.43 (0.050)"``: a d with its p, or the dash when the d is missing."""
    text = format_cell(d, digits=2)
    return text if text == MISSING else f"{text} ({format_cell(p, 'p')})"


def results_at_a_glance(scales: pd.DataFrame, effects: pd.DataFrame, endtoend: pd.DataFrame,
                        scenario: str) -> pd.DataFrame:
    """One row per reported contrast: the paper, this build, and the end-to-end calibration.

    Parameters
    ----------
    scales : pandas.DataFrame
        :func:`mindpain.reported.effect_scale_table` (``outcome, contrast, reported_d,
        reported_p, df, t``).
    effects : pandas.DataFrame
        The trial's effects table (``trial_effects.tsv``,
        :data:`mindpain.trial.analysis.EFFECT_COLUMNS`).
    endtoend : pandas.DataFrame
        The end-to-end calibration table (``trial_coverage_endtoend.tsv``).
    scenario : str
        The end-to-end scenario that matches this build's world (``"realistic"`` or
        ``"ideal"``).

    Returns
    -------
    pandas.DataFrame
        Text cells with reader's headers: outcome, contrast, the paper's d and p; this
        build's d on the paper's scale and p (the mixed model, whose contrasts have the
        paper's df), its change-score d with 95% CI and whether that CI covers the
        recoverable change-score d (when ``effects`` has ``covers_recoverable``, see
        :func:`mindpain.recoverable.trial_with_recoverable`) and the planted one (``—`` for
        your own data); and the end-to-end calibration's mean paper-scale d of the paper's
        test and the coverage of its 95% CIs.
    """
    build = effects[effects.model == GLANCE_MODEL].set_index(["outcome", "contrast"])
    paper = effects[effects.model == GLANCE_PAPER_MODEL].set_index(["outcome", "contrast"])
    e2e = endtoend[(endtoend.scenario == scenario)
                   & (endtoend.model == GLANCE_ENDTOEND_MODEL)].set_index(["outcome", "contrast"])
    rows = []
    for r in scales.itertuples():
        key = (r.outcome, r.contrast)
        b = build.loc[key] if key in build.index else None
        m = paper.loc[key] if key in paper.index else None
        e = e2e.loc[key] if key in e2e.index else None
        covers = MISSING
        if b is not None and pd.notna(b.get("covers_planted")) and pd.notna(b.planted_d):
            covers = "yes" if bool(b.covers_planted) else "no"
        recovered = {}
        if "covers_recoverable" in effects:
            ok = b is not None and pd.notna(b.get("covers_recoverable"))
            recovered = {"CI covers recoverable d": MISSING if not ok
                         else "yes" if bool(b.covers_recoverable) else "no"}
        rows.append({
            "Outcome": OUTCOME_LABELS[r.outcome],
            "Contrast": CONTRAST_LABELS[r.contrast],
            "Paper d (p)": _with_p(r.reported_d, r.reported_p),
            "Twin d (p)": MISSING if m is None else _with_p(m.estimate_d_paper, m.p),
            "Twin change-score d [95% CI]": MISSING if b is None else
            f"{b.estimate_d:.2f} [{b.ci_low:.2f}, {b.ci_high:.2f}]",
            **recovered,
            "CI covers planted d": covers,
            "Pipeline mean d": MISSING if e is None else format_cell(e.mean_estimate, digits=2),
            "Pipeline CI coverage": MISSING if e is None else f"{e.coverage:.0%}",
        })
    return pd.DataFrame(rows)


def glance_table(scales: pd.DataFrame, effects: pd.DataFrame, endtoend: pd.DataFrame,
                 scenario: str) -> DisplayTable:
    """Return :func:`results_at_a_glance` as the book shows it: a display table.

    Parameters
    ----------
    scales, effects, endtoend, scenario
        As for :func:`results_at_a_glance`.

    Returns
    -------
    DisplayTable
        Numbers aligned right, with a note on the scales and on what "—" means.
    """
    frame = results_at_a_glance(scales, effects, endtoend, scenario)
    numeric = tuple(c for c in frame.columns if c not in ("Outcome", "Contrast")
                    and "covers" not in c)
    e2e = endtoend[(endtoend.scenario == scenario) & (endtoend.model == GLANCE_ENDTOEND_MODEL)]
    reps = int(e2e.replications.min()) if len(e2e) else 0
    note = ("Paper: the abstract's d and p. Twin: this build, one simulated trial of the "
            "paper's size; d on the paper's scale (2t/√df between arms, d_z within MBSR) and p "
            "from the mixed model, whose contrasts have the paper's df; the change-score d "
            "(two arms' pooled SD of change) is the scale the twin plants on. Pipeline: the "
            f"end-to-end calibration, {reps} simulated trials in the {scenario} world through "
            "BOLD, first level, scoring and the paper's test. "
            f"{MISSING} not available (no planted value for your own data).")
    return DisplayTable(frame=frame, note=note, numeric=numeric)
