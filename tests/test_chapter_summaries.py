"""The functions chapters glue their numbers from: selection, bands and phrases."""

from __future__ import annotations

import numpy as np
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


# ------------------------------------------------ chapters 3, 5 and 6: the thinned cells


def _meditator_calibration():
    """A tiny meditator calibration: two coverages, two planted nulls, one power."""
    return pd.DataFrame({
        "analysis": ["retreat_ols", "daily_ols", "retreat_ols", "group_welch_d", "daily_rlm"],
        "outcome": ["siips1", "nps", "siips1", "siips1", "nps"],
        "quantity": ["coverage", "coverage", "power", "false_positive_rate",
                     "false_positive_rate"],
        "value": [0.953, 0.90, 0.18, 0.042, 0.07],
        "mc_se": [0.0067, 0.009, 0.012, 0.006, 0.018],
        "replications": [1000, 1000, 1000, 1000, 200],
        "planted": [-0.97, 0.0, -0.97, 0.0, 0.0]})


def test_meditator_calibration_summary_counts_and_bounds():
    from mindpain.meditators.analysis import meditator_calibration_summary

    design = {"design.n_meditators": 30, "design.n_completers": {"MBSR": 30, "HEP": 28},
              "design.n_baseline_only": {"MBSR": 3, "HEP": 2}}
    s = meditator_calibration_summary(_meditator_calibration(), design)
    assert (s["reps"], s["reps_rlm"], s["n_ltm"], s["n_naive"]) == (1000, 200, 30, 63)
    assert (s["retreat_value"], s["retreat_planted"], s["retreat_power"]) == (0.953, -0.97, 0.18)
    assert (s["n_cov"], s["n_within"], s["cov_min"], s["cov_max"]) == (2, 1, 0.90, 0.953)
    assert s["n_fpr"] == 2 and s["fpr_max"] == 0.07 and s["fpr_mean"] == pytest.approx(0.056)
    # 5% plus three Monte-Carlo SE: 0.0707 at 1,000 replications, 0.0962 at 200
    assert s["fpr_bound"] == pytest.approx(0.05 + 3 * np.sqrt(0.05 * 0.95 / 1000))
    assert s["fpr_reps"] == 1000 and s["fpr_n_above"] == 0
    assert s["fpr_worst"] == "NPS, `daily_rlm`" and s["group_siips1_fpr"] == 0.042
    assert s["fpr_verdict"] == "within Monte-Carlo error of the nominal 5%"
    assert "about the nominal rate" in s["fpr_summary"]
    assert all(type(v) in (int, float, str) for v in s.values())
    # a rate above its own bound turns the verdict, and is counted
    high = _meditator_calibration()
    high.loc[4, "value"] = 0.12
    s = meditator_calibration_summary(high, design)
    assert s["fpr_n_above"] == 1 and s["fpr_verdict"].startswith("above the nominal 5%")
    assert s["fpr_summary"].startswith("some planted nulls")


def _comparison():
    rng = np.random.default_rng(7)
    planted = rng.normal(size=12)
    rows = []
    for outcome, gain in (("nps", 2.0), ("siips1", 0.5)):
        measured = gain * planted + rng.normal(scale=0.1, size=12)
        rows.append(pd.DataFrame({"participant_id": [f"sub-{i:02d}" for i in range(12)],
                                  "session": ["pre"] * 12, "group": ["MBSR"] * 12,
                                  "outcome": outcome, "target": "nociceptive",
                                  "measured": measured, "planted": planted}))
    return pd.concat(rows, ignore_index=True)


def test_twin_recovery_compares_only_the_surrogates(monkeypatch):
    import mindpain.scoring.checks as checks
    import mindpain.twin.model as model
    from mindpain.core.vocabulary import TWIN_READOUTS
    from mindpain.figures import signatures as figs

    shares = pd.DataFrame({"loading": [4.0, 1.0, 2.0, -2.0], "predicted_r": 0.6,
                           "latent_share": 0.4, "noise_share": 0.3,
                           "idiosyncratic_share": 0.2, "generic_share": 0.1},
                          index=pd.Index(TWIN_READOUTS, name="readout"))
    monkeypatch.setattr(model, "score_variance_shares", lambda preset: shares)
    monkeypatch.setattr(checks, "twin_comparison",
                        lambda scores, truth, outcomes: _comparison())
    recovery, got_shares, fig = figs.twin_recovery(None, pd.DataFrame(), "small",
                                                   ["nps", "siips1"])
    assert list(recovery.index) == list(TWIN_READOUTS) and got_shares is shares
    assert recovery.loc["nps", "slope"] == pytest.approx(2.0, abs=0.1)
    assert recovery.loc["nps", "slope_ratio"] == pytest.approx(0.5, abs=0.03)
    assert recovery.loc["siips1", "r"] > 0.9 and recovery[["r"]].loc["nps_pos"].isna().all()
    assert len(fig.axes) >= 2
    summary = figs.recovery_summary(recovery, got_shares)
    assert summary["nps_slope"] == float(recovery.loc["nps", "slope"])
    assert summary["siips1_predicted_r"] == 0.6 and np.isnan(summary["nps_neg_r"])
    parts = figs.variance_share_summary(got_shares)
    assert parts["nps_noise"] == 0.3 and parts["siips1_generic"] == 0.1 and len(parts) == 16
    assert all(type(v) is float for v in (summary | parts).values())


