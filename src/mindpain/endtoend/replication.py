"""One replication of the trial through the pipeline, and the analysis mask it reads.

A replication draws the participants and their latent truth with its own seed
(:func:`~mindpain.endtoend.settings.replication_seed`), simulates every run of every session
of the trial's completers in memory (:func:`mindpain.twin.run.make_run`), fits each run
(:func:`mindpain.endtoend.glm.fit_run_in_memory`), combines a session's runs
(:func:`~mindpain.endtoend.glm.session_effect`) and scores the session's hot>warm map with
the open surrogate signatures resampled to the data grid (:func:`surrogate_weights`, as
:func:`mindpain.scoring.engine.score_maps`). :func:`mask_effects` measures the planted effects as
read through the voxels the analysis keeps.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mindpain.endtoend.glm import fit_run_in_memory, run_mask, session_effect
from mindpain.endtoend.settings import (
    CONTRASTS,
    OUTCOMES,
    SURROGATES,
    replication_seed,
)

if TYPE_CHECKING:
    from mindpain.twin.params import Parameters


def surrogate_weights(params: Parameters, data_dir=None) -> np.ndarray:
    """Surrogate NPS and SIIPS1 weights on the twin's grid, one column each (C-order voxels).

    The weights are resampled to the data grid exactly as :func:`mindpain.scoring.engine.score_maps`
    does (same plan); a session's score is the dot product of its effect map with a column.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (their preset's grid,
        :data:`~mindpain.endtoend.settings.ENDTOEND_PRESET` for the calibration).
    data_dir : path-like, optional
        Folder of the signature maps.

    Returns
    -------
    numpy.ndarray
        ``(n_grid_voxels, len(OUTCOMES))``.
    """
    from mindpain.scoring.plan import build_plan, signature_columns
    from mindpain.signatures import get_signature
    from mindpain.twin.patterns import generator_space

    space = generator_space(params)
    sigs = [get_signature(SURROGATES[o], data_dir) for o in OUTCOMES]
    cols = signature_columns(sigs, False)
    plan = build_plan(sigs, cols, list(range(len(cols))), space.shape, space.affine)
    weights = np.zeros((int(np.prod(space.shape)), len(cols)))
    weights[plan.idx] = plan.W
    return weights


def replicate(params: Parameters, seed: int, replication: int,
              weights: np.ndarray, dropout_log_odds: float | None = None,
              rep_seed: int | None = None, latent: bool = False) -> pd.DataFrame:
    """One replication of the trial through the pipeline, in memory.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters: preset (:data:`~mindpain.endtoend.settings.ENDTOEND_PRESET`)
        and world; loaded with the world's pipeline transfer for the twin's planting, without
        it for the measurement model's own planting (to measure the transfer).
    seed : int
        Master seed.
    replication : int
        Replication number (its seed is :func:`~mindpain.endtoend.settings.replication_seed`).
    weights : numpy.ndarray
        :func:`surrogate_weights` of ``params``.
    dropout_log_odds : float, optional
        Dropout that depends on baseline
        (:func:`mindpain.twin.participants.draw_participants`); default: the twin's.
    rep_seed : int, optional
        The replication's own seed (default:
        :func:`~mindpain.endtoend.settings.replication_seed` of ``seed`` and ``replication``;
        the transfer measurement gives seeds of its own,
        :func:`mindpain.endtoend.transfer.transfer_seed`).
    latent : bool
        Also return each session's latent responses (``nociceptive, modulatory``).

    Returns
    -------
    pandas.DataFrame
        One row per completer and session: ``replication, participant_id, session, group``
        and the outcomes :data:`~mindpain.endtoend.settings.OUTCOMES` (with ``latent``, then
        the latent responses).
    """
    from threadpoolctl import threadpool_limits

    from mindpain.first_level.runs import MOTION_CONFOUNDS
    from mindpain.twin.patterns import LATENTS, generator_space

    rep_seed = replication_seed(seed, replication) if rep_seed is None else int(rep_seed)
    space = generator_space(params)
    support = (weights != 0).any(1).reshape(space.shape)
    tr, _, sessions = trial_sessions(params, rep_seed, dropout_log_odds)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for rec, runs in sessions:
            fits = [fit_run_in_memory(data, tr, MOTION_CONFOUNDS, space.affine, support)
                    for data in runs]
            scores = session_effect(fits).astype(np.float64) @ weights
            rows.append({"replication": int(replication), "participant_id":
                         rec["participant_id"], "session": rec["session"],
                         "group": rec["group"],
                         **{o: float(s) for o, s in zip(OUTCOMES, scores, strict=True)},
                         **({k: float(rec[k]) for k in LATENTS} if latent else {})})
    return pd.DataFrame(rows)


def trial_sessions(params: Parameters, rep_seed: int,
                   dropout_log_odds: float | None = None,
                   completers_only: bool = True) -> tuple:
    """Simulate one replication's trial participants' sessions, lazily.

    Parameters
    ----------
    params
        The twin's parameters (preset, world and planting).
    rep_seed
        The replication's seed.
    dropout_log_odds
        Passed to :func:`mindpain.twin.participants.draw_participants` (``None``: the
        preset's dropout).
    completers_only
        Keep only the trial arms' completers (their two sessions); otherwise every trial
        participant's available sessions (baseline-only participants' first).

    Returns
    -------
    tuple
        ``(tr, people, sessions)``: the repetition time, the participants kept and a
        generator of ``(record, runs)``: each session's record (its latent truth) and a
        generator of its simulated runs (:func:`mindpain.twin.run.make_run`), made only when
        iterated.
    """
    from mindpain.core.vocabulary import ARMS
    from mindpain.twin.participants import draw_participants, draw_truth
    from mindpain.twin.run import make_run

    participants = draw_participants(params, rep_seed, dropout_log_odds)
    truth = draw_truth(participants, params, rep_seed)
    kept = participants["group"].isin(ARMS)
    if completers_only:
        kept &= participants["completed_post"]
    people = participants[kept].reset_index(drop=True)
    hot = people.set_index("participant_id")["hot_temperature"]
    truth = truth[truth["participant_id"].isin(hot.index)]
    runs = range(1, params["task.n_runs"] + 1)
    sessions = ((rec, (make_run(params, rep_seed, rec, run, float(hot[rec["participant_id"]]))
                       for run in runs))
                for rec in truth.to_dict("records"))
    return float(params["task.repetition_time"]), people, sessions


def analysis_mask(params: Parameters, seed: int, n_sessions: int = 6) -> tuple[np.ndarray, list]:
    """Measure on simulated runs which of the twin's voxels the analysis reads.

    The first level fits only the voxels of each run's implicit mask
    (:func:`~mindpain.endtoend.glm.run_mask`) and the session map holds the voxels every run keeps
    (:func:`~mindpain.endtoend.glm.session_effect`); the scorer then sees the signature's weights in
    those voxels only. This simulates the first ``n_sessions`` completer sessions of replication 0
    (seed :func:`~mindpain.endtoend.settings.replication_seed`) and returns the voxels of the
    generator's mask that every one of their runs keeps.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset and world).
    seed : int
        Master seed.
    n_sessions : int
        Number of sessions simulated.

    Returns
    -------
    tuple
        ``(keep, counts)``: boolean over the generator's in-mask voxels, and each session's
        number of voxels kept (grid-wide, so it may include voxels outside the twin's mask).
    """
    from itertools import islice

    from mindpain.twin.patterns import generator_space

    gen = generator_space(params)
    _, _, sessions = trial_sessions(params, replication_seed(seed, 0))
    keep, counts = np.ones(gen.shape, bool), []
    for _, runs in islice(sessions, n_sessions):
        session = np.logical_and.reduce([run_mask(data.bold, gen.affine) for data in runs])
        counts.append(int(session.sum()))
        keep &= session
    return keep[gen.mask], counts


def mask_effects(params: Parameters, seed: int, n_sessions: int = 6) -> pd.DataFrame:
    """Planted effects as read through the analysis's mask (:func:`analysis_mask`).

    The generator plants each effect in signature units read over the twin's whole mask
    (:func:`mindpain.twin.model.planted_trial_effects`); a map that holds fewer voxels reads a
    different effect (a weighted share of the pattern is lost, and with it part of the session
    noise). Returns one row per :data:`~mindpain.endtoend.settings.OUTCOMES` and
    :data:`~mindpain.endtoend.settings.CONTRASTS` with ``planted_d_paper`` (whole mask),
    ``planted_d_paper_in_mask``, and ``analysis_mask_voxels`` / ``twin_mask_voxels``.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset, world and planting).
    seed : int
        Master seed.
    n_sessions : int
        Sessions simulated to measure the mask (:func:`analysis_mask`).

    Returns
    -------
    pandas.DataFrame
        ``world, outcome, contrast, planted_d_paper, planted_d_paper_in_mask,
        analysis_mask_voxels, twin_mask_voxels``.
    """
    from mindpain.truth import planted_trial_effects

    keep, _ = analysis_mask(params, seed, n_sessions)
    whole = planted_trial_effects(params).set_index(["outcome", "contrast"])
    seen = planted_trial_effects(params, keep).set_index(["outcome", "contrast"])
    rows = [{"world": params.world, "outcome": o, "contrast": c,
             "planted_d_paper": float(whole.loc[(o, c), "planted_d_paper"]),
             "planted_d_paper_in_mask": float(seen.loc[(o, c), "planted_d_paper"]),
             "analysis_mask_voxels": int(keep.sum()), "twin_mask_voxels": int(keep.size)}
            for o in OUTCOMES for c in CONTRASTS]
    return pd.DataFrame(rows)


def scores_digest(scores: pd.DataFrame) -> str:
    """sha256 of one replication's scores written with 12 significant digits."""
    text = scores.to_csv(sep="\t", index=False, float_format="%.12g", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()
