r"""End-to-end calibration: the trial replicated through BOLD, first level, scoring and models.

The participant-level calibration (:func:`mindpain.trial_calibration.calibrate_trial`) draws the
observed signature responses directly from the twin's measurement model; it never passes
through BOLD. This stage replicates the whole trial ``R`` times **through the pipeline**,
in both worlds of the twin (``ideal``: the analysis model's own generator; ``realistic``:
motion, physiological noise, non-AR(1) noise, HRF differences, misregistration, trial
temperature, skewed responses and unequal arm variances; :mod:`mindpain.twin.nuisance`),
and in a third scenario, the ideal world with dropout that depends on baseline
(:data:`SCENARIOS`):

1. replication ``r`` gets its own seed, derived from the master seed
   (``derive_rng(seed, "endtoend", r)``; the same in every scenario, so they are paired);
   participants and their latent truth are drawn with it
   (:func:`~mindpain.twin.participants.draw_participants`,
   :func:`~mindpain.twin.participants.draw_truth`);
2. every run of every session of the trial's completers is simulated in memory by
   :func:`mindpain.twin.run.make_run` (the function behind the twin's files), with all
   of the world's nuisance;
3. each run is fitted by the first level's model (:mod:`mindpain.glm`: nilearn's design,
   mean scaling, AR(1) noise model with binned coefficients) with the first level's
   settings (:class:`mindpain.first_level.ModelSettings`), its implicit EPI mask and, in
   the realistic world, its confound selection (:data:`mindpain.first_level.MOTION_CONFOUNDS`);
   the run's onsets and confounds are rounded as the twin's files write them
   (:func:`run_events`, :func:`select_confounds`); **the BOLD is never written**;
4. the runs of a session are combined by fixed effects as the first level does (equal
   weights: the mean effect, inside the voxels every run's mask covers);
5. the session's hot>warm effect map is scored by the dot product with the open surrogate
   signatures resampled to the data grid (as :func:`mindpain.scoring.score_maps`);
6. the trial models are fitted on all replications at once and the 95% CI of every
   contrast's effect is put on the paper's scale (:mod:`mindpain.reported`) and checked
   against the twin's planted paper-scale effect
   (:func:`mindpain.twin.model.planted_trial_effects`).

What is computed differently from the first level, and why it does not matter
    Only the voxels that a signature weights are fitted (inside the run's implicit mask,
    which is computed on the whole image): every voxel's fit is independent of the others
    (its own scaling, AR(1) coefficient and binned model), so the fitted values there are
    those of a fit of the whole mask. The design is built from nilearn's own steps
    (:func:`fast_design`) with the HRF kernel and drift computed once, and the AR(1) model
    of all bins is fitted at once by a stacked QR decomposition (:func:`ar1_contrast`)
    instead of one nilearn model per bin. ``tests/test_endtoend.py`` checks the design
    equal to :func:`mindpain.glm.design_matrix` and the effects and variances equal to
    :func:`mindpain.glm.fit_arrays` to 1e-10 relative (they agree to about 1e-13), and
    the in-memory fit equal to the first level's on a run written by ``mindpain twin``.
    Together these cut a replication's cost several-fold (the profile is in
    ``benchmarks/results.md``).

Models and CIs (``model`` column)
    ``paper``: the model whose t reproduces the paper's d — between arms the difference in
    mean change over the **3-arm pooled** SD of change (df = completers − 3), within MBSR a
    one-sample t of change (df = n − 1); ``change_score``: Cohen's :math:`d_s` with the two
    arms' pooled SD (between) or :math:`d_z` (within); ``ancova`` and ``ancova_hc3``: the
    adjusted difference of ``post ~ arm + pre`` (classical and HC3 SE) over the change-score
    SD. Every CI inverts the noncentral t
    (:func:`mindpain.stats.effect_sizes.noncentral_t_ci`); a d on the change-score scale is
    put on the paper scale by the constant :math:`2/\sqrt{df\,(1/n_1 + 1/n_2)}` of the
    paper's completers (between arms; within: :math:`d_z` itself), the same constant that
    links ``planted_d`` and ``planted_d_paper``. The chapter's mixed model is not
    replicated (it is the intention-to-treat model of all sessions; the baseline-only
    sessions are not simulated here, for cost).

The calibration setting
    The ``calibration`` preset: the full design (every completer, session, run and trial of
    the twin) on a 15 mm grid instead of the book's 5 mm (``bold.voxel_size.calibration``
    in the parameter file); long-term meditators and baseline-only participants (not in
    the models replicated) are not simulated. The planted effects are derived for that grid
    (they are the same d on the observed scale).

Results are cached by a content key (:func:`content_key`: preset, seed, scenarios,
replications and a hash of the source of every module involved and of the parameter file);
``make calibrate`` computes them (one file per finished replication, so an interrupted run
resumes) and writes ``book/precomputed/trial_coverage_endtoend.tsv`` with its JSON sidecar
(key, columns, timing, check digests), and a copy under ``results/tables/``. When code in
the fingerprint changes without changing the numbers, ``make calibrate-rekey``
(:func:`rekey`) recomputes the check replications and, if they match, renews the key.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.config import PROJECT_ROOT, derive_rng
from mindpain.errors import MindpainError
from mindpain.vocabulary import WORLDS  # noqa: F401  (the worlds replicated; chapter 4)

#: Preset of the end-to-end calibration (full design, 15 mm grid).
ENDTOEND_PRESET = "calibration"
#: Dropout scenario: log odds ratio of dropping out per SD of the baseline nociceptive
#: response (:func:`mindpain.twin.participants.mar_dropout`), run in the ideal world.
MAR_LOG_ODDS = 1.0
#: The book's preset, whose analysis mask is measured beside the calibration grid's.
BOOK_GRID_PRESET = "full"
#: Scenarios replicated: name -> (world, dropout log odds or ``None`` for the twin's
#: parameter, share of the replications). The two worlds with the twin's dropout (completely
#: at random), and the ideal world with dropout that depends on baseline (MAR) on a quarter
#: of the replications.
SCENARIOS = {"ideal": ("ideal", None, 1.0), "realistic": ("realistic", None, 1.0),
             "ideal_mar": ("ideal", MAR_LOG_ODDS, 0.25)}
#: Outcomes scored (surrogate signatures) and analysed.
OUTCOMES = ("nps", "siips1")
#: Surrogate signature of each outcome.
SURROGATES = {"nps": "nps-surrogate", "siips1": "siips1-surrogate"}
#: Contrasts checked (the reported ones, plus SIIPS1's MBSR change for symmetry).
CONTRASTS = ("MBSR_vs_HEP", "MBSR_vs_WL", "MBSR_within")
#: Models whose CIs are checked.
MODELS = ("paper", "change_score", "ancova", "ancova_hc3")
#: How each model's CI is computed.
CI_METHODS = {
    "paper": "noncentral t of the paper's test (between: 3-arm pooled SD of change, df 88; "
             "within: one-sample t, df n-1)",
    "change_score": "noncentral t of Cohen's d_s (two-arm pooled SD) / d_z",
    "ancova": "noncentral t of the ANCOVA adjusted difference (classical SE) / change SD",
    "ancova_hc3": "noncentral t of the ANCOVA adjusted difference (HC3 SE) / change SD",
}
#: Replications per world by default (``make calibrate``).
DEFAULT_REPLICATIONS = 200
#: Where ``make calibrate`` writes the committed result.
PRECOMPUTED_DIR = PROJECT_ROOT / "book" / "precomputed"
#: File name of the coverage table (TSV; sidecar with the same stem, ``.json``).
TABLE_NAME = "trial_coverage_endtoend.tsv"
#: Columns of the coverage table and their meaning.
COLUMNS = {
    "scenario": "ideal, realistic, or ideal_mar (ideal world, dropout depending on baseline)",
    "world": "twin world: ideal (the analysis model's generator) or realistic",
    "dropout": "who misses the post session: at random (the twin's default) or, in ideal_mar, "
               "with log odds ratio MAR_LOG_ODDS per SD of the baseline nociceptive response",
    "outcome": "signature response (open surrogate): nps or siips1",
    "contrast": "MBSR_vs_HEP, MBSR_vs_WL (difference in pre-to-post change) or MBSR_within",
    "model": "trial model whose CI is checked (see ci_method)",
    "reported": "whether the paper reports this contrast (mindpain.reported.REPORTED)",
    "ci_method": "how the 95% CI is computed",
    "replications": "replications of the trial through BOLD, first level and scoring",
    "coverage": "share of replications whose 95% CI (paper scale) contains planted_d_paper",
    "mc_se": "Monte-Carlo SE of coverage, sqrt(c (1 - c) / replications)",
    "planted_d_paper": "the twin's planted effect on the paper's scale (calibration preset, "
                       "read over the twin's whole mask)",
    "mean_estimate": "mean estimate over replications, paper scale",
    "mean_estimate_se": "Monte-Carlo SE of mean_estimate (SD / sqrt(replications))",
    "bias": "mean_estimate - planted_d_paper",
    "mean_ci_width": "mean width of the 95% CI, paper scale",
    "reported_d": "the paper's reported d (paper scale), where reported",
    "planted_d_paper_in_mask": "the planted effect as a scorer sees it that reads only the "
                               "voxels the analysis's implicit mask keeps (mask_effects)",
    "coverage_in_mask": "share of replications whose 95% CI contains planted_d_paper_in_mask",
    "mc_se_in_mask": "Monte-Carlo SE of coverage_in_mask",
    "bias_in_mask": "mean_estimate - planted_d_paper_in_mask",
}


# ---------------------------------------------------------------- one replication


def replication_seed(seed: int, replication: int) -> int:
    """Seed of one replication, derived from the master seed (the same in both worlds)."""
    return int(derive_rng(seed, "endtoend", int(replication)).integers(2**31 - 1))


def surrogate_weights(preset: str = ENDTOEND_PRESET, data_dir=None) -> np.ndarray:
    """Surrogate NPS and SIIPS1 weights on the twin's grid, one column each (C-order voxels).

    The weights are resampled to the data grid exactly as :func:`mindpain.scoring.score_maps`
    does (same plan); a session's score is the dot product of its effect map with a column.
    """
    from mindpain.scoring.plan import build_plan, signature_columns
    from mindpain.signatures import get_signature
    from mindpain.twin.patterns import generator_space

    space = generator_space(preset)
    sigs = [get_signature(SURROGATES[o], data_dir) for o in OUTCOMES]
    cols = signature_columns(sigs, False)
    plan = build_plan(sigs, cols, list(range(len(cols))), space.shape, space.affine)
    weights = np.zeros((int(np.prod(space.shape)), len(cols)))
    weights[plan.idx] = plan.W
    return weights


def _as_written(values: pd.Series, fmt: str) -> np.ndarray:
    """Float values as a TSV written with ``fmt`` gives them back (the twin's files)."""
    return np.array([float(fmt % v) for v in values.to_numpy(float)])


def run_events(events: pd.DataFrame) -> pd.DataFrame:
    """Return a simulated run's events as the first level reads them from the twin's file.

    The twin writes onsets and durations with ``%.3f``;
    :func:`mindpain.bids.load_run_events` keeps ``onset, duration, trial_type``. The same
    values, without the file.
    """
    return pd.DataFrame({"onset": _as_written(events["onset"], "%.3f"),
                         "duration": _as_written(events["duration"], "%.3f"),
                         "trial_type": events["trial_type"].astype(str).to_numpy()})


def select_confounds(confounds: pd.DataFrame, columns) -> pd.DataFrame:
    """Return a run's confound selection as the first level reads it from the twin's file.

    The twin writes confounds with ``%.6g``; :func:`mindpain.bids.load_confounds` expands
    patterns (``motion_outlier*``) and sets the leading ``n/a`` of derivative columns to 0.
    The same values, without the file.
    """
    from mindpain.bids import expand_confound_columns

    cols = expand_confound_columns(columns, confounds.columns)
    values = confounds[cols].to_numpy(float)
    written = np.array(list(map("{:.6g}".format, values.ravel().tolist())),
                       dtype=float).reshape(values.shape)
    return pd.DataFrame(np.nan_to_num(written, nan=0.0), columns=cols, index=confounds.index)


@lru_cache(maxsize=8)
def _drift(n_scans: int, tr: float, drift_model: str, high_pass: float) -> pd.DataFrame:
    """Return the drift columns of a run's design (cosines, constant; the same in every run)."""
    from mindpain.glm import design_matrix

    return design_matrix(None, n_scans, tr, drift_model=drift_model, high_pass=high_pass)


def fast_design(events: pd.DataFrame, n_scans: int, tr: float, settings,
                confounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the first level's design matrix (:func:`mindpain.glm.design_matrix`), faster.

    The same steps as :func:`nilearn.glm.first_level.make_first_level_design_matrix` for
    events of unit modulation without duplicates (the twin's): the conditions' regressors
    (:func:`mindpain.twin.bold.convolved_conditions`), then the confounds, then the drift
    columns (the same for every run, computed once), checked for full rank as nilearn
    does. Equal to
    :func:`mindpain.glm.design_matrix` (``tests/test_endtoend.py``).
    """
    from nilearn.glm._utils import full_rank

    from mindpain.glm import MIN_ONSET, frame_times
    from mindpain.twin.bold import convolved_conditions

    times = frame_times(n_scans, tr)
    conditions = convolved_conditions(events, times, settings.hrf_model, 50, MIN_ONSET)
    columns, names = [conditions.to_numpy()], conditions.columns.tolist()
    if confounds is not None:
        columns.append(confounds.to_numpy(float))
        names += confounds.columns.tolist()
    drift = _drift(n_scans, float(tr), settings.drift_model, float(settings.high_pass))
    matrix, _ = full_rank(np.hstack(columns + [drift.to_numpy()]))
    return pd.DataFrame(matrix, columns=names + drift.columns.tolist(), index=times)


def ar1_contrast(Y: np.ndarray, X: np.ndarray, contrast: np.ndarray,
                 bins: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Effect and variance of one contrast per voxel: nilearn's AR(1) GLM, all bins at once.

    The steps of :func:`mindpain.glm.fit_arrays` (``noise_model="ar1"``,
    ``signal_scaling=0``) and :meth:`mindpain.glm.RunFit.contrast`: mean scaling, an OLS fit,
    each voxel's Yule-Walker AR(1) coefficient binned to ``1/bins``, the AR(1)-whitened
    model of each bin (nilearn's :class:`~nilearn.glm.regression.ARModel`: least squares on
    the whitened design, residual variance over ``n - p``) and the t-contrast's effect and
    variance. The bins' least-squares fits are computed at once, by a stacked QR
    decomposition (a stacked pseudo-inverse, as nilearn's, if a whitened design is rank
    deficient), instead of one model per bin; the values agree with
    :func:`mindpain.glm.fit_arrays` to rounding (``tests/test_endtoend.py``).

    Parameters
    ----------
    Y : numpy.ndarray
        ``(n_scans, n_voxels)`` raw signal.
    X : numpy.ndarray
        ``(n_scans, p)`` design.
    contrast : numpy.ndarray
        ``(p,)`` contrast weights.
    bins : int
        AR(1) bins (nilearn's default).

    Returns
    -------
    tuple of numpy.ndarray
        ``(effect, variance)``, one value per voxel.
    """
    from nilearn.glm.first_level import mean_scaling

    from mindpain.glm import yule_walker

    Y, _ = mean_scaling(np.asarray(Y), 0)
    Y = np.asarray(Y, np.float64)  # scaled in the data's precision, fitted in float64
    X = np.asarray(X, np.float64)
    n, p = X.shape
    rcond = max(n, p) * np.finfo(np.float64).eps  # scipy.linalg.pinv's default cut-off
    resid = Y - X @ (np.linalg.pinv(X, rcond=rcond) @ Y)
    rho = yule_walker(resid.T, 1)[:, 0]
    values, inverse = np.unique((rho * bins).astype(int) * 1.0 / bins, return_inverse=True)
    wX = np.repeat(X[None], values.size, axis=0)
    wX[:, 1:] = wX[:, 1:] - values[:, None, None] * X[None, :-1]
    r = values[inverse]
    wY = Y.copy()
    wY[1:] = wY[1:] - r[None, :] * Y[:-1]
    q, tri = np.linalg.qr(wX)  # (bins, n, p), (bins, p, p)
    diag = np.abs(np.diagonal(tri, axis1=1, axis2=2))
    if (diag.min(1) > 1e-10 * diag.max(1)).all():
        # full rank: pinv(wX) = R^-1 Q'; contrast c' R^-1 = a', variance a'a x dispersion
        z = np.einsum("vnp,nv->pv", q[inverse], wY)
        wresid = wY - np.einsum("vnp,pv->nv", q[inverse], z)
        a = np.linalg.solve(np.swapaxes(tri, 1, 2), np.broadcast_to(
            contrast, (values.size, p))[..., None])[..., 0]  # (bins, p)
        effect = np.einsum("vp,pv->v", a[inverse], z)
        c_cov_c = (a**2).sum(1)
    else:  # rank-deficient design: nilearn's pseudo-inverse
        pinv = np.linalg.pinv(wX, rcond=rcond)  # (bins, p, n)
        beta = np.einsum("vpn,nv->pv", pinv[inverse], wY)
        wresid = wY - np.einsum("vnp,pv->nv", wX[inverse], beta)
        effect = contrast @ beta
        c_cov_c = ((contrast @ pinv) ** 2).sum(1)
    dispersion = (wresid**2).sum(0) / (n - p)
    variance = c_cov_c[inverse] * dispersion
    return effect, variance


def fit_run_in_memory(data, tr: float, confound_columns, affine=None,
                      voxels=None, settings=None, fast: bool = True):
    """Fit one simulated run as the first level does, without writing its BOLD.

    Parameters
    ----------
    data : mindpain.twin.run.RunData
        The run (events, int16 BOLD on the grid, confounds or ``None``).
    tr : float
        Repetition time (s).
    confound_columns : sequence of str
        Confound selection (:data:`mindpain.first_level.MOTION_CONFOUNDS`), used when the run
        has confounds.
    affine : numpy.ndarray, optional
        The grid's affine (default: identity; the implicit mask does not depend on it).
    voxels : numpy.ndarray, optional
        Boolean grid: fit only these voxels (inside the implicit mask). Every voxel's fit is
        independent of the others (its own scaling, AR(1) coefficient and binned model), so
        the fitted values at these voxels equal those of a fit of the whole mask.
    settings : mindpain.first_level.ModelSettings, optional
        First-level settings (default: the first level's; AR(1) noise model, mean scaling).
    fast : bool
        Build the design with :func:`fast_design` and fit it with :func:`ar1_contrast`
        (default); ``False``: :func:`mindpain.glm.design_matrix` and
        :func:`mindpain.glm.fit_arrays`, the first level's own functions. Both give the same
        numbers (``tests/test_endtoend.py``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(mask, effect, variance)``: the voxels fitted (the run's implicit mask, within
        ``voxels``; grid shape, bool) and the hot - warm effect and its variance there
        (C order).
    """
    from mindpain.first_level import ModelSettings
    from mindpain.glm import design_matrix, fit_arrays

    settings = settings or ModelSettings()
    bold = np.asarray(data.bold, dtype=np.float32)
    n_scans = bold.shape[3]
    events = run_events(data.events)
    confounds = None
    if data.confounds is not None:
        confounds = select_confounds(data.confounds, confound_columns)
    mask = run_mask(bold, affine, fast)
    if voxels is not None:
        mask &= voxels
    Y = bold[mask].T
    if fast and settings.noise_model == "ar1" and settings.signal_scaling == 0:
        design = fast_design(events, n_scans, tr, settings, confounds)
        vector = np.array([{"hot": 1.0, "warm": -1.0}.get(c, 0.0) for c in design.columns])
        effect, variance = ar1_contrast(Y, design.to_numpy(), vector)
        return mask, effect, variance
    design = design_matrix(events, n_scans, tr, hrf_model=settings.hrf_model,
                           drift_model=settings.drift_model, high_pass=settings.high_pass,
                           confounds=confounds)
    fit = fit_arrays(Y, design, noise_model=settings.noise_model,
                     signal_scaling=settings.signal_scaling)
    effect, variance = fit.contrast("hot - warm")
    return mask, effect, variance


def run_mask(bold: np.ndarray, affine=None, fast: bool = True) -> np.ndarray:
    """Return the first level's implicit mask of one run (boolean, grid shape).

    nilearn's ``compute_multi_epi_mask`` of one image is its ``compute_epi_mask`` (the
    intersection of one mask, already connected, is that mask); ``fast=False`` calls the
    first level's own :func:`mindpain.glm.implicit_mask`. The mask does not depend on the
    affine (default: identity).
    """
    import nibabel as nib
    from nilearn.masking import compute_epi_mask

    from mindpain.glm import implicit_mask

    img = nib.Nifti1Image(np.asarray(bold, dtype=np.float32),
                          np.eye(4) if affine is None else affine)
    return np.asarray((compute_epi_mask(img) if fast else implicit_mask(img)).dataobj,
                      dtype=bool)


def session_effect(fits) -> np.ndarray:
    """Combine a session's runs by fixed effects (equal weights), as the first level does.

    ``fits`` holds ``(mask, effect, variance)`` per run. Returns the session's effect on the
    whole grid (C-order, float32): the mean run effect inside the voxels every run covers
    with a finite positive variance, 0 elsewhere.
    """
    shape = fits[0][0].shape
    covered = np.ones(shape, bool)
    effects = []
    for mask, effect, variance in fits:
        vol_e = np.zeros(shape)
        vol_v = np.zeros(shape)
        vol_e[mask], vol_v[mask] = effect, variance
        covered &= np.isfinite(vol_v) & (vol_v > 0)
        effects.append(vol_e)
    out = np.where(covered, np.mean(effects, axis=0), 0.0)
    return out.astype(np.float32).reshape(-1)


def replicate(preset: str, seed: int, world: str, replication: int,
              weights: np.ndarray, dropout_log_odds: float | None = None) -> pd.DataFrame:
    """One replication of the trial through the pipeline, in memory.

    Parameters
    ----------
    preset : str
        Twin preset (:data:`ENDTOEND_PRESET`).
    seed : int
        Master seed.
    world : {"ideal", "realistic"}
        Twin world.
    replication : int
        Replication number (its seed is :func:`replication_seed`).
    weights : numpy.ndarray
        :func:`surrogate_weights` of the preset.
    dropout_log_odds : float, optional
        Dropout that depends on baseline
        (:func:`mindpain.twin.participants.draw_participants`); default: the twin's.

    Returns
    -------
    pandas.DataFrame
        One row per completer and session: ``replication, participant_id, session, group``
        and the outcomes :data:`OUTCOMES`.
    """
    from threadpoolctl import threadpool_limits

    from mindpain.first_level import MOTION_CONFOUNDS
    from mindpain.twin.patterns import generator_space

    rep_seed = replication_seed(seed, replication)
    affine = generator_space(preset).affine
    support = (weights != 0).any(1).reshape(generator_space(preset).shape)
    tr, sessions = _completer_sessions(preset, rep_seed, world, dropout_log_odds)
    rows = []
    with threadpool_limits(limits=1, user_api="blas"):
        for rec, runs in sessions:
            fits = [fit_run_in_memory(data, tr, MOTION_CONFOUNDS, affine, support)
                    for data in runs]
            scores = session_effect(fits).astype(np.float64) @ weights
            rows.append({"replication": int(replication), "participant_id":
                         rec["participant_id"], "session": rec["session"],
                         "group": rec["group"],
                         **{o: float(s) for o, s in zip(OUTCOMES, scores, strict=True)}})
    return pd.DataFrame(rows)


def _completer_sessions(preset: str, rep_seed: int, world: str,
                        dropout_log_odds: float | None = None) -> tuple:
    """Return ``(tr, sessions)`` of one replication.

    ``sessions`` yields each trial completer's session record (its latent truth) and a
    generator of its simulated runs (:func:`mindpain.twin.run.make_run`), made only when
    iterated.
    """
    from mindpain.twin.params import load_parameters
    from mindpain.twin.participants import draw_participants, draw_truth
    from mindpain.twin.run import make_run
    from mindpain.vocabulary import ARMS

    params = load_parameters(preset, world)
    participants = draw_participants(preset, rep_seed, world, dropout_log_odds)
    truth = draw_truth(participants, preset, rep_seed, world=world)
    keep = participants[participants["group"].isin(ARMS) & participants["completed_post"]]
    hot = keep.set_index("participant_id")["hot_temperature"]
    truth = truth[truth["participant_id"].isin(hot.index)]
    runs = range(1, params["task.n_runs"] + 1)
    sessions = ((rec, (make_run(preset, rep_seed, rec, run, float(hot[rec["participant_id"]]),
                                world) for run in runs))
                for rec in truth.to_dict("records"))
    return float(params["task.repetition_time"]), sessions


def analysis_mask(preset: str, seed: int, world: str = "ideal",
                  n_sessions: int = 6) -> tuple[np.ndarray, list]:
    """Measure on simulated runs which of the twin's voxels the analysis reads.

    The first level fits only the voxels of each run's implicit mask
    (:func:`run_mask`) and the session map holds the voxels every run keeps
    (:func:`session_effect`); the scorer then sees the signature's weights in those voxels
    only. This simulates the first ``n_sessions`` completer sessions of replication 0
    (seed :func:`replication_seed`) and returns the voxels of the generator's mask that every
    one of their runs keeps.

    Returns
    -------
    tuple
        ``(keep, counts)``: boolean over the generator's in-mask voxels, and each session's
        number of voxels kept (grid-wide, so it may include voxels outside the twin's mask).
    """
    from itertools import islice

    from mindpain.twin.patterns import generator_space

    gen = generator_space(preset)
    _, sessions = _completer_sessions(preset, replication_seed(seed, 0), world)
    keep, counts = np.ones(gen.shape, bool), []
    for _, runs in islice(sessions, n_sessions):
        session = np.logical_and.reduce([run_mask(data.bold, gen.affine) for data in runs])
        counts.append(int(session.sum()))
        keep &= session
    return keep[gen.mask], counts


def mask_effects(preset: str, seed: int, world: str = "ideal",
                 n_sessions: int = 6) -> pd.DataFrame:
    """Planted effects as read through the analysis's mask (:func:`analysis_mask`).

    The generator plants each effect in signature units read over the twin's whole mask
    (:func:`mindpain.twin.model.planted_trial_effects`); a map that holds fewer voxels reads
    a different effect (a weighted share of the pattern is lost, and with it part of the
    session noise). Returns one row per :data:`OUTCOMES` and :data:`CONTRASTS` with
    ``planted_d_paper`` (whole mask), ``planted_d_paper_in_mask``, and
    ``analysis_mask_voxels`` / ``twin_mask_voxels``.
    """
    from mindpain.truth import planted_trial_effects

    keep, _ = analysis_mask(preset, seed, world, n_sessions)
    whole = planted_trial_effects(preset).set_index(["outcome", "contrast"])
    seen = planted_trial_effects(preset, keep).set_index(["outcome", "contrast"])
    rows = [{"world": world, "outcome": o, "contrast": c,
             "planted_d_paper": float(whole.loc[(o, c), "planted_d_paper"]),
             "planted_d_paper_in_mask": float(seen.loc[(o, c), "planted_d_paper"]),
             "analysis_mask_voxels": int(keep.sum()), "twin_mask_voxels": int(keep.size)}
            for o in OUTCOMES for c in CONTRASTS]
    return pd.DataFrame(rows)


def _timed_replicate(*args) -> tuple:
    start, cpu = time.perf_counter(), time.process_time()
    out = replicate(*args)
    return out, time.perf_counter() - start, time.process_time() - cpu


# ---------------------------------------------------------------- models and coverage


def _paper_factor(contrast: str) -> float:
    """Constant from a change-score d to the paper's scale (1 within an arm)."""
    from mindpain.reported import DF_BETWEEN, N_COMPLETERS

    if contrast.endswith("_within"):
        return 1.0
    a, b = contrast.split("_vs_")
    return float(2.0 / np.sqrt(DF_BETWEEN * (1 / N_COMPLETERS[a] + 1 / N_COMPLETERS[b])))


def replication_estimates(scores: pd.DataFrame) -> pd.DataFrame:
    """Estimates and 95% CIs on the paper's scale of every contrast and model, per replication.

    Parameters
    ----------
    scores : pandas.DataFrame
        Output of :func:`replicate` for many replications (one world).

    Returns
    -------
    pandas.DataFrame
        ``replication, outcome, contrast, model, estimate, ci_low, ci_high`` (paper scale).
    """
    from mindpain.stats.effect_sizes import noncentral_t_ci
    from mindpain.trial_calibration import _arrays, calibration_estimates, paper_test

    # Arms are randomized anew in every replication: give the completers of each arm the
    # same labels in every replication, so the replications stack column by column.
    scores = scores.sort_values(["replication", "group", "participant_id", "session"])
    rank = scores.groupby(["replication", "group"])["participant_id"].rank(method="dense")
    scores = scores.assign(participant_id=scores["group"] + "-"
                           + rank.astype(int).astype(str).str.zfill(3))
    frames = []
    for outcome in OUTCOMES:
        est = calibration_estimates(scores, outcome)
        est = est[est["contrast"].isin(CONTRASTS)].copy()
        reps = np.sort(scores["replication"].unique())
        est["replication"] = reps[est["replication"].to_numpy()]
        factor = est["contrast"].map(_paper_factor)
        est = est.rename(columns={"estimate_d": "estimate"})
        for col in ("estimate", "ci_low", "ci_high"):
            est[col] = est[col] * factor
        frames.append(est.assign(outcome=outcome))
        # the paper's test: 3-arm pooled SD between arms, one-sample t within MBSR
        pre, post, arm = _arrays(scores, outcome)
        for contrast in CONTRASTS:
            t, df, scale = paper_test(post - pre, arm, contrast)
            lo, hi = noncentral_t_ci(t, df)
            k = scale * _paper_factor(contrast)  # noncentrality -> d -> paper scale
            frames.append(pd.DataFrame({"replication": reps, "outcome": outcome,
                                        "contrast": contrast, "model": "paper",
                                        "estimate": t * k, "ci_low": lo * k,
                                        "ci_high": hi * k}))
    out = pd.concat(frames, ignore_index=True)
    return out[["replication", "outcome", "contrast", "model", "estimate", "ci_low",
                "ci_high"]]


def coverage_table(scores_by_scenario: dict, preset: str = ENDTOEND_PRESET,
                   scenarios: dict | None = None, in_mask: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Coverage of the planted paper-scale effects, per scenario, outcome, contrast and model.

    Parameters
    ----------
    scores_by_scenario : dict
        ``{scenario: scores}`` with ``scores`` from :func:`replicate` (many replications).
    preset : str
        Preset whose planted effects are the truth.
    scenarios : dict, optional
        :data:`SCENARIOS`-like description of the scenarios (default :data:`SCENARIOS`).
    in_mask : pandas.DataFrame, optional
        :func:`mask_effects` of each world (concatenated): the planted effects as read
        through the analysis's mask, a second truth whose coverage is reported beside the
        first (columns ``*_in_mask``; missing when not given).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`.
    """
    from mindpain.reported import REPORTED
    from mindpain.truth import planted_trial_effects

    scenarios = SCENARIOS if scenarios is None else scenarios
    planted = planted_trial_effects(preset).set_index(["outcome", "contrast"])
    reported = {(c.outcome, c.contrast): c.d for c in REPORTED}
    rows = []
    for scenario, scores in scores_by_scenario.items():
        world, log_odds = scenarios[scenario][:2]
        dropout = ("at random" if not log_odds else
                   f"MAR: log odds ratio {log_odds:g} per SD of baseline")
        est = replication_estimates(scores)
        for (outcome, contrast, model), g in est.groupby(["outcome", "contrast", "model"],
                                                         sort=False):
            truth = float(planted.loc[(outcome, contrast), "planted_d_paper"])
            covered = (g["ci_low"] <= truth) & (truth <= g["ci_high"])
            r = len(g)
            c = float(covered.mean())
            mean = float(g["estimate"].mean())
            seen = np.nan if in_mask is None else float(
                in_mask.set_index(["world", "outcome", "contrast"]).loc[
                    (world, outcome, contrast), "planted_d_paper_in_mask"])
            covered_seen = (g["ci_low"] <= seen) & (seen <= g["ci_high"])
            c_seen = float(covered_seen.mean()) if in_mask is not None else np.nan
            rows.append({
                "scenario": scenario, "world": world, "dropout": dropout,
                "outcome": outcome, "contrast": contrast, "model": model,
                "reported": (outcome, contrast) in reported, "ci_method": CI_METHODS[model],
                "replications": r, "coverage": c, "mc_se": float(np.sqrt(c * (1 - c) / r)),
                "planted_d_paper": truth, "mean_estimate": mean,
                "mean_estimate_se": float(g["estimate"].std(ddof=1) / np.sqrt(r)),
                "bias": mean - truth,
                "mean_ci_width": float((g["ci_high"] - g["ci_low"]).mean()),
                "reported_d": reported.get((outcome, contrast), np.nan),
                "planted_d_paper_in_mask": seen, "coverage_in_mask": c_seen,
                "mc_se_in_mask": float(np.sqrt(c_seen * (1 - c_seen) / r)),
                "bias_in_mask": mean - seen})
    table = pd.DataFrame(rows)
    order = {"scenario": list(scenarios), "outcome": OUTCOMES, "contrast": CONTRASTS,
             "model": MODELS}
    table = table.sort_values(list(order), key=lambda s: s.map(
        {v: k for k, v in enumerate(order[s.name])}), kind="stable")
    return table[list(COLUMNS)].reset_index(drop=True)


# ---------------------------------------------------------------- running and caching


def code_files() -> list[Path]:
    """Source files the end-to-end result depends on (hashed into the content key).

    This module and every package module it imports, transitively, with the twin's parameter
    file (:func:`mindpain.io.code_closure`).
    """
    from mindpain.io import code_closure

    return code_closure(__name__)


def scenario_replications(n_replications: int, scenarios: dict | None = None) -> dict:
    """Replications of each scenario: its share of ``n_replications`` (at least 3)."""
    scenarios = SCENARIOS if scenarios is None else scenarios
    return {name: max(3, int(round(share * n_replications)))
            for name, (_, _, share) in scenarios.items()}


def content_key(preset: str, seed: int, n_replications: int, scenarios=None) -> dict:
    """Key of an end-to-end result: preset, seed, scenarios, replications, code fingerprint.

    The fingerprint (:func:`mindpain.io.code_fingerprint`) covers the code of every module
    involved (twin, GLM, first level, scoring, signatures, trial models; docstrings and
    comments do not count) and the twin's parameter file.
    """
    from mindpain.io import code_fingerprint

    scenarios = SCENARIOS if scenarios is None else scenarios
    return {"preset": preset, "seed": int(seed),
            "scenarios": {k: list(v) for k, v in scenarios.items()},
            "n_replications": int(n_replications), "outcomes": list(OUTCOMES),
            "contrasts": list(CONTRASTS), "models": list(MODELS),
            "code": code_fingerprint(code_files())}


def cache_folder(root, key: dict) -> Path:
    """Folder of the per-replication files of ``key`` under ``root``.

    Named by what the replications are (preset, seed, scenarios, outcomes, contrasts,
    models), not by the code: the code fingerprint is kept in the folder's ``code.json``
    and checked by :func:`_check_cache_code` before a run reuses the files.
    """
    stem = {k: v for k, v in key.items() if k not in ("n_replications", "code")}
    tag = hashlib.sha256(json.dumps(stem, sort_keys=True).encode()).hexdigest()[:16]
    return Path(root) / f"endtoend-{key['preset']}-seed-{key['seed']}-{tag}"


def _check_cache_code(folder: Path, key: dict, scenarios: dict, weights) -> None:
    """Make the per-replication files in ``folder`` safe to reuse with the current code.

    Files written by other code are kept only if the current code reproduces them:
    replication 0 of every scenario on disk is recomputed and compared (scores to 12
    significant digits, :func:`scores_digest`); if all match, the folder is re-labelled
    with the current code, otherwise it is renamed ``*.stale-<code>`` and the run starts
    afresh. A folder without a label is treated as stale.
    """
    from mindpain.io import write_json

    label = folder / "code.json"
    if not folder.exists():
        folder.mkdir(parents=True)
        write_json(label, {"code": key["code"]})
        return
    try:
        code = json.loads(label.read_text()).get("code")
    except (OSError, ValueError):
        code = None
    if code == key["code"]:
        return
    same = code is not None
    for name, (world, log_odds, _) in scenarios.items():
        path = _replication_file(folder, name, 0)
        if same and path.is_file():
            stored = scores_digest(pd.read_csv(path, sep="\t"))
            fresh = scores_digest(replicate(key["preset"], key["seed"], world, 0, weights,
                                            log_odds))
            same = stored == fresh
    if not same:
        folder.rename(folder.with_name(f"{folder.name}.stale-{(code or 'unknown')[:12]}"))
        folder.mkdir(parents=True)
    write_json(label, {"code": key["code"]})


def _replication_file(folder: Path, scenario: str, replication: int) -> Path:
    return Path(folder) / scenario / f"replication-{int(replication):05d}.tsv"


def _run_one(preset, seed, scenario, spec, replication, weights, folder) -> tuple:
    """Compute one replication of one scenario and write it atomically (worker task)."""
    from mindpain.io import write_json, write_tsv

    start, cpu = time.perf_counter(), time.process_time()
    frame = replicate(preset, seed, spec[0], replication, weights, spec[1])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    path = _replication_file(folder, scenario, replication)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_json(path.with_suffix(".json"), {"wall_s": wall, "cpu_s": cpu})
    write_tsv(path, frame)
    return wall, cpu


def _cached_timing(folder: Path, scenarios, wanted: dict) -> tuple[list, list]:
    """Wall and CPU seconds of the cached replications that recorded them."""
    walls, cpus = [], []
    for name in scenarios:
        for r in range(wanted[name]):
            try:
                rec = json.loads(_replication_file(folder, name, r).with_suffix(".json")
                                 .read_text())
            except (OSError, ValueError):
                continue
            walls.append(float(rec["wall_s"]))
            cpus.append(float(rec["cpu_s"]))
    return walls, cpus


def scores_digest(scores: pd.DataFrame) -> str:
    """sha256 of one replication's scores written with 12 significant digits."""
    text = scores.to_csv(sep="\t", index=False, float_format="%.12g", lineterminator="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def run_endtoend(seed: int, n_replications: int = DEFAULT_REPLICATIONS,
                 preset: str = ENDTOEND_PRESET, scenarios=None, n_jobs: int = 1,
                 progress: bool = False, budget_s: float | None = None,
                 data_dir=None, cache_root=None, book_grid: bool = False) -> tuple:
    """Replicate the trial through the pipeline in every scenario and measure coverage.

    Replication ``r`` of every scenario uses the seed :func:`replication_seed` (the
    scenarios are paired). Each finished replication is written to its own file under
    :func:`cache_folder` (``cache_root``; default: a temporary folder removed at the end),
    so an interrupted run resumes where it stopped: replications already on disk are read,
    not recomputed (after a code change, only if the new code reproduces them,
    :func:`_check_cache_code`). Tasks run in joblib workers (``n_jobs``), in the order in
    which the scenarios' shares make them due; with ``budget_s``, no new batch starts once
    that many seconds have passed, and the replications finished are kept (the table
    reports how many). The planted effects as read through the analysis's mask
    (:func:`mask_effects`) are measured in each world; with ``book_grid``, also on the
    book's grid (:data:`BOOK_GRID_PRESET`), for comparison.

    Returns
    -------
    tuple
        ``(table, scores, timing)``: the coverage table (:func:`coverage_table`), the
        per-session scores of every scenario (with a ``scenario`` column) and a timing dict
        (``replications`` per scenario, ``wall_s`` of this call, ``tasks_computed`` by it,
        mean ``task_wall_s`` and ``task_cpu_s`` of one replication of one scenario over
        the ``tasks_timed`` cached replications that recorded them, ``n_jobs``).
    """
    import tempfile

    from joblib import Parallel, delayed
    from tqdm import tqdm

    scenarios = SCENARIOS if scenarios is None else scenarios
    weights = surrogate_weights(preset, data_dir)
    wanted = scenario_replications(n_replications, scenarios)
    tmp = None
    if cache_root is None:
        tmp = tempfile.TemporaryDirectory(prefix="mindpain-endtoend-")
        cache_root = tmp.name
    key = content_key(preset, seed, n_replications, scenarios)
    folder = cache_folder(cache_root, key)
    _check_cache_code(folder, key, scenarios, weights)
    # replication r of a scenario with share s is due at r / s: a budgeted run keeps the
    # scenarios' replications in proportion to their shares
    tasks = sorted(((name, r) for name in scenarios for r in range(wanted[name])),
                   key=lambda t: (t[1] / scenarios[t[0]][2], list(scenarios).index(t[0])))
    todo = [t for t in tasks if not _replication_file(folder, *t).is_file()]
    walls, cpus = [], []
    start = time.perf_counter()
    batch = max(2 * int(n_jobs), 2)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="replication",
               desc="end-to-end replications", disable=not progress)
    with Parallel(n_jobs=n_jobs) as parallel:
        for i in range(0, len(todo), batch):
            if budget_s is not None and time.perf_counter() - start > budget_s:
                break
            chunk = todo[i:i + batch]
            out = parallel(delayed(_run_one)(preset, seed, name, scenarios[name], r, weights,
                                             folder) for name, r in chunk)
            for wall, cpu in out:
                walls.append(wall)
                cpus.append(cpu)
            bar.update(len(chunk))
    bar.close()
    scores, done = {}, {}
    for name in scenarios:
        reps = [r for r in range(wanted[name]) if _replication_file(folder, name, r).is_file()]
        if len(reps) < 3:
            raise MindpainError(f"only {len(reps)} replication(s) of scenario {name} finished;"
                                " at least 3 are needed", folder)
        scores[name] = pd.concat([pd.read_csv(_replication_file(folder, name, r), sep="\t")
                                  for r in reps], ignore_index=True)
        done[name] = len(reps)
    worlds = dict.fromkeys(spec[0] for spec in scenarios.values())
    in_mask = pd.concat([mask_effects(preset, seed, w) for w in worlds], ignore_index=True)
    # the same measurement on the book's grid, for comparison (two sessions suffice: the
    # mask is the same in every session of the ideal world)
    book = mask_effects(BOOK_GRID_PRESET, seed, "ideal", n_sessions=2) if book_grid else None
    table = coverage_table(scores, preset, scenarios, in_mask)
    digests = {name: [scores_digest(s[s["replication"] == r].reset_index(drop=True))
                      for r in range(min(2, done[name]))] for name, s in scores.items()}
    tasks_computed = len(walls)
    walls, cpus = _cached_timing(folder, scenarios, wanted)
    timing = {"replications": done, "requested_replications": wanted,
              "wall_s": round(time.perf_counter() - start, 1), "n_jobs": int(n_jobs),
              "tasks_computed": tasks_computed, "tasks_timed": len(walls),
              "task_wall_s_mean": round(float(np.mean(walls)), 2) if walls else None,
              "task_cpu_s_mean": round(float(np.mean(cpus)), 2) if walls else None,
              "check_digests": digests,
              "analysis_mask": _mask_summary(in_mask, book)}
    all_scores = pd.concat([s.assign(scenario=n) for n, s in scores.items()],
                           ignore_index=True)
    if tmp is not None:
        tmp.cleanup()
    return table, all_scores, timing


def _mask_summary(in_mask: pd.DataFrame, book_grid: pd.DataFrame | None) -> dict:
    """Summarise the analysis mask: voxels kept per world and on the book's grid.

    Counts are ``[kept, twin's mask]``; for the book's grid (if measured) also the largest
    change the mask makes to a planted effect there.
    """
    def kept(g):
        return [int(g["analysis_mask_voxels"].iloc[0]), int(g["twin_mask_voxels"].iloc[0])]

    out = {"worlds": {w: kept(g) for w, g in in_mask.groupby("world", sort=False)}}
    if book_grid is not None:
        shift = (book_grid["planted_d_paper_in_mask"] - book_grid["planted_d_paper"]).abs()
        out["book_grid"] = {"preset": BOOK_GRID_PRESET, "voxels": kept(book_grid),
                            "max_abs_change_d_paper": float(shift.max())}
    return out


def write_result(table: pd.DataFrame, folder, key: dict, timing: dict) -> Path:
    """Write the coverage table and its JSON sidecar (key, columns, timing) into ``folder``."""
    from mindpain.io import write_json, write_tsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / TABLE_NAME
    write_tsv(path, table)
    write_json(path.with_suffix(".json"), {
        "key": key, "columns": COLUMNS, "timing": timing,
        "made_by": "make calibrate (python -m mindpain.endtoend)"})
    return path


def load_result(folder, key: dict) -> tuple:
    """Read a committed end-to-end result; a missing or stale one raises a one-line error.

    ``key`` is compared field by field with the stored key, except ``n_replications``
    (read from the file: a budgeted run may have finished fewer than requested).

    Returns
    -------
    tuple
        ``(table, meta)``: the coverage table and the sidecar (key, columns, timing).

    Raises
    ------
    MindpainError
        When the files are absent or the key differs (the code, the twin's parameters, the
        preset or the seed changed): run ``make calibrate`` (or, when the change cannot
        alter the numbers, ``make calibrate-rekey``).
    """
    folder = Path(folder)
    meta_path = (folder / TABLE_NAME).with_suffix(".json")
    hint = (f"run `make calibrate SEED={key['seed']}` to recompute it (or `make "
            "calibrate-rekey` if the change cannot alter its numbers)")
    if not meta_path.is_file() or not (folder / TABLE_NAME).is_file():
        raise MindpainError(f"no precomputed end-to-end calibration; {hint}", meta_path)
    meta = json.loads(meta_path.read_text())
    stored = meta.get("key", {})
    changed = sorted(k for k in set(key) | set(stored)
                     if k != "n_replications" and key.get(k) != stored.get(k))
    if changed:
        raise MindpainError(f"precomputed end-to-end calibration is stale ({', '.join(changed)}"
                            f" changed); {hint}", meta_path)
    table = pd.read_csv(folder / TABLE_NAME, sep="\t", na_values="n/a")
    return table, meta


def rekey(folder=None, data_dir=None) -> dict:
    """Give a committed result the current code's key if the code still gives its numbers.

    Recomputes the replications whose digests the sidecar keeps
    (``timing.check_digests``: the first two of every scenario) with the current code and
    compares their scores (12 significant digits) with the stored digests. When every one
    matches, the sidecar's key gets the current code fingerprint; otherwise a one-line error
    says to recompute (``make calibrate``).

    Returns
    -------
    dict
        The new key.
    """
    from mindpain.io import write_json

    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    meta_path = (folder / TABLE_NAME).with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    old = meta["key"]
    scenarios = {k: tuple(v) for k, v in old["scenarios"].items()}
    weights = surrogate_weights(old["preset"], data_dir)
    for name, digests in meta["timing"]["check_digests"].items():
        for r, digest in enumerate(digests):
            got = scores_digest(replicate(old["preset"], old["seed"], scenarios[name][0], r,
                                          weights, scenarios[name][1]))
            if got != digest:
                raise MindpainError(f"replication {r} of scenario {name} differs with the "
                                    "current code; run `make calibrate`", meta_path)
    key = content_key(old["preset"], old["seed"], old["n_replications"], scenarios)
    meta["key"] = key
    write_json(meta_path, meta)
    return key


def load_or_run(cfg, folder=None, small_replications: int = 4) -> tuple:
    """Return the end-to-end coverage for the book.

    The full calibration costs about an hour, so the book reads the result that
    ``make calibrate`` committed under ``book/precomputed/`` and checks its key against the
    current code; the copy is also adopted into the results folder
    (:func:`mindpain.io.adopt`). The small twin (tests) is cheap and is computed
    here with ``small_replications``.

    Returns
    -------
    tuple
        ``(table, meta, from_disk)``.
    """
    if cfg.preset == "small":
        table, _, timing = run_endtoend(cfg.seed, small_replications, preset="small",
                                        data_dir=cfg.data_dir)
        return table, {"key": content_key("small", cfg.seed, small_replications),
                       "timing": timing}, False
    from mindpain.io import adopt
    from mindpain.trial import tables_dir

    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    key = content_key(ENDTOEND_PRESET, cfg.seed, DEFAULT_REPLICATIONS)
    table, meta = load_result(folder, key)
    adopt(tables_dir(cfg) / TABLE_NAME, meta["key"], folder)
    return table, meta, True


def main(argv=None) -> int:
    """``python -m mindpain.endtoend``: compute and write the end-to-end calibration."""
    from mindpain.config import get_config

    parser = argparse.ArgumentParser(prog="python -m mindpain.endtoend",
                                     description=main.__doc__)
    parser.add_argument("--preset", default=ENDTOEND_PRESET)
    parser.add_argument("--seed", default=None)
    parser.add_argument("--replications", type=int, default=DEFAULT_REPLICATIONS)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no new batch after this many minutes")
    parser.add_argument("--out", default=str(PRECOMPUTED_DIR))
    parser.add_argument("--cache", default=None,
                        help="folder of the per-replication files (resume; default "
                             "<work dir>/endtoend-cache)")
    parser.add_argument("--rekey", action="store_true",
                        help="check the committed result against the current code on its "
                             "check replications and, if they match, give it the new key")
    args = parser.parse_args(argv)
    overrides = {"preset": args.preset, "bids_dir": None}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.n_jobs is not None:
        overrides["n_jobs"] = args.n_jobs
    try:
        cfg = get_config(**overrides)
        if args.rekey:
            key = rekey(args.out, cfg.data_dir)
            print(f"{Path(args.out) / TABLE_NAME}: re-keyed (code {key['code'][:12]})")
            return 0
        budget = None if args.budget_minutes is None else 60 * args.budget_minutes
        # the key of the code that runs (taken before, so a later edit makes the result stale)
        key = content_key(cfg.preset, cfg.seed, args.replications)
        cache = Path(args.cache) if args.cache else Path(cfg.work_dir) / "endtoend-cache"
        table, _, timing = run_endtoend(cfg.seed, args.replications, preset=cfg.preset,
                                        n_jobs=cfg.n_jobs, progress=True, budget_s=budget,
                                        data_dir=cfg.data_dir, cache_root=cache,
                                        book_grid=True)
        path = write_result(table, args.out, key, timing)
        from mindpain.trial import tables_dir

        write_result(table, tables_dir(cfg), key, timing)
    except (MindpainError, OSError, KeyError, ValueError) as err:
        print(f"mindpain endtoend: {err}", file=sys.stderr)
        return 2
    print(f"wrote {path} (replications {timing['replications']}, {timing['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    # run the module's own copy, so joblib workers find its functions by their module name
    from mindpain.endtoend import main as _main

    sys.exit(_main())
