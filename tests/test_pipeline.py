"""The pipeline end to end on the small twin: outcomes table and its recovery of the truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from conftest import TEST_SEED

from mindpain.core.config import get_config
from mindpain.core.vocabulary import TRIAL_OUTCOMES
from mindpain.pipeline import first_level_dir, load_outcomes
from mindpain.twin.model import READOUTS, derive_constants
from mindpain.twin.params import load_parameters
from mindpain.twin.patterns import LATENTS


def test_outcomes_table_recovers_the_planted_truth(ideal_twin):
    # The measurement model (twin.model) is exact in the ideal world only: the realistic
    # world's nuisance adds error it does not describe (tests/test_twin_realism.py).
    small_twin = ideal_twin
    cfg = get_config(preset="small", seed=TEST_SEED, work_dir=small_twin.parent, n_jobs=2,
                     bids_dir=None, world="ideal")
    assert cfg.twin_dir == small_twin
    outcomes = load_outcomes(cfg)
    truth = pd.read_csv(small_twin / "derivatives/twin-truth/truth.tsv", sep="\t")
    assert list(outcomes.columns[:5]) == ["participant_id", "session", "group", "age", "sex"]
    assert set(TRIAL_OUTCOMES) <= set(outcomes.columns)
    assert len(outcomes) == len(truth)
    assert not outcomes[list(TRIAL_OUTCOMES)].isna().any().any()
    merged = outcomes.merge(truth, on=["participant_id", "session"], suffixes=("", "_true"))
    for outcome in ("intensity", "unpleasantness"):
        r = np.corrcoef(merged[outcome], merged[f"{outcome}_true"])[0, 1]
        assert r > 0.8, (outcome, r)
    # Each signature score is what the twin's measurement model expects from the latent
    # truth (loadings x latent + generic), within its session-level SD.
    const = derive_constants(load_parameters("small"))
    latent = merged[list(LATENTS)].to_numpy()
    for k, outcome in enumerate(READOUTS):
        expected = latent @ const.readout[k] + const.generic_mean[k]
        z = (merged[outcome] - expected) / const.measurement_sd(outcome)
        assert np.abs(z).max() < 4.5 and abs(z.mean()) < 4 / np.sqrt(len(z)), (outcome, z)
    # The dot products of NPSpos and NPSneg add up to the NPS (disjoint weights).
    np.testing.assert_allclose(outcomes["nps_pos"] + outcomes["nps_neg"], outcomes["nps"],
                               rtol=1e-6)
    assert (first_level_dir(cfg) / "dataset_description.json").is_file()
