r"""The twin's generative model: signature space on the twin grid and derived constants.

The hot>warm response of participant *i* in session *s* is built as

.. math:: \beta_{is} = D\,[s^{NPS}_{is}, s^{SIIPS1}_{is}]^T + a_{is} g + e_{is}

where the columns of :math:`D = W (W^T W)^{-1}` are the dual vectors of the two
signature weight maps :math:`W` (resampled to the twin grid, as the scoring stage does),
and :math:`g` (a common activation) and :math:`e_{is}` (an idiosyncratic pattern) are
orthogonal to the NPS positive, NPS negative and SIIPS1 weights. A perfect pipeline that
recovers :math:`\beta_{is}` therefore measures exactly the planted :math:`s_{is}`; the NPSpos
and NPSneg readouts are fixed linear functions of the two planted scores.

The BOLD noise model (spatially smooth, AR(1), fixed amplitude) implies the noise that a
session's score carries: for weights :math:`w_x, w_y`,
:math:`\mathrm{Cov}(m_x, m_y) = \sigma^2 (K w_x)^T (K w_y) / c \cdot g^T \Sigma g / R`, with
:math:`K` the spatial smoothing operator, :math:`c` its variance normaliser, :math:`g` the
contrast's estimation vector of one run, :math:`\Sigma` the AR(1) correlation and
:math:`R` the number of runs. The participant-level simulator uses this covariance, so it
shares the noise model of the scored maps without making any BOLD.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import ndimage

from mindpain.config import derive_rng
from mindpain.images import (
    _mask_array,
    mni_grid,
    resample_like,
    template_intensity,
    voxel_coords,
)
from mindpain.surrogates import build_surrogate
from mindpain.twin.params import Parameters, load_parameters
from mindpain.twin.task import frame_times, make_run_events

#: Signatures whose responses the twin plants (open surrogates).
PLANTED_SIGNATURES = {"nps": "nps-surrogate", "siips1": "siips1-surrogate"}
#: Readouts computed for every planted pattern.
READOUTS = ("nps", "siips1", "nps_pos", "nps_neg")
OUTCOMES = ("nps", "siips1", "intensity", "unpleasantness")

# Activation outside the signatures (approximate MNI centres, mm; sigma mm).
_GENERIC_BLOBS = [((38, -28, 56), 8.0), ((0, -4, 56), 8.0), ((-50, -24, 18), 7.0),
                  ((-20, -60, -30), 7.0)]
_WARM_BLOBS = [((38, -28, 56), 8.0), ((-38, -20, 12), 6.0), ((38, -20, 12), 6.0)]
_RATING_BLOBS = [((20, -92, 0), 8.0), ((-20, -92, 0), 8.0), ((-36, -22, 56), 8.0)]


def _blobs(xyz, blobs, mask):
    out = np.zeros(xyz.shape[:-1])
    for centre, sigma in blobs:
        r2 = ((xyz - np.asarray(centre, float)) ** 2).sum(-1)
        out += np.exp(-r2 / (2 * sigma**2))
    out[~mask] = 0.0
    return out / out.max()


@dataclass(frozen=True)
class TwinSpace:
    """Grid, mask, signature weights and fixed maps of the twin for one preset.

    All maps are float arrays of the grid's shape; ``vec`` arrays hold in-mask voxels.
    """

    preset: str
    voxel_size: float
    shape: tuple
    affine: np.ndarray
    mask: np.ndarray
    weights: dict  # readout name -> in-mask weight vector
    dual: np.ndarray  # (n_vox, 2): dual vectors of nps, siips1
    ortho: np.ndarray  # (n_vox, 3): orthonormal basis of nps_pos, nps_neg, siips1 span
    readout: np.ndarray  # (4, 2): READOUTS of the dual patterns
    generic: np.ndarray  # in-mask hot>warm common map (peak 1, orthogonalised)
    warm: np.ndarray  # in-mask warm map (peak 1)
    rating: np.ndarray  # in-mask rating map (peak 1)
    s0: np.ndarray  # in-mask baseline signal shape (mean 1)
    noise_sigma_vox: float  # FWHM -> sigma in voxels

    @property
    def n_voxels(self) -> int:
        """Number of in-mask voxels."""
        return int(self.mask.sum())

    def to_volume(self, vec) -> np.ndarray:
        """Put an in-mask vector (or ``(n_vox, t)`` matrix) back on the grid."""
        vec = np.asarray(vec)
        out = np.zeros(self.shape + vec.shape[1:], dtype=vec.dtype)
        out[self.mask] = vec
        return out

    def orthogonalise(self, vec) -> np.ndarray:
        """Remove from ``vec`` its projection on the signatures' weights."""
        return vec - self.ortho @ (self.ortho.T @ vec)