def test_twin_recovery_without_truth_or_surrogates_is_blank():
    from mindpain.core.vocabulary import TWIN_READOUTS
    from mindpain.figures import signatures as figs

    for truth, outcomes in ((None, ["nps"]), (pd.DataFrame(), [])):
        recovery, shares, fig = figs.twin_recovery(None, truth, "small", outcomes)
        assert shares is None and list(recovery.index) == list(TWIN_READOUTS)
        assert recovery.isna().all().all() and "slope_ratio" in recovery
        text = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
        assert ("not the simulated twin" in text) == (truth is None)
        summary = figs.recovery_summary(recovery, shares)
        assert len(summary) == 4 * len(TWIN_READOUTS)
        assert all(np.isnan(v) for v in summary.values())


def test_twin_similarity_sets_the_stated_value_beside_the_measured(monkeypatch):
    import types

    import mindpain.twin.model as model
    import mindpain.twin.params as params
    from mindpain.figures import signatures as figs

    measured = pd.DataFrame({"readout": ["nps", "nps", "siips1", "nps_pos"],
                             "pattern": ["nociceptive", "generic", "modulatory",
                                         "nociceptive"],
                             "cosine": [0.41, 0.12, 0.33, 0.5]})
    monkeypatch.setattr(model, "twin_space",
                        lambda params: types.SimpleNamespace(similarity=measured))
    monkeypatch.setattr(params, "load_parameters", lambda preset: {
        "patterns.similarity": {"nps_nociceptive": 0.4, "siips1_modulatory": 0.35}})
    table = figs.twin_similarity("small")
    assert list(table.readout) == ["nps", "nps", "siips1"]
    assert table.stated.iloc[0] == 0.4 and np.isnan(table.stated.iloc[1])
    summary = figs.similarity_summary(table)
    assert summary["nps_nociceptive"] == 0.41 and summary["stated_siips1_modulatory"] == 0.35
    assert np.isnan(summary["stated_nps_generic"]) and len(summary) == 6


def _replications():
    rng = np.random.default_rng(11)
    rows = []
    for rep in range(6):
        for outcome, truth in (("nps", -0.5), ("siips1", -0.2)):
            for model in ("change_score", "ancova"):
                d = truth + rng.normal(scale=0.2)
                rows.append({"replication": rep, "outcome": outcome, "first_level": "fl0",
                             "metric": "dot", "model": model, "sample": "completers",
                             "covariates": "none", "estimate_d": d, "ci_low": d - 0.4,
                             "ci_high": d + 0.4, "p": 0.01 if d < -0.45 else 0.3})
    return pd.DataFrame(rows)


def test_replication_tables_hold_the_replications_against_the_recoverable_truth(monkeypatch):
    import mindpain.multiverse as multiverse
    from mindpain.multiverse.summary import replication_tables

    calls = []

    def truth(params):
        calls.append((params.preset, params.world))
        return {"nps": -0.5, "siips1": -0.2}

    monkeypatch.setattr(multiverse, "recoverable_truth", truth)
    reps = _replications()
    coverage, spread = replication_tables(reps, "calibration", "realistic")
    assert calls == [("calibration", "realistic")]
    expected = {"nps": -0.5, "siips1": -0.2}
    pd.testing.assert_frame_equal(coverage, multiverse.spec_coverage(reps, expected))
    pd.testing.assert_frame_equal(spread, multiverse.spread_summary(reps, expected))
    assert list(spread.outcome) == ["nps", "siips1"] and set(coverage.replications) == {6}
    summary = replications_summary(spread, coverage, committed=True)
    assert summary["reps"] == 6 and summary["truth"] == -0.5


def test_multiverse_replications_table_names_and_rounds_its_columns():
    from mindpain.figures.results_tables import multiverse_replications

    spread = pd.DataFrame({"outcome": ["nps", "siips1"], "replications": [19, 19],
                           "n_specs": [8, 8], "truth_d": [-0.456, -0.2],
                           "spec_sd_median": [0.1, 0.2], "sampling_sd_median": [0.3, 0.25],
                           "sampling_to_spec": [3.04, 1.26], "coverage_min": [0.8, 0.9],
                           "coverage_median": [0.95, 0.95], "coverage_max": [1.0, 1.0],
                           "share_specs_coverage_ge_90": [0.9, 1.0]})
    table = multiverse_replications(spread)
    assert len(table) == 2
    assert table["Recoverable d"].tolist() == ["-0.46", "-0.20"]
    assert table["Coverage, lowest"].tolist() == ["0.80", "0.90"]
    assert table["Ratio of the two SDs"].tolist() == ["3.0", "1.3"]
    assert "Specifications covering in at least 90%" in table.frame.columns
    assert "SD across replications (median over specifications)" in table.frame.columns


def test_the_t_gap_note_names_each_miss_and_whether_chance_explains_it():
    """Chapter 4's sentence on median t beyond 0.2 of the paper's: none, a miss within two
    Monte-Carlo SE (chance at this many replications), a miss beyond them."""
    from mindpain.recoverable import _t_gap_note

    rows = pd.DataFrame({"outcome": ["nps", "siips1"], "contrast": ["MBSR_within", "MBSR_vs_HEP"],
                         "median_t": [-2.50, -1.70], "reported_t": [-2.41, -1.72],
                         "mc_se_median_t": [0.09, 0.06]})
    assert _t_gap_note(rows, True, True).startswith("Every reported contrast's median t")
    near = rows.assign(median_t=[-2.62, -1.70])
    note = _t_gap_note(near, True, True)
    assert note.startswith("One contrast lies") and "NPS" in note and "2.3 Monte-Carlo SE" in note
    assert "more than chance" in note
    chance = near.assign(mc_se_median_t=[0.11, 0.06])
    assert "within what chance gives" in _t_gap_note(chance, True, True)
    assert _t_gap_note(rows, False, False) == ""
