r"""Nuisance of the realistic world: what real scans have and the first-level model does not.

Each component is a pure function of the parameter file (section ``[nuisance]``, every value
labelled *assumed* with its literature source) and a random stream:

* **head motion** (:func:`simulate_motion`): six rigid-body parameters per volume, a random
  walk with occasional sudden jumps that partly return, scaled per participant; written to
  the confounds table with fMRIPrep's names (:func:`confounds_table`), with their
  derivatives, framewise displacement (Power et al. 2012) and ``motion_outlierNN`` columns;
* **motion-related signal** (:func:`motion_signal`): the first-order intensity change
  :math:`-\nabla S_0 \cdot d(v, t)` of each voxel displaced by :math:`d` (removable by the six
  motion regressors), a quadratic term and a spin-history term (not removable by them), and
  a global drop in spike volumes (removable by scrubbing);
* **physiological noise** (:func:`physio`): cardiac and respiratory cycles sampled once per
  TR (aliased), with smooth voxel amplitudes, and a slow global fluctuation;
* **noise that is not AR(1)** (:func:`scanner_noise`): spatially smooth AR(2) noise plus
  1/f noise carried by a few smooth components;
* **HRF shape** (:func:`participant_hrf`, :func:`hrf_regressors`): a double-gamma HRF with
  participant-specific dispersion and undershoot and a latency shift that varies across
  participants and, smoothly, across regions;
* **misregistration** (:func:`shift_maps`): a session's response maps shifted by a
  sub-voxel rigid translation;
* **trial temperature** (:func:`hot_temperature_offsets`): the hot trials deviate from the
  calibrated temperature and scale the trial's nociceptive (not the modulatory) response.

Nothing here reads a signature map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from scipy import fft as sp_fft
from scipy import ndimage, signal, stats

from mindpain.core.vocabulary import FRAMEWISE_DISPLACEMENT
from mindpain.core.vocabulary import MOTION_PARAMETERS as MOTION_COLUMNS
from mindpain.twin.patterns import GeneratorSpace, fwhm_to_sigma_vox

#: Physiological columns of the twin's confounds table (RETROICOR first-order terms).
PHYSIO_COLUMNS = ("cardiac_sin", "cardiac_cos", "respiratory_sin", "respiratory_cos")
#: Radius (mm) converting rotations to displacement in framewise displacement (Power 2012).
FD_RADIUS_MM = 50.0
#: Truncation (in SD) of the Gaussian kernels of the fast smooth fields (98.8% of the mass).
_TRUNCATE = 2.5
#: Latency grid (s) of the HRF family; a voxel's regressor interpolates between two of them.
LATENCY_GRID = np.arange(-2.5, 2.5001, 0.5)
#: Temporal oversampling of the HRF convolution.
_OVERSAMPLING = 16


# --------------------------------------------------------------------------- spatial fields


@lru_cache(maxsize=8)
def _box(margin: int, shape: tuple, mask_bytes: bytes):
    mask = np.frombuffer(mask_bytes, dtype=bool).reshape(shape)
    idx = np.argwhere(mask)
    lo = np.maximum(idx.min(0) - margin, 0)
    hi = np.minimum(idx.max(0) + 1 + margin, shape)
    sub = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
    return tuple(slice(a, b) for a, b in zip(lo, hi, strict=True)), sub


@lru_cache(maxsize=16)
def _kernel_norm32(sigma: float) -> float:
    radius = int(np.ceil(_TRUNCATE * sigma)) + 2
    impulse = np.zeros((2 * radius + 1,) * 3, np.float32)
    impulse[radius, radius, radius] = 1.0
    out = ndimage.gaussian_filter(impulse, sigma, mode="constant", truncate=_TRUNCATE)
    return float(np.sqrt((out.astype(float) ** 2).sum()))


def fast_smooth_field(space: GeneratorSpace, rng: np.random.Generator, n: int,
                      sigma_vox: float | None = None) -> np.ndarray:
    """``(n_vox, n)`` float32 smooth Gaussian fields of unit voxel variance.

    Cheaper than :func:`mindpain.twin.bold.smooth_field` (float32, only the mask's bounding
    box plus the kernel's reach, kernel truncated at 2.5 SD); statistically the same field.
    """
    sigma = space.noise_sigma_vox if sigma_vox is None else float(sigma_vox)
    margin = int(np.ceil(_TRUNCATE * sigma))
    box, sub = _box(margin, space.shape, space.mask.tobytes())
    shape = tuple(s.stop - s.start for s in box)
    white = rng.standard_normal(shape + (n,), dtype=np.float32)
    field = ndimage.gaussian_filter(white, (sigma,) * 3 + (0,), mode="constant",
                                    truncate=_TRUNCATE)
    field /= _kernel_norm32(sigma)
    return field[sub]


def shift_maps(space: GeneratorSpace, maps: dict, shift_mm: np.ndarray) -> dict:
    """Shift in-mask maps by ``shift_mm`` (x, y, z; linear interpolation), as misregistration."""
    step = np.diag(space.affine)[:3]
    shift_vox = np.asarray(shift_mm, float) / step
    out = {}
    for name, vec in maps.items():
        vol = space.to_volume(np.asarray(vec, float))
        out[name] = ndimage.shift(vol, shift_vox, order=1, mode="constant")[space.mask]
    return out


# --------------------------------------------------------------------------- motion


def simulate_motion(params, n_t: int, rng: np.random.Generator, scale: float = 1.0):
    """Six rigid-body parameters per volume, ``(n_t, 6)`` in :data:`MOTION_COLUMNS` order.

    A random walk (step SD ``nuisance.motion_step``) plus sudden jumps (rate and size
    ``nuisance.motion_spikes``) that return part of the way with a short time constant; all
    sizes times the participant's motion ``scale``. Translations in mm, rotations in rad.
    """
    step, spk = params["nuisance.motion_step"], params["nuisance.motion_spikes"]
    sd = np.array([step["translation_mm"]] * 3 + [step["rotation_rad"]] * 3) * scale
    steps = rng.standard_normal((n_t, 6)) * sd
    steps[0] = 0.0
    motion = np.cumsum(steps, axis=0)
    jump_sd = np.array([spk["translation_mm"]] * 3 + [spk["rotation_rad"]] * 3) * scale
    spikes = np.flatnonzero(rng.random(n_t) < spk["rate"])
    for t in spikes[spikes > 0]:
        tail = np.arange(n_t - t)
        profile = 1.0 - spk["return_fraction"] * (1.0 - np.exp(-tail / spk["decay_volumes"]))
        motion[t:] += rng.standard_normal(6) * jump_sd * profile[:, None]
    return motion


def framewise_displacement(motion: np.ndarray) -> np.ndarray:
    """Power et al. (2012) FD: sum of absolute backward differences, rotations at 50 mm.

    The first value is NaN (no previous volume), as in fMRIPrep's table.
    """
    diff = np.abs(np.diff(motion, axis=0))
    fd = diff[:, :3].sum(1) + FD_RADIUS_MM * diff[:, 3:].sum(1)
    return np.concatenate([[np.nan], fd])


@lru_cache(maxsize=8)
def _motion_geometry(params):
    """Per-voxel ``(A, grad, s0)``: displacement per parameter ``(n_vox, 3, 6)``, gradient of S0.

    On the grid of ``params``' generator space (:func:`mindpain.twin.patterns.generator_space`).
    """
    from mindpain.core.images import voxel_coords
    from mindpain.twin.patterns import generator_space

    space = generator_space(params)
    xyz = voxel_coords(space.shape, space.affine)[space.mask]
    r = xyz - xyz.mean(0)
    n = r.shape[0]
    A = np.zeros((n, 3, 6))
    A[:, 0, 0] = A[:, 1, 1] = A[:, 2, 2] = 1.0
    # small-angle rotation: omega x r
    A[:, 0, 4], A[:, 0, 5] = r[:, 2], -r[:, 1]
    A[:, 1, 5], A[:, 1, 3] = r[:, 0], -r[:, 2]
    A[:, 2, 3], A[:, 2, 4] = r[:, 1], -r[:, 0]
    # The baseline image outside the brain mask is not zero in a realigned EPI (CSF, edges):
    # the gradient is taken on the template's intensity over the whole grid, scaled as S0.
    from mindpain.core.images import template_intensity

    full = 0.6 + 0.4 * template_intensity(space.voxel_size)
    vol = full / full[space.mask].mean()
    spacing = np.diag(space.affine)[:3]
    grad = np.column_stack([g[space.mask] for g in np.gradient(vol, *spacing)])
    return A, grad, space.s0


def motion_signal(space: GeneratorSpace, params, motion: np.ndarray) -> np.ndarray:
    r"""Motion-related BOLD change (percent), ``(n_vox, n_t)`` float32.

    First order: :math:`-100\, g\, \nabla S_0(v) \cdot d(v, t) / S_0(v)` (linear in the six
    parameters, voxel by voxel); quadratic: minus ``nonlinear`` times its square; spin
    history: minus ``spin_history`` percent per mm of absolute through-plane displacement
    change, carried over to the next volume with weight ``spin_carryover``; spike volumes
    (FD above ``nuisance.outlier_fd_mm``): a global drop of ``spike_drop_percent`` per mm of
    FD.
    """
    art = params["nuisance.motion_artifact"]
    coef, dz_coef = _motion_coefficients(params, float(art["gain"]))
    m = motion.T.astype(np.float32)
    out = coef @ m
    out -= np.float32(art["nonlinear"]) * out * out
    step = np.zeros_like(m)
    step[:, 1:] = m[:, 1:] - m[:, :-1]
    change = np.abs(dz_coef @ step)  # through-plane displacement change per voxel
    out -= np.float32(art["spin_history"]) * change
    out[:, 1:] -= np.float32(art["spin_history"] * art["spin_carryover"]) * change[:, :-1]
    fd = np.nan_to_num(framewise_displacement(motion))
    spike = np.where(fd > params["nuisance.outlier_fd_mm"], fd, 0.0)
    out -= np.float32(art["spike_drop_percent"]) * spike.astype(np.float32)[None, :]
    return out


@lru_cache(maxsize=8)
def _motion_coefficients(params, gain: float):
    A, grad, s0 = _motion_geometry(params)
    coef = -100.0 * gain * np.einsum("vj,vjk->vk", grad, A) / s0[:, None]
    return coef.astype(np.float32), A[:, 2, :].astype(np.float32)


# --------------------------------------------------------------------------- physiology


def _bandpass_noise(rng, n_t: int, tr: float, low: float, high: float) -> np.ndarray:
    burn = 50
    white = rng.standard_normal(n_t + 2 * burn)
    nyq = 0.5 / tr
    b, a = signal.butter(2, [low / nyq, min(high / nyq, 0.99)], btype="band")
    out = signal.filtfilt(b, a, white)[burn:burn + n_t]
    return out / out.std()


def physio(space: GeneratorSpace, params, n_t: int, rng: np.random.Generator):
    """Physiological noise: ``(percent (n_vox, n_t), regressors DataFrame)``.

    Cardiac and respiratory phases advance at the session's own rates (with slow rate
    variability) and are sampled once per TR, so they alias to low frequencies (Glover et
    al. 2000); each voxel responds with a smooth amplitude and phase (two smooth maps per
    cycle, larger near the brain's edges). The RETROICOR first-order regressors
    (:data:`PHYSIO_COLUMNS`) are returned as a pulse oximeter and a belt would give them.
    A slow global fluctuation (0.01-0.1 Hz) is added everywhere.
    """
    ph = params["nuisance.physio"]
    tr = params["task.repetition_time"]
    t = np.arange(n_t) * tr
    _, grad, _ = _motion_geometry(params)
    edge = np.linalg.norm(grad, axis=1)
    edge = 0.5 + edge / edge.mean()
    edge /= np.sqrt((edge**2).mean())
    columns, amps = {}, []
    maps = fast_smooth_field(space, rng, 4, sigma_vox=2 * space.noise_sigma_vox)
    for k, name in enumerate(("cardiac", "respiratory")):
        rate = ph[f"{name}_hz"] + ph[f"{name}_hz_sd"] * rng.standard_normal()
        jitter = np.cumsum(0.05 * rate * tr * 2 * np.pi * rng.standard_normal(n_t))
        phase = 2 * np.pi * rate * t + rng.uniform(0, 2 * np.pi) + jitter
        columns[f"{name}_sin"], columns[f"{name}_cos"] = np.sin(phase), np.cos(phase)
        amps += [ph[f"{name}_percent"] * edge * maps[:, 2 * k],
                 ph[f"{name}_percent"] * edge * maps[:, 2 * k + 1]]
    slow = _bandpass_noise(rng, n_t, tr, 0.01, 0.1)
    amps.append(np.full(space.n_voxels, ph["global_percent"]))
    series = np.stack([columns[c] for c in PHYSIO_COLUMNS] + [slow]).astype(np.float32)
    percent = np.column_stack(amps).astype(np.float32) @ series
    return percent, pd.DataFrame(columns)


# --------------------------------------------------------------------------- noise


def _ar2_sd(a1: float, a2: float) -> float:
    return float(np.sqrt((1 - a2) / ((1 + a2) * ((1 - a2) ** 2 - a1**2))))


def _pink(rng, n_t: int, exponent: float, k: int) -> np.ndarray:
    freqs = np.fft.rfftfreq(n_t)
    freqs[0] = freqs[1]
    spec = (rng.standard_normal((k, freqs.size)) + 1j * rng.standard_normal((k, freqs.size)))
    series = np.fft.irfft(spec / freqs ** (exponent / 2), n=n_t, axis=1)
    series -= series.mean(1, keepdims=True)
    return series / series.std(1, keepdims=True)


def scanner_noise(space: GeneratorSpace, params, n_t: int, rng: np.random.Generator):
    """Draw noise that is not AR(1): percent, ``(n_vox, n_t)`` float32.

    Total voxel SD ``bold.noise_percent``. Thermal noise, white in space and time (share
    ``thermal_fraction``); 1/f noise on
    ``pink_components`` smooth spatial components (share ``pink_fraction``); AR(2) noise on
    ``smooth_components`` smooth spatial components (the rest). Each voxel's series mixes
    its components with the weights of smooth fields of unit voxel variance.
    """
    spec = params["nuisance.noise_ar"]
    a1, a2 = spec["ar1"], spec["ar2"]
    k_ar, k_pink = int(spec["smooth_components"]), int(spec["pink_components"])
    shares = {"thermal": spec["thermal_fraction"], "pink": spec["pink_fraction"]}
    shares["ar"] = 1.0 - shares["thermal"] - shares["pink"]
    burn = 50
    innov = rng.standard_normal((k_ar, n_t + burn))
    ar_series = signal.lfilter([1.0], [1.0, -a1, -a2], innov, axis=1)[:, burn:] / _ar2_sd(a1, a2)
    series = np.concatenate([ar_series * np.sqrt(shares["ar"] / k_ar),
                             _pink(rng, n_t, spec["pink_exponent"], k_pink)
                             * np.sqrt(shares["pink"] / k_pink)]).astype(np.float32)
    fields = fast_smooth_field(space, rng, k_ar + k_pink)
    noise = fields @ series
    noise += rng.standard_normal(noise.shape, dtype=np.float32) * np.float32(
        np.sqrt(shares["thermal"]))
    return noise * np.float32(params["bold.noise_percent"])


# --------------------------------------------------------------------------- HRF


def gamma_difference_hrf(dt: float, latency: float = 0.0, dispersion: float = 0.9,
                         ratio: float = 0.48, time_length: float = 32.0) -> np.ndarray:
    """Glover's double-gamma HRF as nilearn defines it, shifted by ``latency`` seconds.

    ``dispersion`` scales both gammas' dispersion (nilearn's Glover: 0.9), ``ratio`` is the
    undershoot ratio (0.48). Normalised as nilearn normalises the canonical HRF (sum 1 at
    ratio 0.48): the divisor is the sum with the canonical ratio, so a larger undershoot
    lowers the response's net area instead of inflating (or, above ratio 1, flipping) its
    peak.
    """
    times = np.linspace(0, time_length, int(np.rint(time_length / dt))) - latency
    peak = stats.gamma.pdf(times, 6.0 / dispersion, loc=dt, scale=dispersion)
    under = stats.gamma.pdf(times, 12.0 / dispersion, loc=dt, scale=dispersion)
    return (peak - ratio * under) / (peak.sum() - 0.48 * under.sum())


def participant_hrf(space: GeneratorSpace, params, rng: np.random.Generator) -> dict:
    """Draw one participant's HRF: latency shift per voxel (s), dispersion, undershoot ratio."""
    spec = params["nuisance.hrf"]
    shift = spec["latency_participant_sd"] * rng.standard_normal()
    sigma = fwhm_to_sigma_vox(spec["region_fwhm"], space.voxel_size)
    field = fast_smooth_field(space, rng, 1, sigma_vox=sigma)[:, 0].astype(float)
    field = (field - field.mean()) / field.std()
    latency = shift + spec["latency_region_sd"] * field
    return {"latency": np.clip(latency, LATENCY_GRID[0], LATENCY_GRID[-1]),
            "participant_shift": float(shift),
            "dispersion": 0.9 * float(np.exp(spec["dispersion_log_sd"] * rng.standard_normal())),
            "ratio": 0.48 * float(np.exp(spec["undershoot_log_sd"] * rng.standard_normal()))}


