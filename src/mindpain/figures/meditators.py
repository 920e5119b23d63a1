"""Figures of the long-term meditator chapter: each ``plot_*`` returns a Figure.

Inputs come from :mod:`mindpain.meditators.analysis`: the analysed rows
(:func:`~mindpain.meditators.models.meditator_table`), the effects table and the calibration
table. Figures use :class:`matplotlib.figure.Figure` directly and the book's group colours.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import OUTCOME_LABELS, TRIAL_OUTCOMES
from mindpain.figures.style import COHORT_COLORS, RATING_UNITS, column_width, styled
from mindpain.meditators.analysis import EFFECT_LABELS
from mindpain.meditators.models import PREDICTORS

COHORT_LABELS = {"naive": "Naive (baseline)", "LTM": "Long-term meditators"}
_HOURS_LABELS = {"retreat": "retreat hours", "daily": "non-retreat hours",
                 "lifetime": "lifetime hours"}


def _need(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MindpainError(f"{what}: missing column(s) {', '.join(missing)}")


@styled
def plot_groups(data: pd.DataFrame, outcomes=TRIAL_OUTCOMES, seed: int = 0) -> Figure:
    """Show each outcome's distribution in naive participants and meditators.

    Parameters
    ----------
    data : pandas.DataFrame
        Analysed rows (:func:`mindpain.meditators.models.meditator_table`).
    outcomes : sequence of str
        One panel per outcome.
    seed : int
        Seed of the horizontal jitter of the points.

    Returns
    -------
    matplotlib.figure.Figure
        Per panel and cohort: a half violin (density), a box (median, quartiles,
        1.5 IQR whiskers) and every participant as a jittered point.
    """
    _need(data, ("cohort", *outcomes), "meditator table")
    rng = np.random.default_rng(seed)
    ncols = 3
    nrows = int(np.ceil(len(outcomes) / ncols))
    fig = Figure(figsize=(column_width(3.3 * ncols), 3.1 * nrows + 0.5))
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, k in zip(axes, outcomes, strict=False):
        for x, cohort in enumerate(("naive", "LTM")):
            y = data.loc[data["cohort"].eq(cohort), k].dropna().to_numpy(float)
            color = COHORT_COLORS[cohort]
            if y.size >= 3 and np.ptp(y) > 0:
                parts = ax.violinplot([y], positions=[x - 0.05], widths=0.7, showextrema=False,
                                      side="low")
                for body in parts["bodies"]:
                    body.set_facecolor(color)
                    body.set_alpha(0.25)
            if y.size:
                ax.boxplot([y], positions=[x + 0.08], widths=0.12, showfliers=False,
                           patch_artist=True, boxprops={"facecolor": "white", "color": color},
                           medianprops={"color": color, "linewidth": 2},
                           whiskerprops={"color": color}, capprops={"color": color})
                ax.scatter(x + 0.25 + rng.uniform(-0.06, 0.06, y.size), y, s=12, color=color,
                           alpha=0.7, linewidths=0)
            ax.text(x, 1.0, f"n = {y.size}", transform=ax.get_xaxis_transform(), ha="center",
                    va="bottom", fontsize=9, color="0.3")
        ax.set_xticks([0, 1], ["Naive", "LTM"])
        ax.set_xlim(-0.6, 1.6)
        ax.set_title(OUTCOME_LABELS.get(k, k), pad=14)
        ax.set_ylabel(RATING_UNITS.get(k, "response (a.u.)"))
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def _fit_band(x, y, grid, level=0.95):
    """Return the simple OLS line and the CI band of its mean on ``grid`` (None if n < 3)."""
    n = x.size
    if n < 3 or np.ptp(x) == 0:
        return None
    X = np.column_stack([np.ones(n), x])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = resid @ resid / (n - 2)
    G = np.column_stack([np.ones(grid.size), grid])
    se = np.sqrt(s2 * np.einsum("ij,jk,ik->i", G, np.linalg.inv(X.T @ X), G))
    q = stats.t.ppf(0.5 + level / 2, n - 2)
    fit = G @ coef
    return fit, fit - q * se, fit + q * se


@styled
def plot_dose(data: pd.DataFrame, effects: pd.DataFrame | None = None,
              outcomes=("nps", "siips1"), effects_shown=("retreat", "daily", "lifetime")) -> Figure:
    """Scatter each signature against log10 practice hours, with a fit and its 95% CI.

    Parameters
    ----------
    data : pandas.DataFrame
        Analysed rows (:func:`mindpain.meditators.models.meditator_table`).
    effects : pandas.DataFrame, optional
        Effects table; when given, each panel states the adjusted OLS slope and its CI.
    outcomes : sequence of str
        One row of panels per outcome.
    effects_shown : sequence of str
        One column per practice measure (``retreat``, ``daily``, ``lifetime``).

    Returns
    -------
    matplotlib.figure.Figure
        Points: meditators, the outcome in SD units of the naive baseline (0 = naive
        mean). Line and band: the unadjusted least-squares fit and the 95% CI of its mean;
        the adjusted estimate (age, sex and, for retreat/non-retreat, the other component)
        is printed in the panel.
    """
    _need(data, ("cohort", *outcomes, *PREDICTORS.values()), "meditator table")
    med = data[data["cohort"].eq("LTM")]
    naive = data[data["cohort"].eq("naive")]
    fig = Figure(figsize=(column_width(3.4 * len(effects_shown)), 3.0 * len(outcomes) + 0.4))
    axes = fig.subplots(len(outcomes), len(effects_shown), squeeze=False)
    color = COHORT_COLORS["LTM"]
    for i, k in enumerate(outcomes):
        ref = naive[k].dropna()
        centre, scale = (ref.mean(), ref.std(ddof=1)) if len(ref) >= 2 else (0.0, 1.0)
        for j, effect in enumerate(effects_shown):
            ax = axes[i, j]
            sub = med[[PREDICTORS[effect], k]].dropna()
            x = sub[PREDICTORS[effect]].to_numpy(float)
            y = (sub[k].to_numpy(float) - centre) / scale
            ax.axhline(0, color="0.75", linewidth=0.8, zorder=0)
            ax.scatter(x, y, s=18, color=color, alpha=0.8, linewidths=0)
            if x.size:
                grid = np.linspace(x.min(), x.max(), 50)
                band = _fit_band(x, y, grid)
                if band is not None:
                    ax.fill_between(grid, band[1], band[2], color=color, alpha=0.2, linewidth=0)
                    ax.plot(grid, band[0], color=color, linewidth=2)
            if effects is not None:
                row = effects[(effects["outcome"] == k) & (effects["effect"] == effect)
                              & (effects["method"] == "ols")]
                if len(row) and np.isfinite(row["estimate"].iloc[0]):
                    r = row.iloc[0]
                    text = f"adjusted slope:\n{r.estimate:.2f} [{r.ci_low:.2f}, {r.ci_high:.2f}]"
                else:
                    text = "adjusted slope: n/a\n(too few meditators)"
                ax.text(0.02, 0.98, text, transform=ax.transAxes, ha="left", va="top",
                        fontsize=8.5, color="0.2", zorder=5,
                        bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none",
                              "pad": 1.5})
            ax.set_xlabel(f"log10 {_HOURS_LABELS[effect]}")
            if j == 0:
                ax.set_ylabel(f"{OUTCOME_LABELS.get(k, k)}\n(naive SD from naive mean)")
            if i == 0:
                ax.set_title(EFFECT_LABELS[effect].capitalize())
    fig.tight_layout()
    return fig


@styled
def plot_coverage(coverage: pd.DataFrame, target: float = 0.95, tolerance: float = 0.03,
                  alpha: float = 0.05) -> Figure:
    """Coverage of the 95% CIs (left) and false-positive rates (right) over replications.

    Parameters
    ----------
    coverage : pandas.DataFrame
        Calibration table (:func:`mindpain.meditators.calibration.load_or_calibrate`).
    target, tolerance : float
        Nominal coverage and the shaded band around it.
    alpha : float
        Nominal false-positive rate (dashed line).

    Returns
    -------
    matplotlib.figure.Figure
        Dots with ±2 Monte-Carlo standard errors, one row per analysis × outcome.
    """
    _need(coverage, ("analysis", "outcome", "quantity", "value", "mc_se"), "coverage table")
    parts = {"coverage": coverage[coverage["quantity"] == "coverage"],
             "false_positive_rate": coverage[coverage["quantity"] == "false_positive_rate"]}
    n = max(len(p) for p in parts.values())
    fig = Figure(figsize=(column_width(10), 0.22 * n + 1.4))
    axes = fig.subplots(1, 2)
    for ax, (quantity, rows) in zip(axes, parts.items(), strict=True):
        labels = [f"{OUTCOME_LABELS.get(o, o)} · {a.replace('_', ' ')}"
                  for a, o in zip(rows["analysis"], rows["outcome"], strict=True)]
        y = np.arange(len(rows))[::-1]
        if quantity == "coverage":
            ax.axvspan(target - tolerance, target + tolerance, color="0.9", zorder=0)
            ax.axvline(target, color="0.5", linewidth=0.8)
            ax.set_title("Coverage of the 95% CI", fontsize=11)
            low = float((rows["value"] - 2 * rows["mc_se"]).min()) if len(rows) else 0.85
            high = float((rows["value"] + 2 * rows["mc_se"]).max()) if len(rows) else 1.0
            ax.set_xlim(min(0.85, low - 0.01), max(1.0, high) + 0.01)
        else:
            ax.axvline(alpha, color="0.3", linestyle="--", linewidth=1)
            ax.set_title("False-positive rate\n(unadjusted p < .05)", fontsize=11)
            ax.set_xlim(0, max(0.12, float((rows["value"] + 2 * rows["mc_se"]).max()) + 0.01))
        ax.errorbar(rows["value"], y, xerr=2 * rows["mc_se"], fmt="o", color=COHORT_COLORS["naive"],
                    markersize=4, capsize=0, linewidth=1)
        ax.set_yticks(y, labels, fontsize=7.5)
        ax.set_ylim(-0.7, n - 0.3)
    fig.tight_layout()
    return fig