@lru_cache(maxsize=4)
def twin_space(preset: str) -> TwinSpace:
    """Build the :class:`TwinSpace` of ``preset`` (deterministic; cached)."""
    params = load_parameters(preset)
    voxel = float(params["bold.voxel_size"][preset])
    shape, affine = mni_grid(voxel)
    mask = _mask_array(voxel).copy()
    weights = {}
    for key, name in PLANTED_SIGNATURES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = resample_like(build_surrogate(name).weights, shape, affine)
        weights[key] = w[mask]
    weights["nps_pos"] = np.clip(weights["nps"], 0, None)
    weights["nps_neg"] = np.clip(weights["nps"], None, 0)
    mask_keep = mask.copy()
    W = np.column_stack([weights["nps"], weights["siips1"]])
    dual = W @ np.linalg.inv(W.T @ W)
    ortho, _ = np.linalg.qr(np.column_stack([weights["nps_pos"], weights["nps_neg"],
                                             weights["siips1"]]))
    readout = np.array([[weights[r] @ dual[:, k] for k in range(2)] for r in READOUTS])
    xyz = voxel_coords(shape, affine)
    generic = _blobs(xyz, _GENERIC_BLOBS, mask)[mask]
    generic = generic - ortho @ (ortho.T @ generic)
    generic /= np.abs(generic).max()
    s0 = 0.6 + 0.4 * template_intensity(voxel)[mask]
    return TwinSpace(
        preset=preset, voxel_size=voxel, shape=shape, affine=affine, mask=mask_keep,
        weights=weights, dual=dual, ortho=ortho, readout=readout, generic=generic,
        warm=_blobs(xyz, _WARM_BLOBS, mask)[mask], rating=_blobs(xyz, _RATING_BLOBS, mask)[mask],
        s0=s0 / s0.mean(),
        noise_sigma_vox=params["bold.noise_fwhm"] / (2 * np.sqrt(2 * np.log(2))) / voxel,
    )


def smooth_noise_operator(space: TwinSpace, vec: np.ndarray) -> np.ndarray:
    """Apply the BOLD noise model's spatial operator (smoothing, unit voxel variance)."""
    vol = space.to_volume(vec.astype(float))
    out = ndimage.gaussian_filter(vol, space.noise_sigma_vox, mode="constant") / _kernel_norm(
        space.noise_sigma_vox)
    return out[space.mask]


@lru_cache(maxsize=8)
def _kernel_norm(sigma: float) -> float:
    """L2 norm of the discrete Gaussian kernel (so smoothed white noise has unit variance)."""
    impulse = np.zeros((41, 41, 41))
    impulse[20, 20, 20] = 1.0
    return float(np.sqrt((ndimage.gaussian_filter(impulse, sigma, mode="constant") ** 2).sum()))


