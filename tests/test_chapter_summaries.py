"""The functions chapters glue their numbers from: selection, bands and phrases."""

from __future__ import annotations

import pandas as pd
import pytest

from mindpain.endtoend.summary import TARGET, TOLERANCE, band_check
from mindpain.multiverse.summary import curve_summary, replications_summary


def test_glue_row_glues_the_one_matching_row(monkeypatch):
    import myst_nb

    from mindpain_book.glue import glue_row

    glued = {}
    monkeypatch.setattr(myst_nb, "glue", lambda key, value, display: glued.update({key: value}))
    table = pd.DataFrame({"outcome": ["nps", "nps", "siips1"], "method": ["a", "b", "a"],
                          "estimate": [1, 2, 3], "p": [0.1, 0.2, 0.3]})
    glue_row("k", table, ("estimate", "p"), outcome="nps", method="b")
    assert glued == {"k_estimate": 2.0, "k_p": 0.2}
    assert all(isinstance(v, float) for v in glued.values())
    with pytest.raises(ValueError, match="2 rows match"):
        glue_row("k", table, ("p",), outcome="nps")
    with pytest.raises(ValueError, match="0 rows match"):
        glue_row("k", table, ("p",), outcome="hep")


def test_band_check_lists_rows_beyond_two_monte_carlo_se():
    rows = pd.DataFrame({"outcome": ["nps"] * 3, "contrast": ["MBSR_vs_HEP"] * 3,
                         "model": ["paper", "ancova", "ancova_hc3"],
                         "coverage": [TARGET, TARGET - TOLERANCE - 0.05, 0.999],
                         "mc_se": [0.01, 0.01, 0.0]})
    band = band_check(rows)
    assert band["n"] == 3 and band["n_outside"] == 2
    assert "ancova, 0.870" in band["outside"] and "ancova_hc3, 0.999" in band["outside"]
    assert band["mean"] == pytest.approx(rows.coverage.mean())
    assert band_check(rows.iloc[:1])["outside"] == "none"


def test_multiverse_summaries_read_the_tables():
    specs = pd.DataFrame({"outcome": ["nps"] * 4, "first_level": ["a", "a", "b", "b"],
                          "model": ["m1", "m2", "m1", "m2"],
                          "estimate_d": [-1.0, -0.5, -0.7, -0.2]})
    summary = pd.DataFrame({"outcome": ["nps", "siips1"], "n_specs": [4, 4],
                            "share_significant": [0.5, 0.25], "median_d": [-0.6, -0.1],
                            "planted_d": [-0.5, -0.4], "recoverable_d": [-0.45, -0.3],
                            "p_share": [0.01, 0.2], "p_median": [0.02, 0.3],
                            "permutations": [100, 100], "null_share_mean": [0.05, 0.05]})
    got = curve_summary(specs, summary, committed=True)
    assert (got["n_specs"], got["n_fl"], got["min"], got["max"]) == (4, 2, -1.0, -0.2)
    assert got["model_medians"] == "m1 -0.85, m2 -0.35"
    assert "-0.45" in got["recoverable_note"] and "committed" in got["where"]
    spread = pd.DataFrame({"outcome": ["nps", "siips1"], "replications": [20, 19],
                           "n_specs": [8, 8], "truth_d": [-0.5, -0.4],
                           "spec_sd_median": [0.1, 0.1], "sampling_sd_median": [0.3, 0.05],
                           "sampling_to_spec": [3.0, 0.5], "coverage_min": [0.8, 0.9],
                           "coverage_median": [0.95, 0.95], "coverage_max": [1.0, 1.0],
                           "share_specs_coverage_ge_90": [0.9, 1.0]})
    coverage = pd.DataFrame({"outcome": ["nps", "nps", "siips1"],
                             "share_significant": [0.2, 0.6, 0.1]})
    reps = replications_summary(spread, coverage, committed=False)
    assert reps["reps"] == 19 and reps["specs"] == 8
    assert (reps["sig_min"], reps["sig_max"], reps["sig_max_siips1"]) == (0.2, 0.6, 0.1)
    assert reps["compare"] == "larger than" and reps["compare_siips1"] == "no larger than"
    assert "small test twin" in reps["where"]
