"""The paper's test (mindpain.trial.calibration.paper_test) against independent references."""

from __future__ import annotations

import numpy as np
import pytest


def test_paper_test_equals_ols_and_one_sample_t():
    """The paper's test against independent references: the arm contrast of an OLS fit
    with one mean per arm (its residual SD is the 3-arm pooled SD) and scipy's one-sample t."""
    import statsmodels.api as sm
    from scipy import stats

    from mindpain.trial.calibration import paper_test

    rng = np.random.default_rng(3)
    arm = np.repeat(np.array(["MBSR", "HEP", "WL"]), [9, 7, 8])
    change = rng.normal(size=(4, arm.size)) + (arm == "MBSR") * 0.5
    X = np.column_stack([(arm == g).astype(float) for g in ("MBSR", "HEP", "WL")])
    for r in range(change.shape[0]):
        fit = sm.OLS(change[r], X).fit()
        ref = fit.t_test([1.0, -1.0, 0.0])
        t, df, scale = paper_test(change, arm, "MBSR_vs_HEP")
        np.testing.assert_allclose(t[r], float(np.squeeze(ref.tvalue)), rtol=1e-10)
        assert df == fit.df_resid == arm.size - 3
        assert scale == pytest.approx(np.sqrt(1 / 9 + 1 / 7))
        t, df, scale = paper_test(change, arm, "MBSR_within")
        np.testing.assert_allclose(t[r], stats.ttest_1samp(change[r, arm == "MBSR"], 0).statistic,
                                   rtol=1e-10)
        assert df == 8 and scale == pytest.approx(1 / 3)
