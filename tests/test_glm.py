"""The first level's GLM (mindpain.first_level.glm) against nilearn's own, the reference."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mindpain.first_level import glm


def _events():
    return pd.DataFrame({"onset": [6.0, 30.0, 54.0, 78.0, 18.0, 42.0, 66.0],
                         "duration": [8.0] * 4 + [6.0] * 3,
                         "trial_type": ["hot", "warm", "hot", "warm", "rating", "rating",
                                        "rating"]})


def _run_img(seed=0, shape=(14, 14, 12), n_scans=50, rho=0.4):
    """A tiny 4D run: a blob of brain, a task response, AR(1) noise; zero outside."""
    rng = np.random.default_rng(seed)
    X = glm.design_matrix(_events(), n_scans, 2.0)
    brain = np.zeros(shape, bool)
    brain[2:-2, 2:-2, 2:-2] = True
    n_vox = int(brain.sum())
    betas = rng.normal(0, 1, (2, n_vox))
    noise = rng.normal(0, 1, (n_scans, n_vox))
    for t in range(1, n_scans):
        noise[t] += rho * noise[t - 1]
    signal = 800 + X[["hot", "warm"]].to_numpy() @ betas * 8 + 4 * noise
    data = np.zeros(shape + (n_scans,), np.float32)
    data[brain] = signal.T
    return nib.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))


@pytest.mark.parametrize("order", [1, 2, 3])
def test_yule_walker_equals_nilearn(order):
    from nilearn.glm.first_level.first_level import _yule_walker

    x = np.random.default_rng(order).normal(size=(4, 5, 60)).cumsum(-1) * 0.1
    assert np.array_equal(glm.yule_walker(x, order), _yule_walker(x, order))


@pytest.mark.parametrize("noise_model", ["ar1", "ols", "ar2"])
def test_run_glm_equals_nilearn(noise_model):
    from nilearn.glm.contrasts import compute_contrast
    from nilearn.glm.first_level import run_glm

    rng = np.random.default_rng(3)
    X = glm.design_matrix(_events(), 50, 2.0).to_numpy()
    Y = X[:, :2] @ rng.normal(size=(2, 300)) + rng.normal(size=(50, 300)).cumsum(0) * 0.3
    ours = glm.run_glm(Y, X, noise_model=noise_model, random_state=0)
    ref = run_glm(Y, X, noise_model=noise_model, random_state=0)
    if noise_model == "ar1":
        assert np.array_equal(ours[0], ref[0])
        assert len(set(ours[0])) > 5  # several AR bins, not one model
    con = np.eye(X.shape[1])[0] - np.eye(X.shape[1])[2]
    a = compute_contrast(*ours, con, stat_type="t")
    b = compute_contrast(*ref, con, stat_type="t")
    np.testing.assert_array_equal(a.effect_size(), b.effect_size())
    np.testing.assert_array_equal(a.effect_variance(), b.effect_variance())


@pytest.mark.parametrize("smoothing, with_mask, with_confounds",
                         [(None, False, False), (5.0, True, True), (None, True, False)])
def test_fit_image_equals_first_level_model(smoothing, with_mask, with_confounds):
    """Maps, design and header equal nilearn's FirstLevelModel, byte for byte."""
    from nilearn.glm.first_level import FirstLevelModel

    img = _run_img()
    mask = None
    if with_mask:
        m = np.zeros(img.shape[:3], np.uint8)
        m[3:-3, 3:-4, 2:-3] = 1
        mask = nib.Nifti1Image(m, img.affine)
    confounds = None
    if with_confounds:
        rng = np.random.default_rng(9)
        confounds = pd.DataFrame(rng.normal(size=(img.shape[3], 2)), columns=["c1", "c2"])
    model = FirstLevelModel(t_r=2.0, hrf_model="glover", drift_model="cosine",
                            high_pass=1 / 128, noise_model="ar1", signal_scaling=0,
                            smoothing_fwhm=smoothing, mask_img=mask, minimize_memory=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(img, events=_events(), confounds=confounds)
    # nilearn's own implicit mask: the signal floor off (tests/test_pipeline_transfer.py
    # checks the floor itself)
    fit = glm.fit_image(img, _events(), 2.0, smoothing_fwhm=smoothing, confounds=confounds,
                        mask_img=mask, baseline_floor=0)
    pd.testing.assert_frame_equal(fit.design, model.design_matrices_[0])
    assert np.array_equal(np.asarray(fit.masker.mask_img_.dataobj),
                          np.asarray(model.masker_.mask_img_.dataobj))
    for expr in ("hot - warm", "hot"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = model.compute_contrast(expr, output_type="all")
        effect, variance = fit.contrast_maps(expr)
        for ours, theirs in ((effect, ref["effect_size"]), (variance, ref["effect_variance"])):
            assert np.array_equal(np.asarray(ours.dataobj), np.asarray(theirs.dataobj))
            assert ours.header["descrip"] == theirs.header["descrip"]
            assert ours.get_data_dtype() == theirs.get_data_dtype()


def test_fit_arrays_dof_and_shape():
    img = _run_img(seed=1)
    data = np.asarray(img.dataobj)
    Y = data[data.std(-1) > 0].T
    X = glm.design_matrix(_events(), img.shape[3], 2.0)
    fit = glm.fit_arrays(Y, X)
    assert fit.dof == img.shape[3] - np.linalg.matrix_rank(X.to_numpy())
    effect, variance = fit.contrast("hot - warm")
    assert effect.shape == variance.shape == (Y.shape[1],)
    assert np.all(variance > 0)


@pytest.mark.parametrize("dtype, with_nan", [(np.float32, False), (np.float32, True),
                                             (np.float64, True)])
def test_masked_series_equals_the_maskers(dtype, with_nan):
    """The direct read of a run's masked series is nilearn's masker output, bit for bit."""
    from nilearn.maskers import NiftiMasker

    img = _run_img(seed=3)
    data = np.asarray(img.dataobj).astype(dtype)
    if with_nan:
        data[5, 5, 5, 7] = np.nan
        data[6, 5, 5, :] = np.inf
    img = nib.Nifti1Image(data, img.affine)
    m = np.zeros(img.shape[:3], np.uint8)
    m[3:-3, 3:-4, 2:-3] = 1
    masker = NiftiMasker(mask_img=nib.Nifti1Image(m, img.affine), t_r=2.0,
                         standardize=None).fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = masker.transform(img)
    ours = glm._masked_series(img, masker)
    assert ours.dtype == theirs.dtype and ours.flags["C_CONTIGUOUS"]
    assert ours.tobytes() == theirs.tobytes()
    # another grid: the masker resamples, so the direct read steps aside
    other = nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0]))
    assert glm._masked_series(other, masker) is None