@lru_cache(maxsize=64)
def _kernel_spectra(dt: float, dispersion: float, ratio: float, n_fft: int) -> np.ndarray:
    """Real FFT (length ``n_fft``) of the HRF at every latency of :data:`LATENCY_GRID`."""
    kernels = np.stack([gamma_difference_hrf(dt, lat, dispersion, ratio)
                        for lat in LATENCY_GRID])
    return sp_fft.rfft(kernels, n_fft, axis=1)


def hrf_regressors(events: pd.DataFrame, weights: dict, n_t: int, tr: float, hrf: dict):
    """Condition regressors at every latency of :data:`LATENCY_GRID`.

    ``weights`` maps a regressor name to ``(trial_type, per-event amplitude or None)``.
    Returns ``{name: (n_latencies, n_t)}``.

    Each regressor is the oversampled boxcar convolved with the HRF at each latency. The
    convolution is :func:`scipy.signal.fftconvolve`'s (the same FFT length, products and
    inverse transform, so the same numbers bit for bit), with the kernels' spectra computed
    once per HRF shape and the inverse transforms of all latencies taken at once.
    """
    dt = tr / _OVERSAMPLING
    n_fine = n_t * _OVERSAMPLING
    n_kernel = int(np.rint(32.0 / dt))  # gamma_difference_hrf's length
    n_fft = sp_fft.next_fast_len(n_fine + n_kernel - 1, True)
    spectra = _kernel_spectra(dt, float(hrf["dispersion"]), float(hrf["ratio"]), n_fft)
    out = {}
    for name, (trial_type, amp) in weights.items():
        rows = events[events["trial_type"] == trial_type]
        amp = np.ones(len(rows)) if amp is None else np.asarray(amp, float)
        box = np.zeros(n_fine)
        for (onset, duration), a in zip(rows[["onset", "duration"]].to_numpy(), amp,
                                        strict=True):
            i0 = int(np.rint(onset / dt))
            i1 = max(int(np.rint((onset + duration) / dt)), i0 + 1)
            box[i0:min(i1, n_fine)] += a
        conv = sp_fft.irfft(sp_fft.rfft(box, n_fft)[None, :] * spectra, n_fft, axis=1)
        out[name] = conv[:, :n_fine][:, ::_OVERSAMPLING]
    return out


