"""Retrospective design analysis: type S/M against closed forms, published cases, simulation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mindpain.design import retrodesign
from mindpain.reported import REPORTED


def _lu_closed_form(D, s, alpha=0.05):
    """Independent transcription of Lu, Qiu & Deng (2019), normal case."""
    lam, z = D / s, stats.norm.ppf(1 - alpha / 2)
    power = 1 - stats.norm.cdf(z - lam) + stats.norm.cdf(-z - lam)
    type_s = stats.norm.cdf(-z - lam) / power
    num = (stats.norm.pdf(lam + z) + stats.norm.pdf(lam - z)
           + lam * (stats.norm.cdf(lam + z) + stats.norm.cdf(lam - z) - 1))
    return power, type_s, num / (lam * power)


@pytest.mark.parametrize("D, s", [(0.1, 3.3), (0.3, 3.3), (2.0, 8.1), (1.0, 0.4), (0.5, 0.26)])
def test_type_m_matches_the_closed_form(D, s):
    res = retrodesign.retrodesign(D, s)
    power, type_s, exaggeration = _lu_closed_form(D, s)
    assert float(res.power) == pytest.approx(power, rel=1e-10)
    assert float(res.type_s) == pytest.approx(type_s, rel=1e-10)
    assert float(res.exaggeration) == pytest.approx(exaggeration, rel=1e-10)


def test_gelman_carlin_published_examples():
    # Gelman & Carlin (2014): beauty and sex ratio (s = 3.3, D = 0.1) and the
    # ovulation-and-voting example (s = 8.1, D = 2): power and type S as published.
    kanazawa = retrodesign.retrodesign(0.1, 3.3)
    assert round(float(kanazawa.power), 2) == 0.05
    assert round(float(kanazawa.type_s), 2) == 0.46
    durante = retrodesign.retrodesign(2.0, 8.1)
    assert round(float(durante.power), 2) == 0.06
    assert round(float(durante.type_s), 2) == 0.24
    assert float(durante.exaggeration) == pytest.approx(9.5, abs=0.3)


def test_type_m_with_t_reference_matches_monte_carlo():
    rng = np.random.default_rng(1)
    D, s, df = 0.4, 0.26, 58
    est = D + s * rng.standard_t(df, 2_000_000)
    sig = np.abs(est) > s * stats.t.ppf(0.975, df)
    res = retrodesign.retrodesign(D, s, df=df)
    assert float(res.power) == pytest.approx(sig.mean(), abs=0.002)
    assert float(res.exaggeration) == pytest.approx(np.abs(est[sig]).mean() / D, rel=0.005)
    assert float(res.type_s) == pytest.approx((est[sig] < 0).mean(), abs=0.001)


def test_retrodesign_table_and_curve():
    table = retrodesign.retrodesign_table()
    assert len(table) == len(REPORTED) * len(retrodesign.SHRINKAGE)
    # Smaller true effects: lower power, larger exaggeration.
    for _, g in table.groupby(["outcome", "contrast"]):
        g = g.sort_values("shrinkage")
        assert g.power.is_monotonic_increasing
        assert g.exaggeration.is_monotonic_decreasing
    curve = retrodesign.exaggeration_curve()
    assert set(curve.design) == {"MBSR_vs_HEP", "MBSR_vs_WL", "MBSR_within"}
