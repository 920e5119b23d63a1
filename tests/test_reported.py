"""The paper's reported contrasts and the effect-size scales (STUDY.md reconstruction)."""

import numpy as np
import pytest
from scipy import stats

from mindpain import reported


def test_between_d_reproduced_on_paper_scale():
    """Each reported between-arm d equals 2t/sqrt(88) of its own p, to two decimals."""
    table = reported.effect_scale_table()
    between = table[table.kind == "between"]
    assert len(between) == 4
    assert (between.df == 88).all()
    np.testing.assert_allclose(between.d_paper, between.reported_d, atol=0.0075)


def test_within_d_is_dz_on_27_df():
    row = reported.effect_scale_table().query("contrast == 'MBSR_within'").iloc[0]
    assert row.df == 27
    assert row.d_paper == pytest.approx(row.reported_d, abs=0.015)


def test_conversions_against_independent_formulas():
    # Independent reference: STUDY.md's table (t on 88 df, d_s implied), to 2 decimals.
    table = reported.effect_scale_table().set_index(["outcome", "contrast"])
    expected = {("nps", "MBSR_vs_HEP"): (1.99, 0.51), ("nps", "MBSR_vs_WL"): (1.68, 0.44),
                ("siips1", "MBSR_vs_HEP"): (1.72, 0.45), ("siips1", "MBSR_vs_WL"): (1.73, 0.45)}
    for key, (t, ds) in expected.items():
        assert abs(table.loc[key, "t"]) == pytest.approx(t, abs=0.005)
        assert abs(table.loc[key, "d_change"]) == pytest.approx(ds, abs=0.005)


def test_p_t_round_trip():
    t = reported.t_from_p(0.05, 88)
    assert reported.p_from_t(t, 88) == pytest.approx(0.05, rel=1e-12)
    assert t == pytest.approx(stats.t.ppf(0.975, 88), rel=1e-12)


def test_design_matches_twin_parameters():
    from mindpain.twin.params import load_parameters

    assert load_parameters("full")["design.n_completers"] == reported.N_COMPLETERS
