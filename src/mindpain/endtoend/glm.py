"""The first level of one simulated run, in memory: events, confounds, design, AR(1) fit, mask.

A run made by :func:`mindpain.twin.run.make_run` is fitted as the first level fits the
twin's files (:mod:`mindpain.first_level.glm`, with the settings of
:class:`mindpain.first_level.runs.ModelSettings`), without writing its BOLD: the onsets and
confounds are rounded as the twin's files write them (:func:`run_events`,
:func:`select_confounds`), the run's implicit EPI mask is nilearn's (:func:`run_mask`), and
the runs of a session are combined by fixed effects (:func:`session_effect`).

What is computed differently from the first level, and why it does not matter
    Only the voxels that a signature weights are fitted (inside the run's implicit mask,
    which is computed on the whole image): every voxel's fit is independent of the others
    (its own scaling, AR(1) coefficient and binned model), so the fitted values there are
    those of a fit of the whole mask. The design is built from nilearn's own steps
    (:func:`fast_design`) with the HRF kernel and drift computed once, and the AR(1) model
    of all bins is fitted at once by a stacked QR decomposition (:func:`ar1_contrast`)
    instead of one nilearn model per bin. ``tests/test_endtoend.py`` checks the design
    equal to :func:`mindpain.first_level.glm.design_matrix` and the effects and variances equal to
    :func:`mindpain.first_level.glm.fit_arrays` to 1e-10 relative (they agree to about 1e-13), and
    the in-memory fit equal to the first level's on a run written by ``mindpain twin``.
    Together these cut a replication's cost several-fold (the profile is in
    ``benchmarks/results.md``).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd


def _as_written(values: pd.Series, fmt: str) -> np.ndarray:
    """Float values as a TSV written with ``fmt`` gives them back (the twin's files)."""
    return np.array([float(fmt % v) for v in values.to_numpy(float)])


def run_events(events: pd.DataFrame) -> pd.DataFrame:
    """Return a simulated run's events as the first level reads them from the twin's file.

    The twin writes onsets and durations with ``%.3f``;
    :func:`mindpain.bids.tables.load_run_events` keeps ``onset, duration, trial_type``. The same
    values, without the file.
    """
    return pd.DataFrame({"onset": _as_written(events["onset"], "%.3f"),
                         "duration": _as_written(events["duration"], "%.3f"),
                         "trial_type": events["trial_type"].astype(str).to_numpy()})


def select_confounds(confounds: pd.DataFrame, columns) -> pd.DataFrame:
    """Return a run's confound selection as the first level reads it from the twin's file.

    The twin writes confounds with ``%.6g``; :func:`mindpain.bids.tables.load_confounds` expands
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
    from mindpain.first_level.glm import design_matrix

    return design_matrix(None, n_scans, tr, drift_model=drift_model, high_pass=high_pass)


def fast_design(events: pd.DataFrame, n_scans: int, tr: float, settings,
                confounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the first level's design matrix (:func:`~mindpain.first_level.glm.design_matrix`).

    The same steps as :func:`nilearn.glm.first_level.make_first_level_design_matrix` for
    events of unit modulation without duplicates (the twin's): the conditions' regressors
    (:func:`mindpain.twin.bold.convolved_conditions`), then the confounds, then the drift
    columns (the same for every run, computed once), checked for full rank as nilearn
    does. Equal to
    :func:`mindpain.first_level.glm.design_matrix` (``tests/test_endtoend.py``).
    """
    from nilearn.glm._utils import full_rank

    from mindpain.first_level.glm import MIN_ONSET, frame_times
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

    The steps of :func:`mindpain.first_level.glm.fit_arrays` (``noise_model="ar1"``,
    ``signal_scaling=0``) and :meth:`mindpain.first_level.glm.RunFit.contrast`: mean scaling, an
    OLS fit,
    each voxel's Yule-Walker AR(1) coefficient binned to ``1/bins``, the AR(1)-whitened
    model of each bin (nilearn's :class:`~nilearn.glm.regression.ARModel`: least squares on
    the whitened design, residual variance over ``n - p``) and the t-contrast's effect and
    variance. The bins' least-squares fits are computed at once, by a stacked QR
    decomposition (a stacked pseudo-inverse, as nilearn's, if a whitened design is rank
    deficient), instead of one model per bin; the values agree with
    :func:`mindpain.first_level.glm.fit_arrays` to rounding (``tests/test_endtoend.py``).

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

    from mindpain.first_level.glm import yule_walker

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
        Confound selection (:data:`mindpain.first_level.runs.MOTION_CONFOUNDS`), used when the run
        has confounds.
    affine : numpy.ndarray, optional
        The grid's affine (default: identity; the implicit mask does not depend on it).
    voxels : numpy.ndarray, optional
        Boolean grid: fit only these voxels (inside the implicit mask). Every voxel's fit is
        independent of the others (its own scaling, AR(1) coefficient and binned model), so
        the fitted values at these voxels equal those of a fit of the whole mask.
    settings : mindpain.first_level.runs.ModelSettings, optional
        First-level settings (default: the first level's; AR(1) noise model, mean scaling).
    fast : bool
        Build the design with :func:`fast_design` and fit it with :func:`ar1_contrast`
        (default); ``False``: :func:`mindpain.first_level.glm.design_matrix` and
        :func:`mindpain.first_level.glm.fit_arrays`, the first level's own functions. Both give the
        same
        numbers (``tests/test_endtoend.py``).

    Returns
    -------
    tuple of numpy.ndarray
        ``(mask, effect, variance)``: the voxels fitted (the run's implicit mask, within
        ``voxels``; grid shape, bool) and the hot - warm effect and its variance there
        (C order).
    """
    from mindpain.first_level.glm import design_matrix, fit_arrays
    from mindpain.first_level.runs import ModelSettings

    settings = settings or ModelSettings()
    bold = np.asarray(data.bold, dtype=np.float32)
    n_scans = bold.shape[3]
    events = run_events(data.events)
    confounds = None
    if data.confounds is not None:
        confounds = select_confounds(data.confounds, confound_columns)
    mask = run_mask(bold, affine, fast, settings.baseline_floor)
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


def run_mask(bold: np.ndarray, affine=None, fast: bool = True,
             floor: float | None = None) -> np.ndarray:
    """Return the first level's implicit mask of one run (boolean, grid shape).

    nilearn's ``compute_multi_epi_mask`` of one image is its ``compute_epi_mask`` (the
    intersection of one mask, already connected, is that mask); ``fast=False`` calls the
    first level's own :func:`mindpain.first_level.glm.implicit_mask`. The mask does not depend on
    the
    affine (default: identity).
    """
    import nibabel as nib
    from nilearn.masking import compute_epi_mask

    from mindpain.first_level.glm import BASELINE_FLOOR, implicit_mask, signal_floor

    floor = BASELINE_FLOOR if floor is None else floor
    data = np.asarray(bold, dtype=np.float32)
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    if not fast:
        return np.asarray(implicit_mask(img, floor).dataobj, dtype=bool)
    return signal_floor(np.asarray(compute_epi_mask(img).dataobj, dtype=bool), data.mean(-1),
                        floor)


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
