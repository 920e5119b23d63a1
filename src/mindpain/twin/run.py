"""One run of the twin, in memory: events, BOLD and confounds, in either world.

:func:`make_run` is the pure function behind every run the twin writes: it returns the
run's events, its BOLD (int16, grid shape + time) and, in the realistic world, its
confounds table, without touching the disk, so a study that repeats the pipeline many times
(end-to-end calibration) can call it per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from mindpain.core.config import derive_rng
from mindpain.twin import nuisance
from mindpain.twin.bold import session_patterns, synthesize_run
from mindpain.twin.params import Parameters
from mindpain.twin.patterns import generator_space
from mindpain.twin.task import frame_times, make_run_events


@dataclass(frozen=True)
class RunData:
    """One simulated run.

    Attributes
    ----------
    events : pandas.DataFrame
        BIDS events (realistic world: hot temperatures vary trial by trial).
    bold : numpy.ndarray
        int16 BOLD, grid shape + time.
    confounds : pandas.DataFrame or None
        fMRIPrep-named confounds (realistic world), ``None`` in the ideal world.
    truth : dict
        What was planted beyond the session's latent truth (realistic world: the
        participant's HRF latency shift, the session's misregistration, the motion scale).
    """

    events: pd.DataFrame
    bold: np.ndarray
    confounds: pd.DataFrame | None
    truth: dict


@lru_cache(maxsize=1)
def _blas_controller():
    """Return the process's thread-pool controller (BLAS libraries found once, not per run)."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def make_run(params: Parameters, seed: int, rec: dict, run: int, hot: float) -> RunData:
    """Simulate one run of one participant-session.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters: preset (grid and design) and world. In the ``ideal`` world
        the run reproduces the generator that uses the analysis model itself
        (byte-identical BOLD for the same seed); the ``realistic`` world adds the nuisance
        of :mod:`mindpain.twin.nuisance`.
    seed : int
        Master seed; every stream is derived from it, the participant, session and run.
    rec : dict
        The session's row of the truth table (``participant_id``, ``session``, ``group``
        and the latent responses).
    run : int
        Run number (from 1).
    hot : float
        The participant's calibrated hot temperature.

    Returns
    -------
    RunData
        The run's events, BOLD, confounds and what was planted beyond the latent truth.
    """
    space = generator_space(params)
    pid, ses = rec["participant_id"], rec["session"]
    events = make_run_events(derive_rng(seed, "events", pid, ses, run), params,
                             hot_temperature=hot, session_means=rec)
    patterns = session_patterns(space, params, rec, derive_rng(seed, "pattern", pid, ses))
    gain = 1.0 + params["bold.session_gain_sd"] * derive_rng(seed, "gain", pid, ses).normal()
    if not params.realistic:
        data = synthesize_run(space, params, events, patterns,
                              derive_rng(seed, "bold", pid, ses, run), gain=gain)
        return RunData(events=events, bold=data, confounds=None, truth={})
    # One BLAS thread: float32 products summed in the same order wherever the run is made
    # (main process or joblib worker), so the BOLD is byte-identical for a seed.
    with _blas_controller().limit(limits=1, user_api="blas"):
        return _realistic_run(space, params, seed, rec, run, hot, events, patterns, gain)


def _realistic_run(space, params, seed, rec, run, hot, events, patterns, gain) -> RunData:
    pid, ses = rec["participant_id"], rec["session"]
    tr = params["task.repetition_time"]
    n_t = frame_times(params).size

    # Trial temperatures: the nociceptive part of each hot trial scales with it.
    hot_rows = np.flatnonzero(events["trial_type"].eq("hot").to_numpy())
    offsets = nuisance.hot_temperature_offsets(
        params, hot_rows.size, derive_rng(seed, "temperature", pid, ses, run))
    events = events.copy()
    events.loc[hot_rows, "temperature"] = np.round(hot + offsets, 1)
    trial_scale = 1.0 + params["nuisance.nociceptive_per_degree"] * offsets

    # Session maps, misregistered by a sub-voxel shift.
    noc = float(rec["nociceptive"]) * space.patterns["nociceptive"]
    maps = {"noc": noc, "hot": patterns["hot"] - noc, "warm": patterns["warm"],
            "rating": patterns["rating"]}
    shift = params["nuisance.misregistration_mm"] * derive_rng(
        seed, "misregistration", pid, ses).standard_normal(3)
    maps = nuisance.shift_maps(space, maps, shift)

    # Participant's HRF (the same in every session and run).
    hrf = nuisance.participant_hrf(space, params, derive_rng(seed, "hrf", pid))
    regressors = nuisance.hrf_regressors(
        events, {"noc": ("hot", trial_scale), "hot": ("hot", None), "warm": ("warm", None),
                 "rating": ("rating", None)}, n_t, tr, hrf)
    percent = nuisance.voxel_task(maps, regressors, hrf["latency"]).astype(np.float32)

    rng = derive_rng(seed, "bold", pid, ses, run)
    t = np.linspace(-1, 1, n_t)
    drift_basis = np.column_stack([t, 1.5 * t**2 - 0.5, np.cos(np.pi * (t + 1) / 2)])
    drift_basis /= drift_basis.std(0)
    drift_maps = nuisance.fast_smooth_field(space, rng, 3) * np.float32(
        params["bold.drift_percent"] / np.sqrt(3))
    percent += drift_maps @ drift_basis.T.astype(np.float32)
    percent += nuisance.scanner_noise(space, params, n_t, rng)
    physio, physio_columns = nuisance.physio(space, params, n_t, rng)
    percent += physio
    scale_sd = params["nuisance.motion_participant_log_sd"]
    motion_scale = float(np.exp(scale_sd * derive_rng(seed, "motion-scale", pid).normal()))
    motion = nuisance.simulate_motion(params, n_t, rng, motion_scale)
    percent += nuisance.motion_signal(space, params, motion).astype(np.float32)

    scale = (params["bold.baseline_signal"] * gain * space.s0).astype(np.float32)
    values = np.round(scale[:, None] * (1.0 + percent / np.float32(100.0))).astype(np.int16)
    confounds = nuisance.confounds_table(params, motion, physio_columns,
                                         values.mean(0, dtype=np.float64))
    truth = {"hrf_participant_shift_s": hrf["participant_shift"],
             "hrf_dispersion": hrf["dispersion"], "hrf_undershoot_ratio": hrf["ratio"],
             "misregistration_mm": shift.tolist(), "motion_scale": motion_scale,
             "hrf_latency": hrf["latency"]}
    bold = np.zeros(space.shape + (n_t,), dtype=np.int16, order="F")  # NIfTI's order
    bold[space.mask] = values
    return RunData(events=events, bold=bold, confounds=confounds,
                   truth=truth)
