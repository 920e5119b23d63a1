"""Figures of the randomized-trial chapter: each ``plot_*`` returns a Figure.

Inputs come from :mod:`mindpain.trial.analysis` (validated trial rows, the effects table, the
residuals, the link table and the calibration table). Figures are made with
:class:`matplotlib.figure.Figure` directly (not pyplot) and use the book's group colours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from scipy import stats

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import (
    ARMS,
    BETWEEN,
    CONTRAST_LABELS,
    GROUP_LABELS,
    OUTCOME_LABELS,
    RATING_OUTCOMES,
    SESSIONS,
    TRIAL_CONTRASTS,
)
from mindpain.figures.style import (
    GROUP_COLORS,
    MODEL_COLORS,
    PAPER_COLOR,
    RATING_UNITS,
    REFERENCE_COLOR,
    column_width,
    styled,
)
from mindpain.trial.models import change_scores

#: Marker and colour of each model in the forest and coverage plots (Okabe-Ito).
MODEL_STYLE = {"change_score": ("o", MODEL_COLORS["change_score"], "Change score (t)"),
               "ancova": ("s", MODEL_COLORS["ancova"], "ANCOVA"),
               "ancova_hc3": ("D", MODEL_COLORS["ancova_hc3"], "ANCOVA, HC3 SE"),
               "mixedlm": ("^", MODEL_COLORS["mixedlm"], "Mixed model (ITT)")}


def _need(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MindpainError(f"{what}: missing column(s) {', '.join(missing)}")


@styled
def plot_trajectories(trial: pd.DataFrame, outcomes=("nps", "siips1")) -> Figure:
    """Show each participant's pre→post trajectory with the group mean and its 95% CI.

    Parameters
    ----------
    trial : pandas.DataFrame
        Validated trial rows (:func:`mindpain.trial.models.validate_outcomes`).
    outcomes : sequence of str
        One row of panels per outcome; one column per arm.

    Returns
    -------
    matplotlib.figure.Figure
        Thin lines: completers; open circles: baseline-only participants; thick line and
        error bars: mean of all available values per session with its t-based 95% CI.
    """
    _need(trial, ("participant_id", "session", "group", *outcomes), "trial table")
    fig = Figure(figsize=(column_width(9), 2.9 * len(outcomes) + 0.4))
    axes = np.atleast_2d(fig.subplots(len(outcomes), len(ARMS), sharey="row", squeeze=False))
    for i, outcome in enumerate(outcomes):
        ch = change_scores(trial, outcome)
        for j, arm in enumerate(ARMS):
            ax = axes[i, j]
            color = GROUP_COLORS[arm]
            sub = ch[ch.group == arm]
            for pre, post in zip(sub["pre"], sub["post"], strict=True):
                ax.plot([0, 1], [pre, post], color=color, alpha=0.25, lw=0.8)
            only = trial[(trial.group == arm) & ~trial.participant_id.isin(ch.index)]
            only = only.dropna(subset=[outcome])
            xs = np.where(only["session"] == "pre", -0.06, 1.06)
            ax.scatter(xs, only[outcome], facecolor="white", edgecolor=color, s=18, zorder=3)
            means, half = [], []
            for s in SESSIONS:
                v = trial.loc[(trial.group == arm) & (trial.session == s), outcome].dropna()
                means.append(v.mean())
                half.append(stats.t.ppf(0.975, max(v.size - 1, 1)) * v.std(ddof=1)
                            / np.sqrt(v.size) if v.size > 1 else np.nan)
            ax.errorbar([0, 1], means, yerr=half, color=color, lw=2.5, capsize=5, zorder=4,
                        marker="o", ms=6)
            ax.set_xticks([0, 1], ["Pre", "Post"])
            ax.set_xlim(-0.3, 1.3)
            if i == 0:
                n_only = only.participant_id.nunique()
                ax.set_title(f"{GROUP_LABELS[arm]} (n = {len(sub)} + {n_only})", fontsize=11)
            if j == 0:
                ax.set_ylabel(f"{OUTCOME_LABELS[outcome]} {RATING_UNITS.get(outcome, 'response')}")
            ax.grid(axis="y", color="0.92")
            ax.set_axisbelow(True)
    handles = [Line2D([], [], color="0.4", alpha=0.4, lw=0.8, label="Participant (pre and post)"),
               Line2D([], [], ls="", marker="o", mfc="white", mec="0.4", label="Baseline only"),
               Line2D([], [], color="0.2", lw=2.5, marker="o", label="Group mean, 95% CI")]
    fig.legend(handles=handles, loc="lower center", ncols=3, frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


@styled
def plot_forest(effects: pd.DataFrame, outcomes=("nps", "siips1"),
                models=("change_score", "ancova", "mixedlm"), contrasts=TRIAL_CONTRASTS) -> Figure:
    """Forest plot of the contrasts' d with 95% CIs, beside the paper's and the twin's truths.

    All on the change-score scale: the paper's stars are ``reported_d_change`` (the
    change-score d its p implies, :mod:`mindpain.reported`) when the table has it. When the
    table has ``recoverable_d`` (:func:`mindpain.recoverable.trial_with_recoverable`), the
    recoverable d (what this pipeline, in this world, can recover) is the black bar and the
    d planted in the generator a grey one; otherwise the planted d is the black bar.

    Parameters
    ----------
    effects : pandas.DataFrame
        Results table of :func:`mindpain.trial.analysis.analyse_trial`.
    outcomes : sequence of str
        One panel per outcome.
    models : sequence of str
        Models drawn (rows without a CI are skipped; ANCOVA has between-arm rows only).
    contrasts : sequence of str
        Contrasts, top to bottom.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(effects, ("outcome", "contrast", "model", "estimate_d", "ci_low", "ci_high",
                    "reported_d", "planted_d"), "effects table")
    n = len(outcomes)
    ncols = min(n, 2)
    nrows = int(np.ceil(n / ncols))
    fig = Figure(figsize=(column_width(5.2 * ncols), 0.55 * len(contrasts) * nrows + 1.6))
    axes = np.atleast_1d(fig.subplots(nrows, ncols, sharex=True, sharey=True,
                                      squeeze=False)).ravel()
    offsets = np.linspace(0.22, -0.22, len(models)) if len(models) > 1 else [0.0]
    has_recoverable = "recoverable_d" in effects
    ypos = {c: len(contrasts) - 1 - k for k, c in enumerate(contrasts)}
    for ax, outcome in zip(axes, outcomes, strict=False):
        sub = effects[effects.outcome == outcome]
        for off, model in zip(offsets, models, strict=True):
            marker, color, _ = MODEL_STYLE[model]
            rows = sub[(sub.model == model) & sub.contrast.isin(contrasts)].dropna(
                subset=["ci_low"])
            y = rows.contrast.map(ypos).to_numpy() + off
            ax.errorbar(rows.estimate_d, y, xerr=[rows.estimate_d - rows.ci_low,
                                                  rows.ci_high - rows.estimate_d],
                        fmt=marker, color=color, ms=5, capsize=2, lw=1.2)
        truth = sub.drop_duplicates("contrast").set_index("contrast").reindex(list(contrasts))
        y = np.array([ypos[c] for c in contrasts])
        if has_recoverable:
            ax.scatter(truth["planted_d"], y, marker="|", s=200, color="0.6", lw=2, zorder=4)
            ax.scatter(truth["recoverable_d"], y, marker="|", s=260, color="black", lw=2,
                       zorder=5)
        else:
            ax.scatter(truth["planted_d"], y, marker="|", s=260, color="black", lw=2, zorder=5)
        paper = (truth["reported_d_change"] if "reported_d_change" in truth
                 else truth["reported_d"])
        ax.scatter(paper, y, marker="*", s=110, color=PAPER_COLOR, zorder=6,
                   edgecolor="black", lw=0.4)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.axhline(len(contrasts) - len([c for c in contrasts if c in BETWEEN]) - 0.5,
                   color="0.85", lw=0.8)
        ax.set_yticks(y, [CONTRAST_LABELS[c] for c in contrasts])
        ax.set_title(OUTCOME_LABELS[outcome], loc="left")
        ax.grid(axis="x", color="0.92")
        ax.set_axisbelow(True)
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    for ax in axes[-ncols:]:
        ax.set_xlabel("d, change score" if ncols > 1 else
                      "Cohen's d on the change score (negative: lower after)")
    handles = [Line2D([], [], ls="", marker=MODEL_STYLE[m][0], color=MODEL_STYLE[m][1],
                      label=MODEL_STYLE[m][2]) for m in models]
    if has_recoverable:
        handles += [Line2D([], [], ls="", marker="|", ms=14, mew=2, color="black",
                           label="Recoverable (estimand)"),
                    Line2D([], [], ls="", marker="|", ms=12, mew=2, color="0.6",
                           label="Planted in the generator")]
    else:
        handles += [Line2D([], [], ls="", marker="|", ms=14, mew=2, color="black",
                           label="Planted (twin truth)")]
    handles += [Line2D([], [], ls="", marker="*", ms=11, color=PAPER_COLOR, mec="black",
                       label="Paper (its p as a change-score d)")]
    fig.legend(handles=handles, loc="lower center", ncols=3, frameon=False)
    rows_of_legend = int(np.ceil(len(handles) / 3))
    fig.tight_layout(rect=(0, (0.05 if nrows == 1 else 0.03) * (rows_of_legend + 0.2), 1, 1))
    return fig