def contrast_variance_factor(params: Parameters, n_designs: int = 16) -> float:
    r"""Mean of :math:`g^T \Sigma g` for the hot-minus-warm contrast of one run.

    Averaged over ``n_designs`` jittered designs drawn from a fixed stream (a property
    of the task, not of any dataset seed). Uses nilearn's design matrix: Glover HRF and
    a cosine drift basis with a 1/128 Hz cut-off, as the first-level stage does.
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    rho = params["bold.noise_ar1"]
    times = frame_times(params)
    lags = np.abs(np.subtract.outer(np.arange(times.size), np.arange(times.size)))
    sigma_t = rho ** lags
    values = []
    for k in range(n_designs):
        rng = derive_rng(0, "reference-design", k)
        events = make_run_events(rng, params, hot_temperature=48.0)
        X = make_first_level_design_matrix(times, events[["onset", "duration", "trial_type"]],
                                           hrf_model="glover", drift_model="cosine",
                                           high_pass=1 / 128)
        c = np.array([1.0 if col == "hot" else -1.0 if col == "warm" else 0.0 for col in X.columns])
        g = X.to_numpy() @ np.linalg.pinv(X.to_numpy().T @ X.to_numpy()) @ c
        values.append(g @ sigma_t @ g)
    return float(np.mean(values))


@dataclass(frozen=True)
class Constants:
    """Derived constants of the participant-level model (score units of the surrogates)."""

    mean: dict  # baseline mean per outcome
    between_sd: dict  # between-participant SD of the true level
    change_sd: dict  # SD of the true pre-to-post change
    measurement_cov: np.ndarray  # (4, 4) session-level noise covariance of READOUTS
    rating_measurement_sd: float  # noise SD of a session's mean rating
    correlation: np.ndarray  # (4, 4) across OUTCOMES
    group_shift: dict  # outcome -> arm -> true mean change
    observed_change_sd: dict  # outcome -> SD of the observed change score
    observed_level_sd: dict  # outcome -> SD of an observed single-session level

    def measurement_sd(self, outcome: str) -> float:
        """Session-level measurement noise SD of ``outcome``."""
        if outcome in READOUTS:
            k = READOUTS.index(outcome)
            return float(np.sqrt(self.measurement_cov[k, k]))
        return self.rating_measurement_sd


@lru_cache(maxsize=4)
def derive_constants(preset: str) -> Constants:
    """Compute the participant-level constants of ``preset`` from the parameter file."""
    params = load_parameters(preset)
    space = twin_space(preset)
    # Baseline means: the planted part's peak voxel equals the assumed percent amplitude.
    mean = {}
    for k, key in enumerate(("nps", "siips1")):
        peak = params[f"bold.{key}_peak_percent"]
        mean[key] = float(peak / np.abs(space.dual[:, k]).max())
    ratings = params["outcomes.ratings"]
    mean["intensity"], mean["unpleasantness"] = (ratings["intensity_mean"],
                                                 ratings["unpleasantness_mean"])
    cv, frac = params["outcomes.between_cv"], params["outcomes.change_sd_fraction"]
    between = {k: cv[k] * mean[k] for k in ("nps", "siips1")}
    between["intensity"], between["unpleasantness"] = (ratings["intensity_sd"],
                                                       ratings["unpleasantness_sd"])
    change = {k: frac[k] * between[k] for k in ("nps", "siips1")}
    for k in ("intensity", "unpleasantness"):
        change[k] = ratings["change_sd_fraction"] * between[k]

    n_runs = params["task.n_runs"]
    gsg = contrast_variance_factor(params)
    smoothed = np.column_stack([smooth_noise_operator(space, space.weights[r]) for r in READOUTS])
    noise = params["bold.noise_percent"]
    mcov = noise**2 * (smoothed.T @ smoothed) * gsg / n_runs
    n_hot = n_runs * params["task.trials_per_condition_per_run"]
    rating_sd = ratings["trial_sd"] / np.sqrt(n_hot)

    def msd(outcome):
        return (float(np.sqrt(mcov[READOUTS.index(outcome)] [READOUTS.index(outcome)]))
                if outcome in READOUTS else rating_sd)

    obs_change = {k: float(np.sqrt(change[k] ** 2 + 2 * msd(k) ** 2)) for k in OUTCOMES}
    obs_level = {k: float(np.sqrt(between[k] ** 2 + msd(k) ** 2)) for k in OUTCOMES}
    shifts = {k: solve_group_shifts(effect_targets(params, k), obs_change[k]) for k in OUTCOMES}
    return Constants(
        mean=mean, between_sd=between, change_sd=change, measurement_cov=mcov,
        rating_measurement_sd=float(rating_sd),
        correlation=np.asarray(params["outcomes.correlation"], float), group_shift=shifts,
        observed_change_sd=obs_change, observed_level_sd=obs_level,
    )


ARMS = ("MBSR", "HEP", "WL")


def solve_group_shifts(effects: dict, sd: float) -> dict:
    """Turn planted d values into true mean changes per arm.

    ``effects`` holds ``"A_within": d`` (d_z of arm A) and ``"A_vs_B": d`` (difference in
    change between arms, in SD of the observed change); every arm must be reachable.

    Examples
    --------
    >>> shifts = solve_group_shifts({"MBSR_within": -0.5, "MBSR_vs_HEP": -0.5,
    ...                              "MBSR_vs_WL": -0.5}, sd=2.0)
    >>> shifts["MBSR"], shifts["HEP"]
    (-1.0, 0.0)
    """
    known = {k.split("_")[0]: d * sd for k, d in effects.items() if k.endswith("_within")}
    pairs = [(k.split("_vs_")[0], k.split("_vs_")[1], d * sd) for k, d in effects.items()
             if "_vs_" in k]
    for _ in range(len(ARMS)):
        for a, b, diff in pairs:
            if a in known and b not in known:
                known[b] = known[a] - diff
            elif b in known and a not in known:
                known[a] = known[b] + diff
    missing = [a for a in ARMS if a not in known]
    if missing:
        raise ValueError(f"parameters.toml: effects leave arms {missing} undetermined")
    return {a: float(known[a]) for a in ARMS}


def effect_targets(params: Parameters, outcome: str) -> dict:
    """Planted d values of ``outcome``: the entry's ``value`` plus its ``assumed`` part."""
    entry = params.raw["effects"][outcome]
    return {**entry["value"], **entry.get("assumed", {})}


