"""Figures of the design-analysis chapter: each ``plot_*`` returns a Figure.

Inputs come from :mod:`mindpain.design.power` (power), :mod:`mindpain.design.retrodesign` (type S
and
type M), :mod:`mindpain.design.sensitivity` (tornado tables), :mod:`mindpain.design.evidence`
(equivalence and Bayes factors) and :mod:`mindpain.multiverse` (specification curve, its
null and its replications). Figures are made with
:class:`matplotlib.figure.Figure` directly (not pyplot) under the book's style.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS
from mindpain.figures.style import (
    CONTRAST_COLORS,
    INTERVAL_COLOR,
    OTHER_COLOR,
    OUTCOME_COLORS,
    PLANTED_COLOR,
    SIGNIFICANT_COLOR,
    column_width,
    styled,
)


def _need(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MindpainError(f"{what}: missing column(s) {', '.join(missing)}")


@styled
def plot_power_curves(power: pd.DataFrame, target: float = 0.8) -> Figure:
    """Power against participants per arm, one panel per design, actual arm sizes marked.

    Parameters
    ----------
    power : pandas.DataFrame
        :func:`mindpain.design.power.power_table` (scenarios ``paper`` and ``planted``).
    target : float
        Conventional power drawn as a dashed line.

    Returns
    -------
    matplotlib.figure.Figure
        Solid lines: power at the change-score d the paper's t implies; dotted: at the
        twin's planted d; dots: power at the trial's actual arm sizes.
    """
    _need(power, ("outcome", "contrast", "scenario", "n_per_arm", "power", "actual_n",
                  "true_d", "n1"), "power table")
    designs = list(dict.fromkeys(power["contrast"]))
    fig = Figure(figsize=(column_width(3.3 * len(designs)), 3.4))
    axes = fig.subplots(1, len(designs), sharey=True, squeeze=False)[0]
    for ax, design in zip(axes, designs, strict=True):
        rows = power[power.contrast == design]
        for (outcome, scenario), g in rows[rows.scenario.isin(["paper", "planted"])].groupby(
                ["outcome", "scenario"], sort=False):
            curve = g[~g.actual_n].sort_values("n_per_arm")
            style = "-" if scenario == "paper" else ":"
            label = f"{OUTCOME_LABELS[outcome]}, {scenario} d = {g.true_d.iloc[0]:.2f}"
            ax.plot(curve.n_per_arm, curve.power, style, color=OUTCOME_COLORS[outcome],
                    label=label)
            actual = g[g.actual_n].iloc[0]
            ax.plot(actual.n1, actual.power, "o", color=OUTCOME_COLORS[outcome], ms=5)
        n_actual = rows[rows.actual_n].n1.iloc[0]
        ax.axvline(n_actual, color="black", lw=0.8)
        ax.annotate(f"trial: {n_actual:.0f}", (n_actual, 0.02), xytext=(3, 0),
                    textcoords="offset points", fontsize=8)
        ax.axhline(target, color="grey", ls="--", lw=0.8)
        ax.set_title(CONTRAST_LABELS.get(design, design))
        ax.set_xlabel("participants per arm")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("power (two-sided, α = .05)")
    fig.tight_layout()
    return fig


@styled
def plot_exaggeration(curve: pd.DataFrame, retro: pd.DataFrame) -> Figure:
    """Exaggeration ratio (type M) and type S rate against the true effect, per design.

    Parameters
    ----------
    curve : pandas.DataFrame
        :func:`mindpain.design.retrodesign.exaggeration_curve`.
    retro : pandas.DataFrame
        :func:`mindpain.design.retrodesign.retrodesign_table` (its plausible effects are marked).
    """
    _need(curve, ("design", "true_d", "exaggeration", "type_s", "power"), "exaggeration curve")
    fig = Figure(figsize=(column_width(9), 3.4))
    ax_m, ax_s = fig.subplots(1, 2)
    for design, g in curve.groupby("design", sort=False):
        color = CONTRAST_COLORS.get(design, "black")
        label = CONTRAST_LABELS.get(design, design)
        ax_m.plot(g.true_d, g.exaggeration, color=color, label=label)
        ax_s.plot(g.true_d, g.type_s, color=color, label=label)
        marks = retro[retro.contrast == design]
        ax_m.plot(marks.true_d, marks.exaggeration, "o", color=color, ms=4)
    ax_m.set_yscale("log")
    ax_m.axhline(1, color="grey", lw=0.8)
    ax_m.set_xlabel("true effect |d| (change-score scale)")
    ax_m.set_ylabel("exaggeration ratio of a significant estimate")
    ax_m.set_title("Type M")
    ax_m.legend(fontsize=8)
    ax_s.set_xlabel("true effect |d| (change-score scale)")
    ax_s.set_ylabel("P(wrong sign | significant)")
    ax_s.set_yscale("log")
    ax_s.set_title("Type S")
    fig.tight_layout()
    return fig


@styled
def plot_tornado(bars: dict) -> Figure:
    """Tornado of power over each assumed parameter's range, one panel per analysis.

    Parameters
    ----------
    bars : dict
        Panel title -> :func:`mindpain.design.sensitivity.tornado` table.
    """
    # One panel per row: the parameters' names need the column's width.
    fig = Figure(figsize=(column_width(6.8), 2.5 * len(bars) + 0.2))
    axes = fig.subplots(len(bars), 1, sharex=True, squeeze=False)[:, 0]
    for ax, (title, t) in zip(axes, bars.items(), strict=True):
        _need(t, ("label", "power_low", "power_high", "power_assumed", "value_low",
                  "value_high"), "tornado table")
        y = np.arange(len(t))[::-1]
        for yi, row in zip(y, t.itertuples(index=False), strict=True):
            lo, hi = sorted((row.power_low, row.power_high))
            ax.barh(yi, hi - lo, left=lo, color=INTERVAL_COLOR, height=0.6)
            ax.annotate(f"{row.value_low:g}", (row.power_low, yi), xytext=(0, -10),
                        textcoords="offset points", fontsize=7, ha="center")
            ax.annotate(f"{row.value_high:g}", (row.power_high, yi), xytext=(0, -10),
                        textcoords="offset points", fontsize=7, ha="center")
        ax.axvline(t.power_assumed.iloc[0], color="black", lw=1)
        ax.set_yticks(y, t.label)
        ax.set_xlim(0, 1)
        ax.set_title(title, fontsize=10)
    axes[-1].set_xlabel("power")
    fig.tight_layout()
    return fig


@styled
def plot_evidence(table: pd.DataFrame, outcomes=("nps", "siips1")) -> Figure:
    """Each contrast's d with its 90 % CI against the equivalence bounds, with BF10.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`mindpain.design.evidence.evidence_table`.
    """
    _need(table, ("outcome", "contrast", "estimate_d", "ci90_low", "ci90_high", "sesoi_d",
                  "bf10", "equivalent"), "evidence table")
    outcomes = [o for o in outcomes if o in set(table.outcome)]
    fig = Figure(figsize=(column_width(4.6 * len(outcomes)), 3.4))
    axes = fig.subplots(1, len(outcomes), sharey=True, squeeze=False)[0]
    for ax, outcome in zip(axes, outcomes, strict=True):
        rows = table[table.outcome == outcome].reset_index(drop=True)
        y = np.arange(len(rows))[::-1]
        sesoi = rows.sesoi_d.iloc[0]
        ax.axvspan(-sesoi, sesoi, color=PLANTED_COLOR, alpha=0.12, lw=0)
        ax.axvline(0, color="grey", lw=0.8)
        for yi, r in zip(y, rows.itertuples(index=False), strict=True):
            color = PLANTED_COLOR if r.equivalent else "black"
            ax.plot([r.ci90_low, r.ci90_high], [yi, yi], color=color)
            ax.plot(r.estimate_d, yi, "o", color=color)
            ax.annotate(f"BF10 = {r.bf10:.2g}", (1.02, yi), xycoords=("axes fraction", "data"),
                        fontsize=7, va="center")
        ax.set_yticks(y, [CONTRAST_LABELS.get(c, c) for c in rows.contrast])
        ax.set_xlabel("d with 90% CI")
        ax.set_title(OUTCOME_LABELS.get(outcome, outcome))
    fig.tight_layout()
    return fig


#: Rows of the choice panel: column -> display name.
CHOICES = {"smoothing_fwhm": "smoothing (mm)", "hrf_model": "HRF", "high_pass_s": "high-pass (s)",
           "confounds": "confounds", "metric": "metric", "model": "model", "sample": "sample",
           "covariates": "covariates"}


@styled
def plot_specification_curve(specs: pd.DataFrame, outcome: str = "nps") -> Figure:
    """Sorted estimates with 95 % CIs (top) and the choices behind each one (bottom).

    Parameters
    ----------
    specs : pandas.DataFrame
        :data:`mindpain.multiverse.grid.SPEC_COLUMNS` rows.
    outcome : str
        Which signature's curve.

    Returns
    -------
    matplotlib.figure.Figure
        Every specification is one x position; orange: significant in the predicted
        direction; the dashed line is the twin's planted d, the dotted one (where it differs)
        the d the pipeline can recover (column ``recoverable_d``, when present).
    """
    _need(specs, ("outcome", "estimate_d", "ci_low", "ci_high", "significant", "planted_d",
                  *CHOICES), "specification table")
    rows = specs[specs.outcome == outcome].sort_values("estimate_d", kind="stable")
    rows = rows.reset_index(drop=True)
    levels = [(col, v) for col in CHOICES for v in sorted(rows[col].astype(str).unique())]
    fig = Figure(figsize=(column_width(10), 3.2 + 0.17 * len(levels)))
    ax, ax_c = fig.subplots(2, 1, sharex=True,
                            gridspec_kw={"height_ratios": [3, 0.22 * len(levels)]})
    x = np.arange(len(rows))
    colors = np.where(rows.significant, SIGNIFICANT_COLOR, OTHER_COLOR)
    ax.vlines(x, rows.ci_low, rows.ci_high, colors=colors, lw=0.6, alpha=0.6)
    ax.scatter(x, rows.estimate_d, c=colors, s=6, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    planted = rows.planted_d.iloc[0]
    if np.isfinite(planted):
        ax.axhline(planted, color=PLANTED_COLOR, ls="--", lw=1, label=f"planted d = {planted:.2f}")
    recoverable = rows.recoverable_d.iloc[0] if "recoverable_d" in rows else np.nan
    if np.isfinite(recoverable) and not np.isclose(recoverable, planted):
        ax.axhline(recoverable, color=PLANTED_COLOR, ls=":", lw=1.2,
                   label=f"recoverable d = {recoverable:.2f}")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8, loc="upper left")
    ax.set_ylabel("d with 95% CI")
    ax.set_title(f"{OUTCOME_LABELS.get(outcome, outcome)}, {len(rows)} specifications")
    for k, (col, value) in enumerate(levels):
        on = rows[col].astype(str).to_numpy() == value
        ax_c.scatter(x[on], np.full(on.sum(), k), s=4, c=colors[on], marker="s")
    ax_c.set_yticks(np.arange(len(levels)), [f"{CHOICES[c]}: {v}" for c, v in levels],
                    fontsize=7)
    ax_c.set_ylim(len(levels) - 0.5, -0.5)
    ax_c.set_xlabel("specification (sorted by estimate)")
    fig.tight_layout()
    return fig


@styled
def plot_null(null: pd.DataFrame, summary: pd.DataFrame, outcome: str = "nps") -> Figure:
    """Permutation null of the curve's share significant and median d, observed marked."""
    _need(null, ("outcome", "share_significant", "median_d"), "null table")
    rows = null[null.outcome == outcome]
    obs = summary.set_index("outcome").loc[outcome]
    fig = Figure(figsize=(column_width(8), 2.8))
    a, b = fig.subplots(1, 2)
    a.hist(rows.share_significant, bins=30, color=INTERVAL_COLOR)
    a.axvline(obs.share_significant, color=SIGNIFICANT_COLOR, lw=2)
    a.set_xlabel("share of specifications significant (predicted direction)")
    a.set_ylabel("permutations")
    b.hist(rows.median_d, bins=30, color=INTERVAL_COLOR)
    b.axvline(obs.median_d, color=SIGNIFICANT_COLOR, lw=2)
    b.set_xlabel("median d over specifications")
    fig.tight_layout()
    return fig


