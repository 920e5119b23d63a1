"""The thermal task of the twin: event timing and per-trial ratings (all assumed)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

EVENT_COLUMNS = ("onset", "duration", "trial_type", "temperature", "intensity_rating",
                 "unpleasantness_rating")


def n_volumes(params) -> int:
    """Return the number of volumes per run (fits the longest possible jittered run)."""
    n_trials = 2 * params["task.trials_per_condition_per_run"]
    longest = params["task.lead_in"] + n_trials * (
        params["task.stimulus_duration"] + params["task.delay_before_rating"]["max"]
        + params["task.rating_duration"] + params["task.iti"]["max"]
    )
    return int(math.ceil((longest + 12.0) / params["task.repetition_time"]))


def make_run_events(rng: np.random.Generator, params, *, hot_temperature: float,
                    session_means: dict | None = None) -> pd.DataFrame:
    """Draw one run's events: jittered hot and warm stimuli, each followed by a rating.

    Parameters
    ----------
    rng : numpy.random.Generator
        Stream for this run.
    params : mindpain.twin.params.Parameters
        Task parameters.
    hot_temperature : float
        The participant's calibrated hot temperature (degrees C).
    session_means : dict, optional
        True mean ratings of this participant and session: keys ``intensity``,
        ``unpleasantness`` (hot trials). Warm-trial means come from the parameters.
        Without it, ratings are left missing (design only).

    Returns
    -------
    pandas.DataFrame
        BIDS events with columns :data:`EVENT_COLUMNS`, sorted by onset.
    """
    n = params["task.trials_per_condition_per_run"]
    order = rng.permutation(np.array(["hot"] * n + ["warm"] * n))
    delay, iti = params["task.delay_before_rating"], params["task.iti"]
    ratings = params["outcomes.ratings"]
    stim, rate = params["task.stimulus_duration"], params["task.rating_duration"]
    t = params["task.lead_in"]
    rows = []
    for kind in order:
        temp = hot_temperature if kind == "hot" else params["task.temperature"]["warm"]
        if session_means is None:
            intensity = unpleasantness = np.nan
        elif kind == "hot":
            intensity = session_means["intensity"] + rng.normal(0, ratings["trial_sd"])
            unpleasantness = session_means["unpleasantness"] + rng.normal(0, ratings["trial_sd"])
        else:
            intensity = ratings["warm_intensity_mean"] + rng.normal(0, ratings["trial_sd"] / 2)
            unpleasantness = ratings["warm_unpleasantness_mean"] + rng.normal(
                0, ratings["trial_sd"] / 2)
        rows.append({"onset": t, "duration": stim, "trial_type": kind,
                     "temperature": round(float(temp), 1),
                     "intensity_rating": _vas(intensity),
                     "unpleasantness_rating": _vas(unpleasantness)})
        t += stim + rng.uniform(delay["min"], delay["max"])
        rows.append({"onset": t, "duration": rate, "trial_type": "rating", "temperature": np.nan,
                     "intensity_rating": np.nan, "unpleasantness_rating": np.nan})
        t += rate + rng.uniform(iti["min"], iti["max"])
    events = pd.DataFrame(rows, columns=list(EVENT_COLUMNS))
    events["onset"] = events["onset"].round(3)
    return events


def _vas(value: float) -> float:
    """Clip to the 0-100 visual analogue scale with one decimal (as a rating device would)."""
    return float(np.round(np.clip(value, 0.0, 100.0), 1)) if np.isfinite(value) else np.nan


def frame_times(params) -> np.ndarray:
    """Acquisition times (s) of the volumes of a run (start of each TR)."""
    return np.arange(n_volumes(params)) * params["task.repetition_time"]
