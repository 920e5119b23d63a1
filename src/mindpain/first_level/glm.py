"""The first level's GLM on arrays: nilearn's model, fitted with a vectorised AR(1) step.

The first level (:mod:`mindpain.first_level.runs`) fits nilearn's single-run GLM: the design
matrix of :func:`nilearn.glm.first_level.make_first_level_design_matrix`, voxel-wise mean
scaling (:func:`nilearn.glm.first_level.mean_scaling`), an OLS fit whose residuals give each
voxel's AR(1) coefficient, binned to 1/``bins``, and one
:class:`nilearn.glm.regression.ARModel` per bin; contrasts by
:func:`nilearn.glm.contrasts.compute_contrast`. That is what
:class:`~nilearn.glm.first_level.FirstLevelModel` does; this module does the same steps on
arrays, so a run can be fitted without building a NIfTI image (the end-to-end calibration)
and so the AR step is vectorised: nilearn 0.14's ``run_glm`` builds one
:func:`scipy.linalg.toeplitz` matrix per voxel, about half the first level's time on the
twin. The Toeplitz matrices here are the same numbers gathered at once, so the AR
coefficients, the bins and every fitted value are the ones nilearn computes
(``tests/test_glm.py`` checks them against ``FirstLevelModel`` and ``run_glm``).

Only the autoregressive models of order 1 take the vectorised path; ``ols`` and ``arN``
with N > 1 are passed to nilearn's :func:`~nilearn.glm.first_level.run_glm` unchanged.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Maximum number of AR(1) bins (nilearn's default for ``run_glm`` and ``FirstLevelModel``).
AR_BINS = 100
#: Earliest event onset kept by the design matrix (s; nilearn's default).
MIN_ONSET = -24.0


def frame_times(n_scans: int, tr: float) -> np.ndarray:
    """Acquisition times of the volumes (s), slice-time reference 0 as in nilearn."""
    return np.linspace(0.0, (n_scans - 1) * tr, n_scans)


def design_matrix(events: pd.DataFrame, n_scans: int, tr: float, *, hrf_model="glover",
                  drift_model="cosine", high_pass=1.0 / 128,
                  confounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the run's design matrix, as ``FirstLevelModel`` builds it.

    Parameters
    ----------
    events : pandas.DataFrame
        ``onset``, ``duration``, ``trial_type`` (s).
    n_scans : int
        Volumes in the run.
    tr : float
        Repetition time (s).
    hrf_model, drift_model, high_pass
        As in :func:`nilearn.glm.first_level.make_first_level_design_matrix`.
    confounds : pandas.DataFrame, optional
        One row per volume; its columns are added to the design.

    Returns
    -------
    pandas.DataFrame
        One row per volume, one column per regressor.
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    regs = names = None
    if confounds is not None:
        regs, names = confounds.to_numpy(), confounds.columns.tolist()
    return make_first_level_design_matrix(
        frame_times(n_scans, tr), events, hrf_model=hrf_model, drift_model=drift_model,
        high_pass=high_pass, drift_order=1, fir_delays=[0], add_regs=regs,
        add_reg_names=names, min_onset=MIN_ONSET)


def yule_walker(x: np.ndarray, order: int) -> np.ndarray:
    """Yule-Walker AR coefficients along the last axis, as nilearn computes them.

    The same estimator as nilearn's (demeaned by the grand mean, biased autocovariance,
    solved per series); the per-series Toeplitz matrices are gathered in one indexing
    step instead of one :func:`scipy.linalg.toeplitz` call each.

    Parameters
    ----------
    x : numpy.ndarray
        ``(..., n_times)``.
    order : int
        AR order (≥ 1).

    Returns
    -------
    numpy.ndarray
        ``(..., order)``.
    """
    n_times = x.shape[-1]
    n = int(np.prod(x.shape[:-1], dtype=int))
    denom = n_times - np.arange(order + 1)
    r = np.zeros((n, order + 1), np.float64)
    y = (x - x.mean()).reshape(n, n_times)
    r[:, 0] += (y[:, np.newaxis, :] @ y[:, :, np.newaxis])[:, 0, 0]
    for k in range(1, order + 1):
        r[:, k] += (y[:, np.newaxis, 0:-k] @ y[:, k:, np.newaxis])[:, 0, 0]
    r /= denom * n_times
    lags = np.abs(np.subtract.outer(np.arange(order), np.arange(order)))
    toeplitz = r[:, lags]
    rho = np.linalg.solve(toeplitz, r[:, 1:, None])[..., 0]
    return rho.reshape((*x.shape[:-1], order))


def run_glm(Y: np.ndarray, X: np.ndarray, noise_model: str = "ar1", bins: int = AR_BINS,
            random_state=None):
    """Fit the GLM of ``Y`` (``n_scans, n_voxels``) on ``X``; nilearn's ``run_glm``.

    ``random_state`` seeds the K-means clustering of AR(N > 1) coefficients (as nilearn).

    Returns
    -------
    labels : numpy.ndarray
        ``(n_voxels,)`` key of each voxel's model in ``results``.
    results : dict
        ``{label: RegressionResults}`` (memory-light :class:`SimpleRegressionResults`).
    """
    from nilearn.glm.first_level import run_glm as nilearn_run_glm
    from nilearn.glm.regression import ARModel, OLSModel, SimpleRegressionResults

    if noise_model != "ar1":
        labels, results = nilearn_run_glm(Y, X, noise_model=noise_model, bins=bins,
                                          random_state=random_state)
        return labels, {k: SimpleRegressionResults(v) for k, v in results.items()}
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Y has {Y.shape[0]} rows and X {X.shape[0]}; they must match")
    ols = OLSModel(X).fit(Y)
    rho = yule_walker(ols.residuals.T, 1)[:, 0]
    del ols
    binned = (rho * bins).astype(int) * 1.0 / bins
    values, inverse = np.unique(binned, return_inverse=True)
    keys = np.array([str(v) for v in values])
    labels = keys[inverse]
    results = {}
    for i, key in enumerate(keys):
        cols = inverse == i
        results[key] = SimpleRegressionResults(ARModel(X, values[i]).fit(Y[:, cols]))
    return labels, results


@dataclass
class RunFit:
    """A fitted run: the design, its degrees of freedom and the voxel models.

    Attributes
    ----------
    design : pandas.DataFrame
        The design matrix.
    dof : int
        Volumes minus the design's rank.
    labels, results
        As returned by :func:`run_glm`.
    """

    design: pd.DataFrame
    dof: int
    labels: np.ndarray
    results: dict

    def contrast_vector(self, expression: str) -> np.ndarray:
        """Return the design-column weights of a contrast such as ``"hot - warm"``."""
        from nilearn.glm.contrasts import expression_to_contrast_vector

        return expression_to_contrast_vector(expression, self.design.columns.tolist())

    def contrast(self, expression: str) -> tuple[np.ndarray, np.ndarray]:
        """Effect and its variance, per voxel, of a contrast such as ``"hot - warm"``."""
        from nilearn.glm.contrasts import compute_contrast

        vector = self.contrast_vector(expression)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            con = compute_contrast(self.labels, self.results, vector, stat_type="t")
        return np.ravel(con.effect_size()), np.ravel(con.effect_variance())


def fit_arrays(Y: np.ndarray, design: pd.DataFrame, *, noise_model: str = "ar1",
               signal_scaling: int | bool = 0) -> RunFit:
    """Fit one run given as an array: ``Y`` is ``(n_scans, n_voxels)`` raw signal.

    Parameters
    ----------
    Y : numpy.ndarray
        The run's masked BOLD, one column per voxel.
    design : pandas.DataFrame
        From :func:`design_matrix`.
    noise_model : str
        ``"ar1"`` (the first level's), ``"ols"`` or ``"arN"``.
    signal_scaling : {0, False}
        ``0``: each voxel scaled to percent of its mean (effects in percent signal change);
        ``False``: no scaling.

    Returns
    -------
    RunFit
    """
    from nilearn.glm.first_level import mean_scaling

    Y = np.asarray(Y)
    if signal_scaling is not False:
        Y, _ = mean_scaling(Y, signal_scaling)
    labels, results = run_glm(Y, design.to_numpy(), noise_model=noise_model)
    dof = int(design.shape[0] - np.linalg.matrix_rank(design.to_numpy()))
    return RunFit(design=design, dof=dof, labels=labels, results=results)


#: A voxel whose mean signal over the run is below this share of the median mean signal of
#: the run's EPI mask is left out of the run's implicit mask (:func:`signal_floor`).
BASELINE_FLOOR = 0.5


def signal_floor(mask: np.ndarray, mean: np.ndarray, floor: float = BASELINE_FLOOR) -> np.ndarray:
    """Drop from ``mask`` the voxels whose mean signal is below ``floor`` x the mask's median.

    nilearn's EPI mask keeps every voxel above a threshold of the mean image's histogram and
    then closes the mask, which also takes in voxels of almost no signal at the brain's edge
    (voxels that moved out of the brain, or holes the closing filled). Scaled to percent of
    their own tiny mean, such a voxel's effect is huge (hundreds of percent signal change)
    and dominates a session map and any average of maps. SPM's implicit mask drops voxels
    below 80 % of the global mean; this floor (default half the median of the mask, so the
    twin's dimmest brain voxels, about two thirds of it, stay) keeps the EPI mask's shape
    and leaves out only voxels with little signal.

    Parameters
    ----------
    mask : numpy.ndarray
        Boolean grid (the EPI mask).
    mean : numpy.ndarray
        The run's mean image on the same grid.
    floor : float
        Share of the median in-mask mean below which a voxel is dropped (0: none).

    Returns
    -------
    numpy.ndarray
        The mask without those voxels.
    """
    mask = np.asarray(mask, dtype=bool)
    if not floor or not mask.any():
        return mask
    level = float(np.median(mean[mask]))
    return mask & (mean >= floor * level)


def implicit_mask(img, floor: float = BASELINE_FLOOR):
    """Return a run's implicit mask: nilearn's EPI mask without voxels of little signal.

    The EPI mask is what ``FirstLevelModel`` computes; :func:`signal_floor` then drops the
    voxels whose mean signal is below ``floor`` x the mask's median.
    """
    import nibabel as nib
    from nilearn.masking import compute_multi_epi_mask

    epi = compute_multi_epi_mask([img])
    mean = np.asarray(img.dataobj, dtype=np.float32).mean(-1)
    kept = signal_floor(np.asarray(epi.dataobj).astype(bool), mean, floor)
    return nib.Nifti1Image(kept.astype(np.int8), epi.affine, epi.header)



@dataclass
class ImageFit(RunFit):
    """A run fitted from its image: a :class:`RunFit` plus the masker that unmasks maps.

    Attributes
    ----------
    masker : nilearn.maskers.NiftiMasker
        The fitted masker (its ``mask_img_`` is the run's mask).
    nonfinite_voxels : int
        Voxels left out of the mask for a NaN or infinite sample (set by the first level).
    """

    masker: object = None
    nonfinite_voxels: int = 0

    def contrast_maps(self, expression: str) -> tuple:
        """Effect and variance images of a contrast (as ``FirstLevelModel`` returns them).

        The images carry nilearn's header description (``"effect_size of contrast
        [array([...])]"``), so they are byte for byte what ``FirstLevelModel`` writes.
        """
        vector = self.contrast_vector(expression)
        maps = []
        for name, values in zip(("effect_size", "effect_variance"), self.contrast(expression),
                                strict=True):
            img = self.masker.inverse_transform(values)
            img.header["descrip"] = f"{name} of contrast {[vector]}"
            maps.append(img)
        return tuple(maps)


def _masked_series(img, masker):
    """``masker.transform(img)`` without smoothing, read straight from the array, or ``None``.

    The masker's own path copies the whole 4D series before indexing it (about a fifth of a
    run's fit); the values, dtype and memory order here are the same (non-finite values set
    to 0, C order; ``tests/test_glm.py`` compares). When the image and mask grids differ (the
    masker would resample) or the data are not floating point, returns ``None``.
    """
    mask = masker.mask_img_
    if img.shape[:3] != mask.shape or not np.allclose(img.affine, mask.affine):
        return None
    data = np.asanyarray(img.dataobj)
    if data.dtype.kind != "f":
        return None
    if not np.isfinite(data).all():
        data = np.where(np.isfinite(data), data, 0)
    return np.ascontiguousarray(data[np.asarray(mask.dataobj).astype(bool)].T)


def fit_image(img, events: pd.DataFrame, tr: float, *, hrf_model="glover",
              drift_model="cosine", high_pass=1.0 / 128, noise_model="ar1",
              signal_scaling=0, smoothing_fwhm=None, confounds=None,
              mask_img=None, baseline_floor: float = BASELINE_FLOOR) -> ImageFit:
    """Fit one run's 4D image, as ``FirstLevelModel(...).fit(img, events, confounds)``.

    The mask is ``mask_img`` or the run's implicit mask (:func:`implicit_mask` with
    ``baseline_floor``); the image is
    smoothed by ``smoothing_fwhm`` (mm) inside the masker, then fitted by
    :func:`fit_arrays` on the design of :func:`design_matrix`.

    Returns
    -------
    ImageFit
    """
    from nilearn.maskers import NiftiMasker

    mask = implicit_mask(img, baseline_floor) if mask_img is None else mask_img
    masker = NiftiMasker(mask_img=mask, smoothing_fwhm=smoothing_fwhm, t_r=tr,
                         standardize=None).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Y = _masked_series(img, masker) if not smoothing_fwhm else None
        if Y is None:
            Y = masker.transform(img)
        design = design_matrix(events, img.shape[3], tr, hrf_model=hrf_model,
                               drift_model=drift_model, high_pass=high_pass,
                               confounds=confounds)
        fit = fit_arrays(Y, design, noise_model=noise_model, signal_scaling=signal_scaling)
    return ImageFit(design=fit.design, dof=fit.dof, labels=fit.labels, results=fit.results,
                    masker=masker)
