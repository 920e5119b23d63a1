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
    Open surrogates built by :mod:`mindpain.signatures.surrogates` (smooth signed blobs at the
    approximate published region centres). They are **not** the published maps; every
    :class:`Signature` says so in ``is_surrogate`` and ``label``.
any NIfTI path
    A custom signature (weights; 0/NaN = outside the pattern).

``<data_dir>`` is :attr:`mindpain.core.config.Config.data_dir` (``$MINDPAIN_DATA``, else the
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
This module holds the registry: the :class:`Signature` type, the registered names,
:func:`get_signature` and :func:`default_signatures`. Its parts, one concern each:
:mod:`~mindpain.signatures.files` (official files: where they are expected, reading a weight
map, the SIIPS1 checksum record, :func:`fetch_siips1`) and
:mod:`~mindpain.signatures.regions` (approximate subregions, one sign's weights); their
public names are importable from ``mindpain.signatures`` itself.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError
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
    check_analyze_pair,
    fetch_siips1,
    load_weights,
    missing_message,
    nps_path,
    official_path,
    signature_dir,
    siips1_path,
    verified_siips1,
)
from mindpain.signatures.regions import (
    REGION_RADIUS_MM,
    approximate_regions,
    region_centres,
    split_sign,
)

__all__ = ["DEFAULTS", "NIFTI_SUFFIXES", "NPS_CITATION", "NPS_FILENAMES", "NPS_HOW_TO_OBTAIN",
           "NPS_STEM", "REGION_RADIUS_MM", "REGISTERED", "SIGNATURES_DIRNAME",
           "SIIPS1_CHECKSUM_FILENAME", "SIIPS1_CITATION", "SIIPS1_COMMIT", "SIIPS1_FILENAME",
           "SIIPS1_URL", "Signature", "approximate_regions", "available_signatures",
           "default_signatures", "fetch_siips1", "get_signature", "nps_path", "siips1_path",
           "signature_dir"]

NPS_CITATION = ("Wager TD, Atlas LY, Lindquist MA, Roy M, Woo CW, Kross E (2013). An fMRI-based "
                "neurologic signature of physical pain. N Engl J Med 368:1388-1397. "
                "doi:10.1056/NEJMoa1204471")
SIIPS1_CITATION = ("Woo CW, Schmidt L, Krishnan A, Jepma M, Roy M, Lindquist MA, Atlas LY, "
                   "Wager TD (2017). Quantifying cerebral contributions to pain beyond "
                   "nociception. Nat Commun 8:14211. doi:10.1038/ncomms14211")

_OFFICIAL = {
    "nps": ("nps", None, "NPS"),
    "nps-pos": ("nps", +1, "NPSpos"),
    "nps-neg": ("nps", -1, "NPSneg"),
    "siips1": ("siips1", None, "SIIPS1"),
}
_SURROGATE = {
    "nps-surrogate": ("nps-surrogate", None, "NPS (open surrogate)"),
    "nps-surrogate-pos": ("nps-surrogate", +1, "NPSpos (open surrogate)"),
    "nps-surrogate-neg": ("nps-surrogate", -1, "NPSneg (open surrogate)"),
    "siips1-surrogate": ("siips1-surrogate", None, "SIIPS1 (open surrogate)"),
}
#: Every registered name.
REGISTERED = tuple(_OFFICIAL) + tuple(_SURROGATE)
#: The two signatures the book scores: official name -> surrogate name.
DEFAULTS = {"nps": "nps-surrogate", "siips1": "siips1-surrogate"}


@dataclass(frozen=True, eq=False)
class Signature:
    """A signature's weights and what is known about them.

    Attributes
    ----------
    name : str
        Registered name (``"nps"``, ``"nps-surrogate"``, ...) or the file name of a custom map.
    label : str
        Human-readable name for tables and figures, e.g. ``"NPS (open surrogate)"``.
    is_surrogate : bool
        True for the project's open surrogates (not the published maps).
    weights : nibabel.Nifti1Image
        3-D weights; 0 (or NaN) = outside the pattern.
    labels : nibabel.Nifti1Image or None
        Integer region labels on the weights' grid (0 = none); every non-zero weight has one.
    regions : pandas.DataFrame or None
        ``label, region, sign`` (and more) for each label.
    source : str
        File path or how the map was built.
    citation : str
        Reference to cite.
    sha256 : str
        Checksum of the weight file (official/custom) or of the float32 weight array
        (surrogates, which have no file).
    path : pathlib.Path or None
        The weight file, if any.
    nan_weights : int
        NaN weights the file held, read as outside the pattern (0 for the surrogates).
    """

    name: str
    label: str
    is_surrogate: bool
    weights: nib.Nifti1Image = field(repr=False)
    labels: nib.Nifti1Image | None = field(default=None, repr=False)
    regions: pd.DataFrame | None = field(default=None, repr=False)
    source: str = ""
    citation: str = ""
    sha256: str = ""
    path: Path | None = None
    nan_weights: int = 0

    def describe(self) -> dict:
        """Return the JSON-ready description written into output sidecars."""
        return {"name": self.name, "label": self.label, "is_surrogate": self.is_surrogate,
                "sha256": self.sha256, "source": self.source, "citation": self.citation,
                "nan_weights_outside_pattern": int(self.nan_weights),
                "regions": [] if self.regions is None else self.regions["region"].tolist()}


def _array_sha256(*arrays) -> str:
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


@lru_cache(maxsize=16)
def _official(base: str, path_str: str, size: int, mtime_ns: int) -> tuple:
    """Load and verify an official file (cached per file state)."""
    path = Path(path_str)
    sha = verified_siips1(path) if base == "siips1" else sha256(path)
    weights = load_weights(path)
    labels, regions = approximate_regions(
        weights, region_centres(DEFAULTS[base]))
    return weights, labels, regions, sha


def _official_signature(name: str, data_dir=None) -> Signature:
    base, sign, label = _OFFICIAL[name]
    path = official_path(base, data_dir)
    if path is None:
        raise MindpainError(missing_message(base, data_dir))
    check_analyze_pair(path)
    st = path.stat()
    weights, labels, regions, sha = _official(base, str(path), st.st_size, st.st_mtime_ns)
    n_nan = int(weights.extra.get("nan_weights", 0))
    if sign is not None:
        weights, labels, regions = split_sign(weights, labels, regions, sign)
    citation = NPS_CITATION if base == "nps" else SIIPS1_CITATION
    return Signature(name=name, label=label, is_surrogate=False, weights=weights,
                     labels=labels, regions=regions, source=str(path), citation=citation,
                     sha256=sha, path=path, nan_weights=n_nan)


@lru_cache(maxsize=8)
def _surrogate_signature(name: str, cache_dir: str | None = None) -> Signature:
    from mindpain.signatures.surrogates import SURROGATE_VERSION, load_surrogate

    base, sign, label = _SURROGATE[name]
    s = load_surrogate(base, cache_dir)
    weights, labels, regions = s.weights, s.labels, s.regions
    if sign is not None:
        weights, labels, regions = split_sign(weights, labels, regions, sign)
    cited = NPS_CITATION if base.startswith("nps") else SIIPS1_CITATION
    return Signature(
        name=name, label=label, is_surrogate=True, weights=weights, labels=labels,
        regions=regions,
        source=(f"mindpain.signatures.surrogates.build_surrogate({base!r}), version "
                f"{SURROGATE_VERSION}: smooth signed blobs at approximate region centres; "
                "NOT the published map"),
        citation=f"open surrogate standing in for: {cited}",
        sha256=_array_sha256(np.asarray(weights.dataobj, dtype=np.float32)),
    )


def _custom_signature(path: Path) -> Signature:
    if not path.is_file():
        raise MindpainError("file not found; expected a signature weight map (NIfTI)", path)
    weights = load_weights(path)
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        name = name.removesuffix(suffix)
    return Signature(name=name, label=f"{name} (custom)", is_surrogate=False, weights=weights,
                     source=str(path), sha256=sha256(path), path=path,
                     nan_weights=int(weights.extra.get("nan_weights", 0)))


def get_signature(name_or_path, data_dir=None, cache_dir=None) -> Signature:
    """Return a registered signature by name, or a custom one from a NIfTI path.

    Parameters
    ----------
    name_or_path : str, path-like or Signature
        One of :data:`REGISTERED` or a path to a 3-D weight map.
    data_dir : path-like, optional
        Where official files are looked up (the configuration's
        :attr:`~mindpain.core.config.Config.data_dir`); ``None``: nowhere, so an official
        name is an error that says where the file belongs.
    cache_dir : path-like, optional
        Where built surrogates are kept (:func:`mindpain.signatures.surrogates.load_surrogate`);
        ``None``: built once per process.

    Returns
    -------
    Signature

    Raises
    ------
    mindpain.core.errors.MindpainError
        Unknown name, missing official file (the message says how to obtain it and where
        to put it), unreadable file or checksum mismatch.

    Examples
    --------
    >>> sig = get_signature("nps-surrogate")
    >>> sig.label, sig.is_surrogate
    ('NPS (open surrogate)', True)
    """
    if isinstance(name_or_path, Signature):
        return name_or_path
    key = str(name_or_path)
    if key in _OFFICIAL:
        return _official_signature(key, data_dir)
    if key in _SURROGATE:
        return _surrogate_signature(key, None if cache_dir is None else str(cache_dir))
    path = Path(os.path.expanduser(key))
    if path.suffix in (".nii", ".gz", ".img", ".hdr") or path.exists():
        if path.suffix == ".hdr":
            path = path.with_suffix(".img")
        return _custom_signature(path)
    raise MindpainError(f"unknown signature {key!r}; expected one of {', '.join(REGISTERED)} "
                        "or a path to a NIfTI weight map")


def available_signatures(data_dir=None) -> list[str]:
    """Names of the registered signatures that can be loaded now (files present).

    Examples
    --------
    >>> "nps-surrogate" in available_signatures()
    True
    """
    names = []
    if nps_path(data_dir) is not None:
        names += ["nps", "nps-pos", "nps-neg"]
    if siips1_path(data_dir) is not None:
        names.append("siips1")
    return names + list(_SURROGATE)


def default_signatures(data_dir=None, cache_dir=None) -> list[Signature]:
    """Return the NPS and SIIPS1 to score: official if in ``data_dir``, else surrogates.

    Each is chosen on its own (a user with SIIPS1 but no NPS gets the official SIIPS1 and
    the NPS surrogate).

    Parameters
    ----------
    data_dir : path-like, optional
        Where official files are looked up (the configuration's
        :attr:`~mindpain.core.config.Config.data_dir`); ``None``: the surrogates.
    cache_dir : path-like, optional
        Where built surrogates are kept (see :func:`get_signature`).

    Examples
    --------
    >>> [s.name for s in default_signatures()]  # without official files
    ['nps-surrogate', 'siips1-surrogate']
    """
    present = set(available_signatures(data_dir)) if data_dir is not None else set()
    return [get_signature(official if official in present else surrogate, data_dir, cache_dir)
            for official, surrogate in DEFAULTS.items()]