CONTRASTS = ("MBSR_vs_HEP", "MBSR_vs_WL", "HEP_vs_WL", "MBSR_within", "HEP_within", "WL_within")


def planted_trial_effects(preset: str) -> pd.DataFrame:
    """Planted effect of every trial contrast on every observed outcome, as Cohen's d.

    d is taken on the observed change score: the true mean change difference divided by
    the SD of the observed change (true change variance plus twice the session-level
    measurement variance). Between-arm rows are differences of change; ``*_within`` rows
    are d_z of an arm's change. NPSpos and NPSneg follow from the planted NPS and SIIPS1
    through the readout matrix. ``status`` says whether the value is reported, assumed
    or derived from those.
    """
    params = load_parameters(preset)
    const = derive_constants(preset)
    space = twin_space(preset)
    corr = const.correlation[:2, :2]
    sd_c = np.array([const.change_sd["nps"], const.change_sd["siips1"]])
    cov_c = corr * np.outer(sd_c, sd_c)
    rows = []
    for outcome in READOUTS + ("intensity", "unpleasantness"):
        if outcome in READOUTS:
            r = space.readout[READOUTS.index(outcome)]
            shift = {a: float(r @ [const.group_shift["nps"][a], const.group_shift["siips1"][a]])
                     for a in ARMS}
            var_true = float(r @ cov_c @ r)
        else:
            shift = const.group_shift[outcome]
            var_true = const.change_sd[outcome] ** 2
        sd = np.sqrt(var_true + 2 * const.measurement_sd(outcome) ** 2)
        entry = params.raw["effects"].get(outcome, {})
        for contrast in CONTRASTS:
            if contrast.endswith("_within"):
                d = shift[contrast.split("_")[0]] / sd
            else:
                a, b = contrast.split("_vs_")
                d = (shift[a] - shift[b]) / sd
            if contrast in entry.get("value", {}):
                status = entry["status"]
            elif contrast in entry.get("assumed", {}):
                status = "assumed"
            else:
                status = "derived"
            reported = entry["value"][contrast] if status == "reported" else np.nan
            rows.append({"outcome": outcome, "contrast": contrast, "planted_d": round(d, 6),
                         "reported_d": reported, "status": status,
                         "true_change_difference": round(
                             d * sd, 6), "observed_change_sd": round(float(sd), 6)})
    return pd.DataFrame(rows)
