"""BOLD synthesis for one run of the twin, from the participant-level (latent) truth.

Uses only the generator's own space (:mod:`mindpain.twin.patterns`); it reads no signature
map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import ndimage, signal

from mindpain.core.vocabulary import TRIAL_TYPES
from mindpain.twin.patterns import LATENTS, GeneratorSpace, kernel_norm
from mindpain.twin.task import frame_times


@lru_cache(maxsize=8)
def _hrf_kernel(hrf_model: str, tr: float, oversampling: int) -> tuple:
    from nilearn.glm.first_level.hemodynamic_models import _hrf_kernel as kernel

    return tuple(kernel(hrf_model, tr, oversampling, [0]))


def convolved_conditions(events: pd.DataFrame, times: np.ndarray, hrf_model: str = "glover",
                         oversampling: int = 50, min_onset: float = -24.0) -> pd.DataFrame:
    """HRF-convolved condition regressors, as nilearn's design matrix computes them.

    The steps of :func:`nilearn.glm.first_level.make_first_level_design_matrix` for events
    of unit modulation without duplicate events (the twin's): per condition, in sorted
    order, the oversampled boxcar (nilearn's ``_sample_condition``), its convolution with
    nilearn's HRF kernel and its resampling at ``times`` (``_resample_regressor``). The
    same numbers, without the design matrix's event checks and tables; the kernel is
    computed once per TR.

    Parameters
    ----------
    events : pandas.DataFrame
        ``onset``, ``duration``, ``trial_type``.
    times : numpy.ndarray
        Frame times (s).
    hrf_model : str
        One-kernel HRF model of nilearn (``"glover"``, ``"spm"``).

    Returns
    -------
    pandas.DataFrame
        One column per condition (sorted names), one row per frame.
    """
    from nilearn.glm.first_level.hemodynamic_models import (
        _calculate_tr,
        _resample_regressor,
        _sample_condition,
    )

    kernel = _hrf_kernel(hrf_model, float(_calculate_tr(times)), int(oversampling))
    onset = events["onset"].to_numpy(float)
    duration = events["duration"].to_numpy(float)
    trial_type = events["trial_type"].to_numpy()
    names = np.unique(trial_type)
    columns = []
    for condition in names:
        sel = trial_type == condition
        high, high_times = _sample_condition((onset[sel], duration[sel], np.ones(sel.sum())),
                                             times, oversampling, min_onset)
        conv = np.array([np.convolve(high, h)[:high.size] for h in kernel])
        columns.append(_resample_regressor(conv, high_times, times))
    return pd.DataFrame(np.hstack(columns), columns=[str(n) for n in names], index=times)


def condition_regressors(params, events: pd.DataFrame) -> pd.DataFrame:
    """HRF-convolved regressors (nilearn's Glover HRF) of hot, warm and rating.

    nilearn's design matrix without drift (:func:`convolved_conditions`, checked for full
    rank as nilearn does).
    """
    from nilearn.glm._utils import full_rank

    X = convolved_conditions(events, frame_times(params))
    matrix, _ = full_rank(X.to_numpy())
    X = pd.DataFrame(matrix, columns=X.columns, index=X.index)
    return X[list(TRIAL_TYPES)]


def smooth_field(space: GeneratorSpace, rng: np.random.Generator,
                 n: int | None = None) -> np.ndarray:
    """Spatially smooth Gaussian noise in the mask, unit variance per voxel.

    Returns an ``(n_vox,)`` vector, or ``(n_vox, n)`` for ``n`` independent fields.
    """
    shape = space.shape + (() if n is None else (n,))
    sigma = (space.noise_sigma_vox,) * 3 + (() if n is None else (0,))
    white = rng.standard_normal(shape)
    field = ndimage.gaussian_filter(white, sigma, mode="constant") / kernel_norm(
        space.noise_sigma_vox)
    return field[space.mask]


def session_patterns(space: GeneratorSpace, params, truth: dict,
                     rng: np.random.Generator) -> dict:
    """Condition response maps (percent signal change, in-mask) of one session.

    ``truth`` holds the session's latent ``nociceptive`` and ``modulatory`` responses. The
    hot>warm map is their patterns scaled by them, plus the generic activation (amplitude
    varying by ``bold.generic_amplitude_cv`` between sessions) and the session's own smooth
    idiosyncratic pattern (voxel SD ``bold.idiosyncratic_percent``). Nothing is projected
    out: whatever of the generic and idiosyncratic parts a signature weights leaks into its
    score.
    """
    idio = params["bold.idiosyncratic_percent"] * smooth_field(space, rng)
    amp = 1.0 + params["bold.generic_amplitude_cv"] * rng.standard_normal(3)
    latent = sum(float(truth[k]) * space.patterns[k] for k in LATENTS)
    hot_vs_warm = latent + amp[0] * params["bold.generic_percent"] * space.generic + idio
    warm = amp[1] * params["bold.warm_percent"] * space.warm
    return {"hot": warm + hot_vs_warm, "warm": warm,
            "rating": amp[2] * params["bold.rating_percent"] * space.rating,
            "hot_vs_warm": hot_vs_warm}


def synthesize_run(space: GeneratorSpace, params, events: pd.DataFrame, patterns: dict,
                   rng: np.random.Generator, gain: float = 1.0) -> np.ndarray:
    """Make one run's BOLD (int16, grid shape + time).

    signal = baseline x gain x s0 x (1 + (task + drift + noise) / 100), where task is the
    condition maps times their regressors, drift a smooth mix of slow trends, and noise
    spatially smooth AR(1) noise of fixed amplitude (percent).
    """
    X = condition_regressors(params, events)
    n_t = X.shape[0]
    betas = np.column_stack([patterns[c] for c in X.columns])
    task = betas @ X.to_numpy().T

    t = np.linspace(-1, 1, n_t)
    drift_basis = np.column_stack([t, 1.5 * t**2 - 0.5, np.cos(np.pi * (t + 1) / 2)])
    drift_basis /= drift_basis.std(0)
    drift_maps = smooth_field(space, rng, 3) * params["bold.drift_percent"] / np.sqrt(3)
    drift = drift_maps @ drift_basis.T

    rho = params["bold.noise_ar1"]
    white = smooth_field(space, rng, n_t)
    white[:, 1:] *= np.sqrt(1 - rho**2)
    noise = signal.lfilter([1.0], [1.0, -rho], white, axis=1)
    percent = task + drift + params["bold.noise_percent"] * noise

    scale = params["bold.baseline_signal"] * gain * space.s0
    values = scale[:, None] * (1.0 + percent / 100.0)
    return space.to_volume(np.round(values).astype(np.int16))
