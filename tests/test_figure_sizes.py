"""Figures fit the book's column: width × dpi within its pixels, no text below 8 px there.

The book's text column is :data:`~mindpain.figures.style.COLUMN_PX` wide at a 1,400 px
window; a wider figure is scaled down, and its text with it. These tests draw the figures
that were too wide (four or six panels in a row) from small synthetic tables and measure them
with :func:`~mindpain.figures.style.legibility`; the chapters' other figures are measured
where their tests draw them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _figure_helpers import assert_legible
from matplotlib.figure import Figure

from mindpain.core.vocabulary import TRIAL_CONTRASTS, TRIAL_OUTCOMES
from mindpain.figures import design as figures_design
from mindpain.figures import trial as figures_trial
from mindpain.figures.style import COLUMN_PX, MAX_WIDTH_IN, column_width, legibility


def test_legibility_measures_width_and_the_smallest_text():
    fig = Figure(figsize=(15.48, 3), dpi=100)  # twice the column: shown at half size
    ax = fig.subplots()
    ax.set_title("big", fontsize=20)
    ax.set_xlabel("small", fontsize=10)
    ax.tick_params(labelsize=12)
    measured = legibility(fig)
    assert 1.5 * COLUMN_PX < measured["width_px"] <= 1568 + 20  # the saved image, cropped
    assert measured["scale"] == pytest.approx(COLUMN_PX / measured["width_px"])
    assert measured["min_font_px"] == pytest.approx(10 * 100 / 72 * measured["scale"])
    with pytest.raises(AssertionError):
        assert_legible(fig)
    assert column_width(20) == MAX_WIDTH_IN and column_width(5) == 5


def _coverage(rng, scale=1.0):
    rows = [{"outcome": o, "contrast": c, "model": m,
             "coverage": float(np.clip(rng.normal(0.95, 0.01), 0, 1)), "mc_se": 0.007 * scale}
            for o in TRIAL_OUTCOMES for c in TRIAL_CONTRASTS
            for m in ("change_score", "ancova", "mixedlm")]
    return pd.DataFrame(rows)


def test_trial_coverage_is_in_rows_and_legible(rng):
    fig = figures_trial.plot_coverage(_coverage(rng))
    assert_legible(fig)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == len(TRIAL_OUTCOMES)
    assert len({round(ax.get_position().y0, 3) for ax in visible}) == 2  # two rows of three


def test_residuals_are_in_rows_and_legible(rng):
    residuals = pd.DataFrame([{"outcome": o, "model": "ancova", "fitted": f, "residual": r}
                              for o in TRIAL_OUTCOMES
                              for f, r in zip(rng.normal(size=30), rng.normal(size=30),
                                              strict=True)])
    assumptions = pd.DataFrame({"outcome": list(TRIAL_OUTCOMES), "model": "ancova",
                                "shapiro_p": 0.5})
    fig = figures_trial.plot_residuals(residuals, assumptions)
    assert_legible(fig)
    assert sum(ax.get_visible() for ax in fig.axes) == 2 * len(TRIAL_OUTCOMES)


def test_forest_is_legible(rng):
    effects = pd.DataFrame([{"outcome": o, "contrast": c, "model": m, "estimate_d": d,
                             "ci_low": d - 0.5, "ci_high": d + 0.5, "reported_d": np.nan,
                             "planted_d": 0.0}
                            for o in TRIAL_OUTCOMES for c in TRIAL_CONTRASTS
                            for m in ("change_score", "ancova", "mixedlm")
                            for d in [rng.normal(0, 0.3)]])
    assert_legible(figures_trial.plot_forest(effects, outcomes=TRIAL_OUTCOMES))


def test_endtoend_coverage_shows_every_error_bar_whole(rng):
    table = _coverage(rng, scale=2.0)
    table = table[table.outcome.isin(["nps", "siips1"])].assign(world="ideal world")
    table.loc[table.index[0], ["coverage", "mc_se"]] = (0.995, 0.01)  # bar to 1.015
    table.loc[table.index[1], ["coverage", "mc_se"]] = (0.70, 0.03)  # bar from 0.64
    fig = figures_trial.plot_endtoend_coverage(table)
    assert_legible(fig)
    for ax in fig.axes:
        low, high = ax.get_xlim()
        assert low <= 0.64 and high >= 1.015


def test_tornado_is_one_panel_per_row_and_legible():
    t = pd.DataFrame({"label": ["BOLD noise (% signal)", "runs per session"],
                      "power_low": [0.2, 0.3], "power_high": [0.6, 0.5],
                      "power_assumed": [0.4, 0.4], "value_low": [0.5, 1],
                      "value_high": [2.0, 4]})
    fig = figures_design.plot_tornado({"a": t, "b": t, "c": t})
    assert_legible(fig)
    assert len({round(ax.get_position().x0, 3) for ax in fig.axes}) == 1


def test_recovery_maps_and_scatter_fit_the_column(rng):
    import nibabel as nib

    from mindpain.figures.first_level import plot_recovery

    affine = np.diag([8.0, 8.0, 8.0, 1.0])
    affine[:3, 3] = [-36, -52, -28]
    planted = rng.standard_normal((9, 11, 9)).astype("float32")
    group = (planted + rng.standard_normal(planted.shape)).astype("float32")
    mask = nib.Nifti1Image(np.ones(planted.shape, "uint8"), affine)
    fig = plot_recovery(nib.Nifti1Image(group, affine), nib.Nifti1Image(planted, affine), mask,
                        0.7, cut_coords=(0, -10, 0))
    assert_legible(fig)


def test_meditator_calibration_figure_fits_with_every_analysis():
    from pathlib import Path

    from mindpain.figures import meditators as figures_meditators

    committed = Path(__file__).parents[1] / "book" / "precomputed" / "meditator_coverage.tsv"
    coverage = pd.read_csv(committed, sep="\t")
    assert len(coverage) > 60  # the long labels of every analysis and outcome
    fig = figures_meditators.plot_coverage(coverage)
    assert_legible(fig)
    values = coverage[coverage.quantity == "coverage"]
    low, high = fig.axes[0].get_xlim()
    assert low <= (values.value - 2 * values.mc_se).min()
    assert high >= (values.value + 2 * values.mc_se).max()
