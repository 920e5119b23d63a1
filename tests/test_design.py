"""Design analysis: analytic power against simulation, MDE, and type S/M against checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from mindpain import design
from mindpain.reported import REPORTED


def test_power_matches_cohens_table_and_mde_inverts_it():
    # Cohen (1988): d = 0.5 needs 64 per arm for 80% power; d = 0.8 needs 26.
    assert design.n_per_arm_for(0.5, "between") == 64
    assert design.n_per_arm_for(0.8, "between") == 26
    m = design.mde("between", 28, 32)
    assert design.power_t(m, "between", 28, 32) == pytest.approx(design.POWER_TARGET, abs=1e-8)
    # Within an arm the one-sample test is more powerful at the same |d| and n.
    assert design.power_t(0.5, "within", 28) > design.power_t(0.5, "between", 28)


def test_power_is_alpha_at_zero_and_symmetric_in_sign():
    assert design.power_t(0.0, "between", 30, 31) == pytest.approx(0.05, abs=1e-12)
    assert design.power_t(-0.4, "between", 30) == pytest.approx(design.power_t(0.4, "between",
                                                                                30))


def test_power_table_covers_every_reported_contrast_at_actual_n():
    table = design.power_table("full", n_grid=(10, 20), d_grid=(0.2,))
    actual = table[table.actual_n]
    assert set(zip(actual.outcome, actual.contrast, strict=True)) == {
        (c.outcome, c.contrast) for c in REPORTED}
    assert set(table.scenario) == {"paper", "planted", "grid"}
    assert table.power.between(0, 1).all()


@pytest.mark.slow
def test_analytic_power_agrees_with_the_twins_simulated_power():
    """Change-score power within +-0.03 of simulation at three arm sizes (MC SE < 0.01)."""
    sim = design.simulated_power("full", 20220701, "nps", "MBSR_vs_HEP", (10, 20, 28),
                                 n_replications=3000)
    assert (sim.mc_se < 0.01).all()
    assert np.abs(sim.power_simulated - sim.power_analytic).max() <= 0.03


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
    res = design.retrodesign(D, s)
    power, type_s, exaggeration = _lu_closed_form(D, s)
    assert float(res.power) == pytest.approx(power, rel=1e-10)
    assert float(res.type_s) == pytest.approx(type_s, rel=1e-10)
    assert float(res.exaggeration) == pytest.approx(exaggeration, rel=1e-10)


def test_gelman_carlin_published_examples():
    # Gelman & Carlin (2014): beauty and sex ratio (s = 3.3, D = 0.1) and the
    # ovulation-and-voting example (s = 8.1, D = 2): power and type S as published.
    kanazawa = design.retrodesign(0.1, 3.3)
    assert round(float(kanazawa.power), 2) == 0.05
    assert round(float(kanazawa.type_s), 2) == 0.46
    durante = design.retrodesign(2.0, 8.1)
    assert round(float(durante.power), 2) == 0.06
    assert round(float(durante.type_s), 2) == 0.24
    assert float(durante.exaggeration) == pytest.approx(9.5, abs=0.3)


def test_type_m_with_t_reference_matches_monte_carlo():
    rng = np.random.default_rng(1)
    D, s, df = 0.4, 0.26, 58
    est = D + s * rng.standard_t(df, 2_000_000)
    sig = np.abs(est) > s * stats.t.ppf(0.975, df)
    res = design.retrodesign(D, s, df=df)
    assert float(res.power) == pytest.approx(sig.mean(), abs=0.002)
    assert float(res.exaggeration) == pytest.approx(np.abs(est[sig]).mean() / D, rel=0.005)
    assert float(res.type_s) == pytest.approx((est[sig] < 0).mean(), abs=0.001)


def test_retrodesign_table_and_curve():
    table = design.retrodesign_table()
    assert len(table) == len(REPORTED) * len(design.SHRINKAGE)
    # Smaller true effects: lower power, larger exaggeration.
    for _, g in table.groupby(["outcome", "contrast"]):
        g = g.sort_values("shrinkage")
        assert g.power.is_monotonic_increasing
        assert g.exaggeration.is_monotonic_decreasing
    curve = design.exaggeration_curve()
    assert set(curve.design) == {"MBSR_vs_HEP", "MBSR_vs_WL", "MBSR_within"}


def test_sensitivity_reproduces_assumed_power_and_moves_the_right_way():
    sens = design.sensitivity("full", n_points=5)
    planted = abs(float(design.planted_d("full").set_index(["outcome", "contrast"])
                        .loc[("nps", "MBSR_vs_HEP"), "planted_d"]))
    at = sens[np.isclose(sens.relative, 1.0)]
    expected = design.power_t(planted, "between", 28, 32)
    assert np.allclose(at.power_change, expected)
    noise = sens[sens.parameter == "bold.noise_percent"].sort_values("value")
    assert noise.power_change.is_monotonic_decreasing
    assert noise.power_ltm.is_monotonic_decreasing
    runs = sens[sens.parameter == "task.n_runs"].sort_values("value")
    assert runs.power_change.is_monotonic_increasing
    bars = design.tornado(sens)
    assert set(bars.parameter) == set(design.SWEEP)


def test_write_design_power_documents_every_column(tmp_path):
    import json

    table = design.power_table("full", n_grid=(10,), d_grid=(0.3,))
    path = design.write_design_power(table, None, out_dir=tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert set(meta["columns"]) == set(table.columns)