def voxel_task(betas: dict, regressors: dict, latency: np.ndarray) -> np.ndarray:
    """Task signal ``(n_vox, n_t)`` float32: each voxel's regressors interpolated at its latency."""
    names = list(betas)
    pos = (latency - LATENCY_GRID[0]) / (LATENCY_GRID[1] - LATENCY_GRID[0])
    lo = np.clip(np.floor(pos).astype(int), 0, LATENCY_GRID.size - 2)
    w = np.clip(pos - lo, 0.0, 1.0)[:, None].astype(np.float32)
    B = np.column_stack([betas[n] for n in names]).astype(np.float32)
    X = np.stack([regressors[n] for n in names], axis=1).astype(np.float32)  # (lat, cond, t)
    order = np.argsort(lo, kind="stable")
    bounds = np.searchsorted(lo[order], np.arange(LATENCY_GRID.size))
    out = np.empty((B.shape[0], X.shape[2]), np.float32)
    for b in range(LATENCY_GRID.size - 1):
        idx = order[bounds[b]:bounds[b + 1]]
        if idx.size:
            Bw = B[idx] * w[idx]
            out[idx] = (B[idx] - Bw) @ X[b] + Bw @ X[b + 1]
    return out


# --------------------------------------------------------------------------- temperature


def hot_temperature_offsets(params, n_hot: int, rng: np.random.Generator) -> np.ndarray:
    """Deviation of each hot trial from the calibrated temperature (degC), in random order."""
    levels = np.resize(np.asarray(params["nuisance.hot_temperature_offsets"], float), n_hot)
    return rng.permutation(levels)


