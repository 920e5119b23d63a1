"""Display tables: rows chosen and ordered, labels, rounding; the numbers are not changed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.figures.tables import meditator_effects, trial_effects
from mindpain.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS


def _trial_rows():
    rows = []
    for outcome in ("siips1", "nps"):
        for contrast in ("MBSR_vs_WL", "MBSR_vs_HEP"):
            for model in ("mixedlm", "change_score", "permutation"):
                rows.append({"outcome": outcome, "contrast": contrast, "model": model,
                             "estimate_d": -0.4251, "ci_low": -0.9, "ci_high": 0.05,
                             "estimate_d_paper": -0.5, "p": 0.04567, "p_adj": np.nan,
                             "reported_d": np.nan, "planted_d": -0.42,
                             "covers_planted": True})
    return pd.DataFrame(rows)


def test_trial_effects_order_labels_and_rounding():
    shown = trial_effects(_trial_rows(), models=("change_score", "mixedlm"),
                          outcomes=("nps", "siips1"))
    assert len(shown) == 2 * 2 * 2  # the permutation rows are not asked for
    assert shown["Outcome"].tolist()[:4] == [OUTCOME_LABELS["nps"]] * 4
    assert shown["Model"].tolist()[:2] == ["change_score", "mixedlm"]
    assert set(shown["Contrast"]) <= set(CONTRAST_LABELS.values())
    assert shown.loc[0, "d [95% CI]"] == "-0.43 [-0.90, 0.05]"
    assert shown.loc[0, "p"] == "0.046" and shown.loc[0, "p (Holm)"] == ""
    assert shown["CI covers planted"].eq("yes").all()


def test_meditator_effects_shows_missing_intervals_as_empty():
    effects = pd.DataFrame({
        "outcome": ["nps", "nps"], "effect": ["group", "retreat"],
        "method": ["welch_d", "welch_d"], "estimate": [0.123456, np.nan],
        "ci_low": [-0.2, np.nan], "ci_high": [0.44, np.nan], "p": [0.5, np.nan],
        "p_adj": [0.5, np.nan], "planted": [0.1, np.nan], "n": [40, 40], "note": ["", "x"]})
    shown = meditator_effects(effects)
    assert shown["95% CI"].tolist() == ["[-0.20, 0.44]", ""]
    assert shown["Estimate"].tolist() == ["0.12", ""]
    assert shown["Effect"].tolist()[0] == "LTM vs naive"