@styled
def plot_replication_evidence(coverage: pd.DataFrame, spreads: pd.DataFrame,
                              outcome: str = "nps", nominal: float = 0.95) -> Figure:
    """Coverage per specification (left) and specification vs sampling spread (right).

    Parameters
    ----------
    coverage : pandas.DataFrame
        :func:`mindpain.multiverse.replications.spec_coverage` rows (``outcome, coverage,
        sampling_sd, replications``).
    spreads : pandas.DataFrame
        :func:`mindpain.multiverse.replications.spec_spreads` rows (``outcome, spec_sd``).
    outcome : str
        Which signature.
    nominal : float
        The CIs' nominal coverage (a dashed line).

    Returns
    -------
    matplotlib.figure.Figure
        Left: every specification's share of replications whose 95 % CI covers the
        recoverable truth, sorted. Right: the SD of the estimate across specifications
        within each replication, beside the SD across replications within each
        specification, one point each.
    """
    _need(coverage, ("outcome", "coverage", "sampling_sd", "replications"), "coverage table")
    _need(spreads, ("outcome", "spec_sd"), "spread table")
    cov = coverage[coverage.outcome == outcome]
    spec_sd = spreads[spreads.outcome == outcome].spec_sd.to_numpy()
    fig = Figure(figsize=(column_width(10), 3.3))
    a, b = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.5, 1]})
    values = np.sort(cov.coverage.to_numpy())
    a.scatter(np.arange(values.size), values, s=6, color=INTERVAL_COLOR)
    a.axhline(nominal, color=PLANTED_COLOR, ls="--", lw=1, label=f"nominal {nominal:.0%}")
    a.set_ylim(-0.03, 1.03)
    a.set_xlabel("specification (sorted by coverage)")
    a.set_ylabel("share of replications whose\n95% CI covers the truth")
    a.set_title(f"{OUTCOME_LABELS.get(outcome, outcome)}, "
                f"{int(cov.replications.max())} replications", fontsize=9)
    a.legend(fontsize=8, loc="lower right")
    rng = np.random.default_rng(0)  # horizontal jitter only, for legibility
    groups = [("across\nspecifications\n(per replication)", spec_sd, SIGNIFICANT_COLOR),
              ("across\nreplications\n(per specification)", cov.sampling_sd.to_numpy(),
               INTERVAL_COLOR)]
    for k, (_, vals, color) in enumerate(groups):
        b.scatter(k + rng.uniform(-0.15, 0.15, vals.size), vals, s=6, color=color, alpha=0.7)
        b.hlines(np.median(vals), k - 0.3, k + 0.3, color="black", lw=1.5)
    b.set_xticks([0, 1], [g[0] for g in groups], fontsize=8)
    b.set_xlim(-0.6, 1.6)
    b.set_ylim(0, None)
    b.set_ylabel("SD of the estimated d")
    fig.tight_layout()
    return fig