# --------------------------------------------------------------------------- confounds


def confounds_table(params, motion: np.ndarray, physio_columns: pd.DataFrame,
                    global_signal: np.ndarray) -> pd.DataFrame:
    """Build the run's confounds table, named as fMRIPrep names them.

    ``trans_x .. rot_z``, their ``*_derivative1`` (first row n/a), ``framewise_displacement``
    (first row n/a), ``global_signal``, the RETROICOR regressors :data:`PHYSIO_COLUMNS`, and
    one ``motion_outlierNN`` column per volume with FD above ``nuisance.outlier_fd_mm`` (1
    at that volume, else 0), as fMRIPrep writes them.
    """
    table = pd.DataFrame(motion, columns=list(MOTION_COLUMNS))
    for col in MOTION_COLUMNS:
        table[f"{col}_derivative1"] = table[col].diff()
    fd = framewise_displacement(motion)
    table[FRAMEWISE_DISPLACEMENT] = fd
    table["global_signal"] = global_signal
    for col in PHYSIO_COLUMNS:
        table[col] = physio_columns[col].to_numpy()
    outliers = np.flatnonzero(np.nan_to_num(fd) > params["nuisance.outlier_fd_mm"])
    for k, t in enumerate(outliers):
        col = np.zeros(len(table))
        col[t] = 1.0
        table[f"motion_outlier{k:02d}"] = col
    return table


CONFOUNDS_SIDECAR = {
    **{c: {"Description": f"Rigid-body head motion parameter ({'translation, mm' if c.startswith('trans') else 'rotation, rad'}) relative to the run's reference volume (simulated)"} for c in MOTION_COLUMNS},  # noqa: E501
    **{f"{c}_derivative1": {"Description": f"Backward difference of {c}; n/a in the first row"}
       for c in MOTION_COLUMNS},
    FRAMEWISE_DISPLACEMENT: {"Description": "Framewise displacement (Power et al. 2012): sum "
                               "of absolute backward differences of the six parameters, "
                               "rotations converted at 50 mm; n/a in the first row",
                               "Units": "mm"},
    "global_signal": {"Description": "Mean BOLD intensity within the brain mask"},
    **{c: {"Description": f"RETROICOR first-order {c.split('_')[1]} term of the "
                          f"{c.split('_')[0]} phase (Glover et al. 2000), as recorded "
                          "(simulated)"} for c in PHYSIO_COLUMNS},
    "motion_outlierXX": {"Description": "One column per volume whose framewise displacement "
                         "exceeds the threshold (0.5 mm): 1 at that volume, 0 elsewhere "
                         "(fMRIPrep convention)"},
}