@styled
def plot_residuals(residuals: pd.DataFrame, assumptions: pd.DataFrame | None = None,
                   model: str = "ancova") -> Figure:
    """Residuals against fitted values (top) and normal Q-Q plots (bottom), per outcome.

    Parameters
    ----------
    residuals : pandas.DataFrame
        ``outcome, model, fitted, residual``
        (:attr:`mindpain.trial.analysis.TrialAnalysis.residuals`).
    assumptions : pandas.DataFrame, optional
        Shapiro-Wilk table; its p value is printed in each panel.
    model : str
        Which model's residuals to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(residuals, ("outcome", "model", "fitted", "residual"), "residuals table")
    data = residuals[residuals.model == model]
    outcomes = list(dict.fromkeys(data.outcome))
    if not outcomes:
        raise MindpainError(f"residuals table has no rows for model {model!r}")
    # Rows of three outcomes, each a pair of rows: residuals (top), Q-Q plot (bottom).
    ncols = min(len(outcomes), 3)
    blocks = int(np.ceil(len(outcomes) / ncols))
    fig = Figure(figsize=(column_width(2.6 * ncols), 4.6 * blocks))
    grid = fig.subplots(2 * blocks, ncols, squeeze=False)
    for j, outcome in enumerate(outcomes):
        top, bottom = grid[2 * (j // ncols), j % ncols], grid[2 * (j // ncols) + 1, j % ncols]
        sub = data[data.outcome == outcome]
        r = sub["residual"].to_numpy()
        top.scatter(sub["fitted"], r, s=9, color="0.3", alpha=0.7)
        top.axhline(0, color=REFERENCE_COLOR, lw=1)
        top.set_title(OUTCOME_LABELS[outcome], fontsize=11)
        (osm, osr), (slope, icpt, _) = stats.probplot(r, dist="norm")
        bottom.scatter(osm, osr, s=9, color="0.3", alpha=0.7)
        bottom.plot(osm, slope * osm + icpt, color=REFERENCE_COLOR, lw=1)
        if assumptions is not None:
            row = assumptions[(assumptions.outcome == outcome) & (assumptions.model == model)]
            if len(row):
                bottom.set_title(f"Shapiro p = {row.shapiro_p.iloc[0]:.2f}", fontsize=10)
        top.set_xlabel("Fitted", fontsize=9)
        bottom.set_xlabel("Normal quantile", fontsize=9)
        if j % ncols == 0:
            top.set_ylabel("Residual")
            bottom.set_ylabel("Ordered residual")
    for j in range(len(outcomes), blocks * ncols):
        grid[2 * (j // ncols), j % ncols].set_visible(False)
        grid[2 * (j // ncols) + 1, j % ncols].set_visible(False)
    fig.tight_layout()
    return fig


@styled
def plot_link(trial: pd.DataFrame, link: pd.DataFrame | None = None, signatures=("nps", "siips1"),
              ratings=RATING_OUTCOMES) -> Figure:
    """Change in signature response against change in rating, one point per completer.

    Parameters
    ----------
    trial : pandas.DataFrame
        Validated trial rows.
    link : pandas.DataFrame, optional
        Output of :func:`mindpain.trial.analysis.neural_subjective_link`; its r values are printed.
    signatures, ratings : sequence of str
        Rows and columns of panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=(column_width(4.0 * len(ratings)), 3.3 * len(signatures) + 0.4))
    axes = fig.subplots(len(signatures), len(ratings), squeeze=False)
    for i, sig in enumerate(signatures):
        for j, rat in enumerate(ratings):
            ax = axes[i, j]
            x, y = change_scores(trial, rat), change_scores(trial, sig)
            both = x.index.intersection(y.index)
            for arm in ARMS:
                keep = both[x.loc[both, "group"] == arm]
                ax.scatter(x.loc[keep, "change"], y.loc[keep, "change"], s=16,
                           color=GROUP_COLORS[arm], alpha=0.8, label=GROUP_LABELS[arm])
            ax.axhline(0, color="0.8", lw=0.8)
            ax.axvline(0, color="0.8", lw=0.8)
            if link is not None:
                rows = link[(link.signature == sig) & (link.rating == rat)].set_index("method")
                text = "\n".join(f"{lab} r = {rows.loc[m, 'r']:.2f}" for m, lab in
                                 (("rm_corr", "rm"), ("change_on_change", "Δ~Δ"))
                                 if m in rows.index)
                ax.text(0.02, 0.98, text, transform=ax.transAxes, va="top", fontsize=9)
            ax.set_xlabel(f"Change in {rat}")
            ax.set_ylabel(f"Change in {OUTCOME_LABELS[sig]}")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncols=len(ARMS), frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig


def _coverage_limits(table: pd.DataFrame, low: float) -> tuple[float, float]:
    """Return x limits that show every coverage and its ±2 Monte-Carlo SE bar whole."""
    lo = float(np.nanmin(table.coverage - 2 * table.mc_se)) if len(table) else low
    hi = float(np.nanmax(table.coverage + 2 * table.mc_se)) if len(table) else 1.0
    return max(min(low, lo - 0.01), 0.0), max(1.0, hi) + 0.01


@styled
def plot_coverage(coverage: pd.DataFrame, target: float = 0.95, tolerance: float = 0.03) -> Figure:
    """Coverage of the 95% CIs of d per outcome, contrast and model, with 2 Monte-Carlo SEs.

    Parameters
    ----------
    coverage : pandas.DataFrame
        Table of :func:`mindpain.trial.calibration.calibrate_trial`.
    target, tolerance : float
        Nominal coverage and the accepted band (shaded).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(coverage, ("outcome", "contrast", "model", "coverage", "mc_se"), "coverage table")
    outcomes = list(dict.fromkeys(coverage.outcome))
    ncols = min(len(outcomes), 3)
    nrows = int(np.ceil(len(outcomes) / ncols))
    fig = Figure(figsize=(column_width(2.2 * ncols + 1.5), 2.6 * nrows + 0.8))
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    low, high = _coverage_limits(coverage, 0.85)
    models = [m for m in MODEL_STYLE if m in set(coverage.model)]
    offsets = dict(zip(models, np.linspace(-0.27, 0.27, len(models)), strict=True))
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    for k, (ax, outcome) in enumerate(zip(axes, outcomes, strict=False)):
        ax.axvspan(target - tolerance, target + tolerance, color="0.9")
        ax.axvline(target, color="0.5", lw=0.8)
        sub = coverage[coverage.outcome == outcome]
        for model in models:
            rows = sub[sub.model == model]
            y = np.array([len(TRIAL_CONTRASTS) - 1 - TRIAL_CONTRASTS.index(c)
                          for c in rows.contrast])
            marker, color, _ = MODEL_STYLE[model]
            ax.errorbar(rows.coverage, y + offsets[model], xerr=2 * rows.mc_se, fmt=marker,
                        color=color, ms=4, lw=1, capsize=1.5)
        ax.set_title(OUTCOME_LABELS[outcome], fontsize=11)
        ax.set_xlim(low, high)
        ax.set_xticks([0.9, 0.95, 1.0], ["0.90", "0.95", "1.00"])
        if k + ncols >= len(outcomes):  # the lowest panel of its column
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel("Coverage")
    axes[0].set_yticks(range(len(TRIAL_CONTRASTS)),
                       [CONTRAST_LABELS[c] for c in TRIAL_CONTRASTS[::-1]])
    handles = [Line2D([], [], ls="", marker=MODEL_STYLE[m][0], color=MODEL_STYLE[m][1],
                      label=MODEL_STYLE[m][2]) for m in models]
    fig.legend(handles=handles, loc="lower center", ncols=min(len(models), 2), frameon=False)
    fig.tight_layout(rect=(0, 0.6 / fig.get_figheight(), 1, 1))
    return fig


@styled
def plot_endtoend_coverage(table: pd.DataFrame, target: float = 0.95,
                           tolerance: float = 0.03) -> Figure:
    """Coverage of the end-to-end calibration per world, outcome, contrast and model.

    Parameters
    ----------
    table : pandas.DataFrame
        Coverage table of :func:`mindpain.endtoend.coverage.coverage_table` (columns ``world,
        outcome, contrast, model, coverage, mc_se``).
    target, tolerance : float
        Nominal coverage and the accepted band (shaded).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per world (rows) and outcome (columns); dots with ±2 Monte-Carlo SE.
    """
    _need(table, ("world", "outcome", "contrast", "model", "coverage", "mc_se"),
          "end-to-end coverage table")
    worlds = list(dict.fromkeys(table.world))
    outcomes = list(dict.fromkeys(table.outcome))
    contrasts = list(dict.fromkeys(table.contrast))
    styles = dict(MODEL_STYLE, paper=("*", MODEL_COLORS["paper"], "Paper's test (3-arm pooled SD)"))
    models = [m for m in ("paper", *MODEL_STYLE) if m in set(table.model)]
    offsets = dict(zip(models, np.linspace(-0.27, 0.27, len(models)), strict=True))
    low, high = _coverage_limits(table, 0.8)
    fig = Figure(figsize=(column_width(2.6 * len(outcomes) + 1.8), 2.3 * len(worlds) + 1.0))
    axes = fig.subplots(len(worlds), len(outcomes), sharex=True, sharey=True, squeeze=False)
    for i, world in enumerate(worlds):
        for j, outcome in enumerate(outcomes):
            ax = axes[i, j]
            ax.axvspan(target - tolerance, target + tolerance, color="0.9")
            ax.axvline(target, color="0.5", lw=0.8)
            sub = table[(table.world == world) & (table.outcome == outcome)]
            for model in models:
                rows = sub[sub.model == model]
                y = np.array([len(contrasts) - 1 - contrasts.index(c) for c in rows.contrast])
                marker, color, _ = styles[model]
                ax.errorbar(rows.coverage, y + offsets[model], xerr=2 * rows.mc_se, fmt=marker,
                            color=color, ms=4, lw=1, capsize=1.5)
            label = world if "world" in world else f"{world} world"
            ax.set_title(f"{OUTCOME_LABELS[outcome]}, {label}", fontsize=10)
            ax.set_xlim(low, high)
            if i == len(worlds) - 1:
                ax.set_xlabel("Coverage")
        axes[i, 0].set_yticks(range(len(contrasts)),
                              [CONTRAST_LABELS[c] for c in contrasts[::-1]])
    handles = [Line2D([], [], ls="", marker=styles[m][0], color=styles[m][1],
                      label=styles[m][2]) for m in models]
    fig.legend(handles=handles, loc="lower center", ncols=2, frameon=False)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
