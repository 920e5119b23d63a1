"""Power's sensitivity to the twin's assumptions: the assumed power, the direction of change."""

from __future__ import annotations

import numpy as np

from mindpain.design import power as design
from mindpain.design import sensitivity as power_sensitivity


def test_sensitivity_reproduces_assumed_power_and_moves_the_right_way():
    sens = power_sensitivity.sensitivity("full", n_points=5)
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
    bars = power_sensitivity.tornado(sens)
    assert set(bars.parameter) == set(power_sensitivity.SWEEP)
