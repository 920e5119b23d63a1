"""Dropout that may depend on baseline (MAR), and the twin's faster, byte-identical steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_SEED
from scipy import signal

from mindpain.twin import nuisance
from mindpain.twin.params import load_parameters
from mindpain.twin.participants import (
    _draw_participants,
    baseline_completers,
    draw_participants,
    draw_truth,
)


def test_default_dropout_is_completely_at_random_and_unchanged():
    from mindpain.twin.params import load_parameters

    assert load_parameters("small")["design.dropout_baseline_log_odds"] == 0.0
    for preset in ("small", "reduced"):
        # the default path is the table drawn before the option existed, untouched
        params = load_parameters(preset)
        pd.testing.assert_frame_equal(draw_participants(params, TEST_SEED),
                                      _draw_participants(params, TEST_SEED))
        pd.testing.assert_frame_equal(draw_participants(load_parameters(preset, "ideal"),
                                                        TEST_SEED, 0.0),
                                      _draw_participants(params, TEST_SEED))


def test_one_dropout_is_chosen_with_probability_proportional_to_exp_beta_z():
    """With one dropout, P(i drops) = exp(beta z_i) / sum_j exp(beta z_j), as specified."""
    rng = np.random.default_rng(0)
    baseline = np.array([-1.5, -0.5, 0.0, 0.4, 1.6])
    z = (baseline - baseline.mean()) / baseline.std()
    beta, n = 1.0, 20000
    counts = np.zeros(z.size)
    for _ in range(n):
        counts += ~baseline_completers(baseline, 1, beta, rng)
    expected = np.exp(beta * z) / np.exp(beta * z).sum()
    se = np.sqrt(expected * (1 - expected) / n)
    assert np.all(np.abs(counts / n - expected) < 4 * se)
    # beta = 0: every participant equally likely
    counts = sum(~baseline_completers(baseline, 1, 0.0, rng) for _ in range(n))
    assert np.all(np.abs(counts / n - 0.2) < 4 * np.sqrt(0.16 / n))


def test_mar_dropout_keeps_arm_sizes_and_depends_on_the_drawn_baseline():
    preset = "reduced"
    ideal = load_parameters(preset, "ideal")
    default = draw_participants(load_parameters(preset), TEST_SEED)
    higher, lower = [], []
    for seed in range(TEST_SEED, TEST_SEED + 6):
        people = draw_participants(ideal, seed, 1.5)
        # who completes changes, the arms' completer counts and everything else do not
        base = _draw_participants(ideal, seed)
        pd.testing.assert_frame_equal(people.drop(columns="completed_post"),
                                      base.drop(columns="completed_post"))
        counts = people.groupby("group")["completed_post"].sum()
        assert counts.equals(default.groupby("group")["completed_post"].sum())
        truth = draw_truth(people, ideal, seed)
        pre = truth[truth.session == "pre"].set_index("participant_id")["nociceptive"]
        for arm in ("MBSR", "HEP", "WL"):
            arm_people = people[people.group == arm]
            z = pre.loc[arm_people.participant_id].to_numpy()
            z = (z - z.mean()) / z.std()
            done = arm_people.completed_post.to_numpy()
            higher.append(z[~done].mean())
            lower.append(z[done].mean())
    # with log odds 1.5 per SD, dropouts' baselines lie well above the completers'
    assert np.mean(higher) - np.mean(lower) > 0.8
    # the truth of the completers' post sessions exists, and only theirs
    post = set(truth.loc[truth.session == "post", "participant_id"])
    assert post == set(people.loc[people.completed_post, "participant_id"])


def _reference_hrf_regressors(events, weights, n_t, tr, hrf):
    """The twin's HRF regressors before the spectra were shared: one fftconvolve each."""
    dt = tr / nuisance._OVERSAMPLING
    n_fine = n_t * nuisance._OVERSAMPLING
    kernels = [nuisance.gamma_difference_hrf(dt, lat, hrf["dispersion"], hrf["ratio"])
               for lat in nuisance.LATENCY_GRID]
    out = {}
    for name, (trial_type, amp) in weights.items():
        rows = events[events["trial_type"] == trial_type]
        amp = np.ones(len(rows)) if amp is None else np.asarray(amp, float)
        box = np.zeros(n_fine)
        for (onset, duration), a in zip(rows[["onset", "duration"]].to_numpy(), amp,
                                        strict=True):
            i0 = int(np.rint(onset / dt))
            i1 = max(int(np.rint((onset + duration) / dt)), i0 + 1)
            box[i0:min(i1, n_fine)] += a
        conv = np.stack([signal.fftconvolve(box, k)[:n_fine] for k in kernels])
        out[name] = conv[:, ::nuisance._OVERSAMPLING]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hrf_regressors_are_bit_identical_to_one_fftconvolve_each(seed):
    from mindpain.twin.params import load_parameters
    from mindpain.twin.task import make_run_events

    rng = np.random.default_rng(seed)
    params = load_parameters("small")
    events = make_run_events(rng, params, hot_temperature=48.0)
    n_hot = int(events.trial_type.eq("hot").sum())
    hrf = {"dispersion": 0.9 * np.exp(0.1 * rng.standard_normal()),
           "ratio": 0.48 * np.exp(0.2 * rng.standard_normal())}
    weights = {"noc": ("hot", 1 + 0.1 * rng.standard_normal(n_hot)), "warm": ("warm", None)}
    got = nuisance.hrf_regressors(events, weights, 155, 2.0, hrf)
    expected = _reference_hrf_regressors(events, weights, 155, 2.0, hrf)
    for name in weights:
        np.testing.assert_array_equal(got[name], expected[name])


def test_condition_regressors_are_nilearns_design_bit_for_bit():
    from nilearn.glm.first_level import make_first_level_design_matrix

    from mindpain.twin.bold import condition_regressors
    from mindpain.twin.params import load_parameters
    from mindpain.twin.task import frame_times, make_run_events

    params = load_parameters("small")
    for seed in range(3):
        events = make_run_events(np.random.default_rng(seed), params, hot_temperature=47.5)
        expected = make_first_level_design_matrix(
            frame_times(params), events[["onset", "duration", "trial_type"]],
            hrf_model="glover", drift_model=None)[["hot", "warm", "rating"]]
        got = condition_regressors(params, events)
        assert list(got.columns) == ["hot", "warm", "rating"]
        np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())
