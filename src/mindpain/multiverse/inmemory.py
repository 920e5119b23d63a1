r"""One replication of the whole multiverse, in memory: a fresh twin through every specification.

The one-dataset curve (:mod:`mindpain.multiverse.runner`) shows how the estimate moves with
the analysis choices on **one** draw of the data; it cannot show how it moves from one draw
to the next. A replication here draws a new trial from the twin's generator, with its own
seed (:func:`replication_seed`, tag ``"multiverse-replication"``: disjoint from the
end-to-end calibration's, :func:`mindpain.endtoend.settings.replication_seed`), and runs every
specification of a grid on it, with the in-memory machinery of the end-to-end calibration
(:mod:`mindpain.endtoend`):

1. every run of every session of every trial participant (completers and baseline-only
   participants, so the mixed model's "all sessions" sample exists) is simulated by
   :func:`mindpain.twin.run.make_run`; the BOLD is never written;
2. each run is fitted once per first-level variant
   (:class:`~mindpain.multiverse.grid.FirstLevelVariant`): the run's implicit mask
   (:func:`mindpain.endtoend.glm.run_mask`, on the unsmoothed data, as the first level), the
   BOLD smoothed as the first level's masker smooths it (:func:`smooth_run`: nilearn's
   ``smooth_img`` on the whole volume, before masking), the variant's confounds
   (:func:`mindpain.endtoend.glm.select_confounds`), design
   (:func:`mindpain.endtoend.glm.fast_design`) and AR(1) fit
   (:func:`mindpain.endtoend.glm.ar1_contrast`; the design of an HRF with its
   time derivative, which the fast design does not build, by
   :func:`mindpain.first_level.glm.design_matrix`), only at the signatures' voxels
   (every voxel's fit is independent of the others);
3. a session's runs are combined by :func:`mindpain.endtoend.glm.session_effect` and its map
   scored with the open surrogate signatures by every metric
   (:func:`mindpain.scoring.metrics.chunk_metrics` on the plan of
   :func:`mindpain.scoring.engine.score_maps`);
4. every (model, sample, covariates) specification is estimated
   (:func:`mindpain.multiverse.models.estimate_specs`).

``tests/test_multiverse_replications.py`` checks step 2 against the file-based first
level (:func:`mindpain.first_level.runs.fit_run_model`) with and without smoothing and confounds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.core.config import derive_rng
from mindpain.multiverse.grid import CONFOUND_SETS, OUTCOMES, first_level_variants

#: Surrogate signature of each outcome (the end-to-end calibration's).
SURROGATES = {"nps": "nps-surrogate", "siips1": "siips1-surrogate"}
#: Columns of one replication's table (one row per specification), before ``replication``.
ROW_COLUMNS = ("outcome", "contrast", "world", "first_level", "smoothing_fwhm", "hrf_model",
               "high_pass_s", "confounds", "metric", "model", "sample", "covariates",
               "estimate_d", "ci_low", "ci_high", "p", "n")


def replication_seed(seed: int, replication: int) -> int:
    """Seed of one multiverse replication (own tag: disjoint from the end-to-end seeds)."""
    return int(derive_rng(seed, "multiverse-replication", int(replication)).integers(2**31 - 1))


def scoring_plan(params, data_dir=None):
    """Plan of the surrogate signatures on the twin's grid, as the scoring engine builds it.

    The plan :func:`mindpain.scoring.engine.score_maps` uses for these signatures on this grid.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (their preset's grid).
    data_dir : path-like, optional
        Folder of the signature maps.

    Returns
    -------
    mindpain.scoring.plan.Plan
        One whole-pattern column per outcome of :data:`~mindpain.multiverse.grid.OUTCOMES`.
    """
    from mindpain.scoring.plan import build_plan, signature_columns
    from mindpain.signatures import get_signature
    from mindpain.twin.patterns import generator_space

    space = generator_space(params)
    sigs = [get_signature(SURROGATES[o], data_dir) for o in OUTCOMES]
    cols = signature_columns(sigs, False)
    return build_plan(sigs, cols, list(range(len(cols))), space.shape, space.affine)


def smooth_run(bold: np.ndarray, affine: np.ndarray, fwhm: float | None) -> np.ndarray:
    """Smooth a 4-D run as the first level's masker does (nilearn's ``smooth_img``, float32).

    ``None`` or 0 returns the float32 data unchanged.
    """
    import nibabel as nib
    from nilearn.image import smooth_img

    data = np.asarray(bold, dtype=np.float32)
    if not fwhm:
        return data
    return np.asarray(smooth_img(nib.Nifti1Image(data, affine), fwhm).dataobj)


def fit_run_variants(data, tr: float, affine: np.ndarray, variants, voxels=None) -> dict:
    """Fit one simulated run under every first-level variant, as the first level would.

    Parameters
    ----------
    data : mindpain.twin.run.RunData
        The run.
    tr : float
        Repetition time (s).
    affine : numpy.ndarray
        The grid's affine (smoothing is in mm).
    variants : sequence of mindpain.multiverse.grid.FirstLevelVariant
        The variants.
    voxels : numpy.ndarray, optional
        Boolean grid: fit only these voxels (inside the run's implicit mask).

    Returns
    -------
    dict
        Variant label -> ``(mask, effect, variance)``, as
        :func:`mindpain.endtoend.glm.fit_run_in_memory` returns them.
    """
    from mindpain.core.errors import MindpainError
    from mindpain.endtoend import (
        ar1_contrast,
        fast_design,
        run_events,
        run_mask,
        select_confounds,
    )
    from mindpain.first_level.glm import design_matrix

    bold = np.asarray(data.bold, dtype=np.float32)
    mask = run_mask(bold, affine)
    if voxels is not None:
        mask &= voxels
    n_scans = bold.shape[3]
    events = run_events(data.events)
    series, designs, out = {}, {}, {}
    for v in variants:
        columns = CONFOUND_SETS[v.confounds]
        if columns and data.confounds is None:
            raise MindpainError(f"the simulated run has no confounds; the confound set "
                                f"{v.confounds!r} needs the realistic world")
        confounds = select_confounds(data.confounds, columns) if columns else None
        fwhm = v.smoothing_fwhm or None
        if fwhm not in series:
            series[fwhm] = smooth_run(bold, affine, fwhm)[mask].T
        settings = v.settings()
        which = (v.hrf_model, v.high_pass_s, v.confounds)
        if which not in designs:
            designs[which] = (fast_design(events, n_scans, tr, settings, confounds)
                              if settings.hrf_model == "glover" else
                              design_matrix(events, n_scans, tr, hrf_model=settings.hrf_model,
                                            drift_model=settings.drift_model,
                                            high_pass=settings.high_pass, confounds=confounds))
        design = designs[which]
        vector = np.array([{"hot": 1.0, "warm": -1.0}.get(c, 0.0) for c in design.columns])
        effect, variance = ar1_contrast(series[fwhm], design.to_numpy(), vector)
        out[v.label] = (mask, effect, variance)
    return out


def session_scores(params, rep_seed: int, variants, plan) -> tuple:
    """Every session's signature responses under every variant and metric, in memory.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset and world).
    rep_seed : int
        The replication's seed.
    variants : sequence of mindpain.multiverse.grid.FirstLevelVariant
        The first-level variants.
    plan : mindpain.scoring.plan.Plan
        :func:`scoring_plan` of ``params``.

    Returns
    -------
    tuple
        ``(scores, participants)``: a long table ``first_level, participant_id, session,
        outcome, metric, response`` and the trial arms' participants table.
    """
    from threadpoolctl import threadpool_limits

    from mindpain.core.vocabulary import METRICS
    from mindpain.endtoend import session_effect
    from mindpain.endtoend.replication import trial_sessions
    from mindpain.scoring.metrics import chunk_metrics, missing_to_zero
    from mindpain.twin.patterns import generator_space

    space = generator_space(params)
    support = np.zeros(int(np.prod(space.shape)), bool)
    support[plan.idx] = True
    support = support.reshape(space.shape)
    tr, people, sessions = trial_sessions(params, rep_seed, completers_only=False)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for rec, runs in sessions:
            fits = [fit_run_variants(data, tr, space.affine, variants, support)
                    for data in runs]
            for v in variants:
                effect = session_effect([f[v.label] for f in fits]).astype(np.float64)
                X, M = missing_to_zero(effect[plan.idx][None, :])
                values = chunk_metrics(X, M, plan, METRICS)
                for metric in METRICS:
                    for j, outcome in enumerate(OUTCOMES):
                        rows.append((v.label, rec["participant_id"], rec["session"], outcome,
                                     metric, float(values[metric][0, j])))
    scores = pd.DataFrame(rows, columns=["first_level", "participant_id", "session", "outcome",
                                         "metric", "response"])
    return scores, people


def replicate_multiverse(params, seed: int, replication: int, plan, grid: str = "book",
                         contrast: str = "MBSR_vs_HEP") -> pd.DataFrame:
    """One replication of the multiverse: a fresh trial through every specification of ``grid``.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters: preset (grid and design; the replications use
        ``calibration``) and world.
    seed : int
        Master seed (the replication's own is :func:`replication_seed`).
    replication : int
        Replication number.
    plan : mindpain.scoring.plan.Plan
        :func:`scoring_plan` of ``params``.
    grid : str
        First-level grid (:data:`~mindpain.multiverse.grid.GRIDS`).
    contrast : str
        ``"A_vs_B"``.

    Returns
    -------
    pandas.DataFrame
        One row per specification: ``replication`` and :data:`ROW_COLUMNS`.
    """
    from mindpain.core.vocabulary import METRICS
    from mindpain.multiverse.curve import participant_frame
    from mindpain.multiverse.models import estimate_specs

    world = params.world
    variants = first_level_variants(grid, world)
    scores, people = session_scores(params, replication_seed(seed, replication), variants, plan)
    rows = []
    for outcome in OUTCOMES:
        for v in variants:
            for metric in METRICS:
                sub = scores[(scores.first_level == v.label) & (scores.outcome == outcome)
                             & (scores.metric == metric)]
                frame = participant_frame(sub, people)
                labels = frame["group"].to_numpy()[None, :]
                for res in estimate_specs(frame, labels, contrast):
                    rows.append({
                        "replication": int(replication), "outcome": outcome,
                        "contrast": contrast, "world": world, "first_level": v.label,
                        "smoothing_fwhm": v.smoothing_fwhm or 0.0, "hrf_model": v.hrf_model,
                        "high_pass_s": v.high_pass_s, "confounds": v.confounds,
                        "metric": metric, "model": res["model"], "sample": res["sample"],
                        "covariates": res["covariates"], "estimate_d": res["d"][0],
                        "ci_low": res["ci_low"][0], "ci_high": res["ci_high"][0],
                        "p": res["p"][0], "n": res["n"]})
    return pd.DataFrame(rows, columns=["replication", *ROW_COLUMNS])

