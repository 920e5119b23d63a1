"""Equivalence tests and Bayes factors: TOST against its CI form, power, and the table."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mindpain.core.errors import MindpainError
from mindpain.design import evidence


def _outcomes(rng, shift_mbsr=0.0, n=30):
    rows = []
    for arm, shift in (("MBSR", shift_mbsr), ("HEP", 0.0), ("WL", 0.0)):
        for i in range(n):
            pid = f"sub-{arm}{i:02d}"
            pre = rng.normal()
            post = pre + shift + rng.normal()
            rows += [{"participant_id": pid, "session": "pre", "group": arm, "nps": pre},
                     {"participant_id": pid, "session": "post", "group": arm, "nps": post}]
    return pd.DataFrame(rows)


def test_tost_decision_equals_the_90_percent_interval_inside_the_bounds(rng):
    for k in range(20):
        table = evidence.evidence_table(_outcomes(rng, shift_mbsr=0.2 * (k % 3), n=40),
                                        outcome_names=("nps",))
        inside = (table.ci90_low > -table.sesoi_d) & (table.ci90_high < table.sesoi_d)
        assert (inside == table.equivalent).all()


def test_tost_power_matches_simulation():
    rng = np.random.default_rng(3)
    n, R, sesoi = 60, 4000, 0.5
    hits = 0
    from mindpain.trial.analysis import between_d

    res = between_d(rng.normal(size=(R, n)), rng.normal(size=(R, n)), level=0.90)
    hits = ((res["ci_low"] > -sesoi) & (res["ci_high"] < sesoi)).mean()
    assert evidence.tost_power(sesoi, "between", n, n) == pytest.approx(hits, abs=0.025)
    assert evidence.tost_power(0.5, "between", 28, 32) < 0.5
    assert evidence.tost_power(0.1, "between", 10) == 0.0


def test_bayes_factor_direction(rng):
    null = evidence.evidence_table(_outcomes(rng, 0.0, n=200), outcome_names=("nps",))
    effect = evidence.evidence_table(_outcomes(rng, 1.0, n=200), outcome_names=("nps",))
    get = {name: t.set_index("contrast") for name, t in (("null", null), ("effect", effect))}
    assert get["null"].loc["HEP_vs_WL", "bf10"] < 1 / 3
    assert get["effect"].loc["MBSR_vs_HEP", "bf10"] > 100
    assert np.allclose(null.bf01 * null.bf10, 1.0)
    assert set(null.evidence) <= {"for an effect", "for no effect", "inconclusive"}


def test_user_data_without_truth_and_bad_input(rng, tmp_path):
    table = evidence.evidence_table(_outcomes(rng), outcome_names=("nps",))
    assert table.planted_d.isna().all()
    path = evidence.write_equivalence(table, None, out_dir=tmp_path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert set(meta["columns"]) == set(table.columns)
    with pytest.raises(ValueError, match="sesoi"):
        evidence.evidence_table(_outcomes(rng), sesoi=0.0, outcome_names=("nps",))
    with pytest.raises(MindpainError, match="missing column"):
        evidence.evidence_table(_outcomes(rng).drop(columns="nps"), outcome_names=("nps",))
