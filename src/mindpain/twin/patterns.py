r"""The twin's own spatial patterns: what the simulated brain does, built without any signature.

The hot>warm response of a participant-session is

.. math:: \beta = a_{noc}\,P_{noc} + a_{mod}\,P_{mod} + g\,G + e

with :math:`P_{noc}` a **nociceptive** pattern (activation of the regions that receive
nociceptive input, deactivation of default-mode and lateral occipital regions),
:math:`P_{mod}` a **modulatory** pattern ("pain beyond nociception": valuation and control
regions), :math:`G` a generic activation common to every session (somatosensory and motor
regions), and :math:`e` a smooth idiosyncratic pattern of the session. :math:`a_{noc}`,
:math:`a_{mod}` are the session's latent responses (percent signal change at the pattern's
peak) drawn by :mod:`mindpain.twin.participants`.

Each of :math:`P_{noc}, P_{mod}` is a sum of Gaussian regions (centres, widths and signed
amplitudes from the parameter file: the published regions of the study's signatures plus
regions they do not cover) mixed with smooth random structure from a seed of the parameter
file. **This module reads no signature map** (it imports neither
:mod:`mindpain.signatures.surrogates` nor :mod:`mindpain.signatures`; a test checks this): the
patterns are not the scoring weights, and nothing is orthogonalised against them. How
similar they are to the signatures is a property of the pair, measured by
:mod:`mindpain.twin.model` and asserted against the stated value in the parameter file.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import ndimage

from mindpain.core.config import derive_rng
from mindpain.core.images import mask_array, mni_grid, template_intensity, voxel_coords
from mindpain.core.vocabulary import LATENTS
from mindpain.twin.params import Parameters


def blob_map(xyz: np.ndarray, regions, sigma: float) -> np.ndarray:
    """Sum of signed Gaussian regions.

    ``regions`` holds tables with ``centre`` (mm), ``amplitude`` and an optional ``sigma``
    (mm; default ``sigma``).
    """
    out = np.zeros(xyz.shape[:-1])
    for region in regions:
        width = float(region.get("sigma", sigma))
        r2 = ((xyz - np.asarray(region["centre"], float)) ** 2).sum(-1)
        out += float(region["amplitude"]) * np.exp(-r2 / (2 * width**2))
    return out


def fwhm_to_sigma_vox(fwhm_mm: float, voxel: float) -> float:
    """Convert a Gaussian kernel's FWHM (mm) to its SD in voxels of size ``voxel`` (mm)."""
    return fwhm_mm / (2 * np.sqrt(2 * np.log(2))) / voxel


@lru_cache(maxsize=8)
def kernel_norm(sigma: float) -> float:
    """L2 norm of the discrete Gaussian kernel (so smoothed white noise has unit variance)."""
    impulse = np.zeros((41, 41, 41))
    impulse[20, 20, 20] = 1.0
    return float(np.sqrt((ndimage.gaussian_filter(impulse, sigma, mode="constant") ** 2).sum()))


@dataclass(frozen=True)
class GeneratorSpace:
    """Grid, mask and the fixed maps of the twin's BOLD generator for one preset.

    All ``vec`` maps hold in-mask voxels. ``patterns`` maps each of :data:`LATENTS` to its
    pattern (peak absolute value 1); ``generic``, ``warm`` and ``rating`` have peak 1.
    """

    preset: str
    voxel_size: float
    shape: tuple
    affine: np.ndarray
    mask: np.ndarray
    patterns: dict
    generic: np.ndarray
    warm: np.ndarray
    rating: np.ndarray
    s0: np.ndarray  # in-mask baseline signal shape (mean 1)
    noise_sigma_vox: float  # noise FWHM -> sigma in voxels

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

    def pattern_matrix(self) -> np.ndarray:
        """``(n_vox, 2)``: the latent patterns as columns, in :data:`LATENTS` order."""
        return np.column_stack([self.patterns[k] for k in LATENTS])


def build_pattern(params, name: str, xyz: np.ndarray, mask: np.ndarray, voxel: float):
    """Build the latent pattern ``name`` from the parameter file (peak absolute value 1).

    The region part (``patterns.<name>_regions``, Gaussian of width ``patterns.sigma``) and
    a smooth random field (FWHM ``patterns.random_fwhm``, seed ``patterns.seed``) are each
    scaled to unit norm and mixed with weight ``patterns.random_weight[name]`` on the field.
    """
    part = blob_map(xyz, params[f"patterns.{name}_regions"], params["patterns.sigma"])[mask]
    rng = derive_rng(params["patterns.seed"], "pattern", name)
    field = ndimage.gaussian_filter(rng.standard_normal(mask.shape),
                                    fwhm_to_sigma_vox(params["patterns.random_fwhm"], voxel),
                                    mode="constant")[mask]
    field -= field.mean()
    mix = (part / np.linalg.norm(part)
           + params["patterns.random_weight"][name] * field / np.linalg.norm(field))
    return mix / np.abs(mix).max()


@lru_cache(maxsize=8)
def generator_space(params: Parameters) -> GeneratorSpace:
    """Build the :class:`GeneratorSpace` of ``params``' preset (deterministic; cached).

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (:func:`~mindpain.twin.params.load_parameters`); the space
        reads the preset's grid and the ``patterns`` section, the same in every world.

    Returns
    -------
    GeneratorSpace
        Grid, mask and the generator's fixed maps.
    """
    preset = params.preset
    voxel = float(params["bold.voxel_size"][preset])
    shape, affine = mni_grid(voxel)
    mask = mask_array(voxel).copy()
    xyz = voxel_coords(shape, affine)

    def peak_one(regions, sigma):
        out = blob_map(xyz, regions, sigma)[mask]
        return out / np.abs(out).max()

    s0 = 0.6 + 0.4 * template_intensity(voxel)[mask]
    return GeneratorSpace(
        preset=preset, voxel_size=voxel, shape=shape, affine=affine, mask=mask,
        patterns={k: build_pattern(params, k, xyz, mask, voxel) for k in LATENTS},
        generic=peak_one(params["patterns.generic_regions"], params["patterns.sigma"]),
        warm=peak_one(params["patterns.warm_regions"], params["patterns.sigma"]),
        rating=peak_one(params["patterns.rating_regions"], params["patterns.sigma"]),
        s0=s0 / s0.mean(),
        noise_sigma_vox=fwhm_to_sigma_vox(params["bold.noise_fwhm"], voxel),
    )


def smooth_noise_operator(space: GeneratorSpace, vec: np.ndarray) -> np.ndarray:
    """Apply the BOLD noise model's spatial operator (smoothing, unit voxel variance)."""
    vol = space.to_volume(vec.astype(float))
    out = ndimage.gaussian_filter(vol, space.noise_sigma_vox, mode="constant") / kernel_norm(
        space.noise_sigma_vox)
    return out[space.mask]
