"""Design analysis: analytic power against Cohen's table and simulation, MDE, results file."""

from __future__ import annotations

import numpy as np
import pytest

from mindpain.design import power as design
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



def test_write_design_power_documents_every_column(tmp_path):
    import json

    table = design.power_table("full", n_grid=(10,), d_grid=(0.3,))
    path = design.write_design_power(table, None, out_dir=tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert set(meta["columns"]) == set(table.columns)
