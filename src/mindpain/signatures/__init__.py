"""Registry of pain signatures: official maps if the user has them, open surrogates otherwise.

Registered names
----------------
``nps``, ``nps-pos``, ``nps-neg``
    The Neurologic Pain Signature (Wager et al. 2013) and its positive / negative
    weights. Licensed: available for research use on request from Prof. Tor Wager
    (CANlab); never downloaded or shipped. Put the file you received here::

        <data_dir>/signatures/nps/weights_NSF_grouppred_cvpcr.img   (+ .hdr)
        # or weights_NSF_grouppred_cvpcr.nii / .nii.gz

``siips1``
    The Stimulus Intensity Independent Pain Signature-1 (Woo et al. 2017)::

        <data_dir>/signatures/siips1/nonnoc_v11_4_137subjmap_weighted_mean.nii.gz
        <data_dir>/signatures/siips1/siips1.sha256.json   (checksum, written on first fetch)

    :func:`fetch_siips1` downloads it (only when called) from a pinned commit of
    github.com/canlab/Neuroimaging_Pattern_Masks and records its sha256; every later load
    verifies it.
``nps-surrogate``, ``nps-surrogate-pos``, ``nps-surrogate-neg``, ``siips1-surrogate``
    Open surrogates built by :mod:`mindpain.surrogates` (smooth signed blobs at the
    approximate published region centres). They are **not** the published maps; every
    :class:`Signature` says so in ``is_surrogate`` and ``label``.
any NIfTI path
    A custom signature (weights; 0/NaN = outside the pattern).

``<data_dir>`` is :attr:`mindpain.config.Config.data_dir` (``$MINDPAIN_DATA``, else the
user cache ``~/.cache/mindpain``). :func:`default_signatures` returns the official NPS and
SIIPS1 when present there and the surrogates otherwise, so the book switches to the real
maps automatically.

Subregions of official maps
---------------------------
CANlab's ``apply_nps`` scores NPS subregions with its own region masks, which are not
available here. For an official map each non-zero voxel is assigned to the nearest
approximate region centre of the same sign (``STUDY.md``; the same centres as the
surrogates) within :data:`REGION_RADIUS_MM`; voxels farther from every centre of their
sign form ``other_pos`` / ``other_neg``. This *approximates* CANlab's subregions; the
regions partition the pattern, so local scores add up to the whole.

Modules
-------
One module per concern: :mod:`~mindpain.signatures.registry` (the :class:`Signature` type,
the registered names, :func:`get_signature`, :func:`default_signatures`),
:mod:`~mindpain.signatures.files` (official files: where they are expected, reading a weight
map, the SIIPS1 checksum record, :func:`fetch_siips1`) and
:mod:`~mindpain.signatures.regions` (approximate subregions, one sign's weights). The names
below are importable from ``mindpain.signatures`` itself.
"""

from mindpain.signatures.files import (
    NIFTI_SUFFIXES,
    NPS_FILENAMES,
    NPS_HOW_TO_OBTAIN,
    NPS_STEM,
    SIGNATURES_DIRNAME,
    SIIPS1_CHECKSUM_FILENAME,
    SIIPS1_COMMIT,
    SIIPS1_FILENAME,
    SIIPS1_URL,
    fetch_siips1,
    nps_path,
    signature_dir,
    siips1_path,
)
from mindpain.signatures.regions import REGION_RADIUS_MM, approximate_regions
from mindpain.signatures.registry import (
    DEFAULTS,
    NPS_CITATION,
    REGISTERED,
    SIIPS1_CITATION,
    Signature,
    available_signatures,
    default_signatures,
    get_signature,
)

__all__ = ["DEFAULTS", "NIFTI_SUFFIXES", "NPS_CITATION", "NPS_FILENAMES", "NPS_HOW_TO_OBTAIN",
           "NPS_STEM", "REGION_RADIUS_MM", "REGISTERED", "SIGNATURES_DIRNAME",
           "SIIPS1_CHECKSUM_FILENAME", "SIIPS1_CITATION", "SIIPS1_COMMIT", "SIIPS1_FILENAME",
           "SIIPS1_URL", "Signature", "approximate_regions", "available_signatures",
           "default_signatures", "fetch_siips1", "get_signature", "nps_path", "siips1_path",
           "signature_dir"]
