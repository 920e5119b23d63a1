"""The committed end-to-end calibration (book/precomputed) against its Monte-Carlo bands.

The twin plants each reported contrast so that, through the book's own pipeline, its
expected t is the paper's t and its estimate is centred on the recoverable effect
(issue #23). With the committed number of replications these are checkable: each
quantity must lie within ``Z`` Monte-Carlo standard errors of its target, where ``Z`` is a
Bonferroni bound over every check in this file at a family-wise false-alarm rate of 1 %
(fixed before the result was computed, never tuned to it). A 10 % misfit of the planted
effect moves a median t of about 2 by 0.2, several Monte-Carlo SE at 300 replications.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mindpain import endtoend
from mindpain.core.vocabulary import WORLDS
from mindpain.endtoend.coverage import median_mc_se

NOMINAL = 0.95
FAMILY_ALPHA = 0.01


@pytest.fixture(scope="module")
def committed():
    """The paper's test's rows of the committed table, in the two worlds (no MAR)."""
    from mindpain.core.config import get_config

    table, _, _ = endtoend.load_or_run(get_config(preset="full"))
    rows = table[table.scenario.isin(WORLDS) & (table.model == "paper")]
    return rows.reset_index(drop=True)


def _z(n_checks: int) -> float:
    """Two-sided Bonferroni z for ``n_checks`` checks at the family-wise rate."""
    return float(stats.norm.isf(FAMILY_ALPHA / (2 * n_checks)))


def _n_checks(rows) -> int:
    reported = rows.reported_t.notna()
    return int(reported.sum() + len(rows) + len(rows))  # median t, coverage, mean


def test_median_t_through_the_pipeline_is_the_papers_within_monte_carlo_error(committed):
    z = _z(_n_checks(committed))
    rows = committed[committed.reported_t.notna()]
    assert len(rows) == 2 * 5  # five reported contrasts, two worlds
    gap = (rows.median_t - rows.reported_t).abs()
    assert (rows.mc_se_median_t > 0).all()
    bad = rows[gap > z * rows.mc_se_median_t]
    assert bad.empty, bad[["world", "outcome", "contrast", "median_t", "reported_t",
                           "mc_se_median_t"]].to_string()


def test_coverage_of_the_recoverable_effect_is_nominal_within_monte_carlo_error(committed):
    z = _z(_n_checks(committed))
    band = z * np.sqrt(NOMINAL * (1 - NOMINAL) / committed.replications)
    off = committed[(committed.coverage_recoverable - NOMINAL).abs() > band]
    assert off.empty, off[["world", "outcome", "contrast", "coverage_recoverable",
                           "replications"]].to_string()


def _contrast_df(contrast: str) -> int:
    """Degrees of freedom of the paper's test of ``contrast`` (between arms or within MBSR)."""
    from mindpain.reported import DF_BETWEEN, N_COMPLETERS

    return N_COMPLETERS["MBSR"] - 1 if contrast.endswith("_within") else DF_BETWEEN


def _mean_t_factor(df: int) -> float:
    """E[T] / noncentrality of a noncentral t on ``df``: sqrt(df/2) G((df-1)/2) / G(df/2)."""
    from scipy.special import gammaln

    return float(np.sqrt(df / 2) * np.exp(gammaln((df - 1) / 2) - gammaln(df / 2)))


def test_mean_estimate_is_the_recoverable_effect_within_monte_carlo_error(committed):
    """The paper-scale d is a multiple of its test's t, and the twin plants the recoverable d
    as that t's noncentrality: the estimates' mean is expected at the recoverable d times
    the mean factor of a noncentral t (about 1.03 on 27 df, 1.009 on 88 df)."""
    z = _z(_n_checks(committed))
    factor = committed.contrast.map(lambda c: _mean_t_factor(_contrast_df(c)))
    expected = committed.recoverable_d_paper * factor
    off = committed[(committed.mean_estimate - expected).abs() > z * committed.mean_estimate_se]
    assert off.empty, off.assign(expected=expected)[
        ["world", "outcome", "contrast", "mean_estimate", "expected", "mean_estimate_se"]
    ].to_string()


def test_mean_t_factor_is_the_noncentral_t_mean():
    """Independent reference: scipy's noncentral t mean over its noncentrality."""
    for df in (27, 88):
        assert _mean_t_factor(df) == pytest.approx(stats.nct.mean(df, 2.0) / 2.0, rel=1e-10)


def test_median_mc_se_agrees_with_the_normal_theory_se():
    """Independent reference: for normal data the SE of a median is sqrt(pi/2) sd/sqrt(n)."""
    rng = np.random.default_rng(7)
    n, reps = 300, 4000
    draws = rng.normal(size=(reps, n))
    theory = np.sqrt(np.pi / 2) / np.sqrt(n)
    # the spread of medians over many samples (the definition), and the estimator's mean
    assert np.std(np.median(draws, 1), ddof=1) == pytest.approx(theory, rel=0.05)
    estimates = np.array([median_mc_se(d) for d in draws[:400]])
    assert estimates.mean() == pytest.approx(theory, rel=0.05)
    assert np.isnan(median_mc_se(np.arange(5.0)))
