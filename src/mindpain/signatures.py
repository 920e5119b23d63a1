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
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.errors import MindpainError
from mindpain.images import voxel_coords
from mindpain.io import sha256

#: Pinned commit of github.com/canlab/Neuroimaging_Pattern_Masks that holds SIIPS1.
SIIPS1_COMMIT = "05b99bb12724c042a7c85c4bc09f585f6dc120e5"
SIIPS1_FILENAME = "nonnoc_v11_4_137subjmap_weighted_mean.nii.gz"
SIIPS1_URL = (f"https://raw.githubusercontent.com/canlab/Neuroimaging_Pattern_Masks/"
              f"{SIIPS1_COMMIT}/Multivariate_signature_patterns/2017_Woo_SIIPS1/"
              f"{SIIPS1_FILENAME}")
#: Name of the checksum record written next to the SIIPS1 file.
SIIPS1_CHECKSUM_FILENAME = "siips1.sha256.json"
NPS_STEM = "weights_NSF_grouppred_cvpcr"
#: Accepted NPS file names, in order of preference (``.img`` needs its ``.hdr``).
NPS_FILENAMES = (f"{NPS_STEM}.img", f"{NPS_STEM}.nii.gz", f"{NPS_STEM}.nii")
#: Sub-folder of the data directory holding official signature files.
SIGNATURES_DIRNAME = "signatures"
#: Radius (mm) within which a voxel of an official map joins an approximate region centre.
REGION_RADIUS_MM = 16.0
NIFTI_SUFFIXES = (".nii", ".nii.gz", ".img", ".hdr")

NPS_CITATION = ("Wager TD, Atlas LY, Lindquist MA, Roy M, Woo CW, Kross E (2013). An fMRI-based "
                "neurologic signature of physical pain. N Engl J Med 368:1388-1397. "
                "doi:10.1056/NEJMoa1204471")
SIIPS1_CITATION = ("Woo CW, Schmidt L, Krishnan A, Jepma M, Roy M, Lindquist MA, Atlas LY, "
                   "Wager TD (2017). Quantifying cerebral contributions to pain beyond "
                   "nociception. Nat Commun 8:14211. doi:10.1038/ncomms14211")
NPS_HOW_TO_OBTAIN = ("the NPS is not public: it is available for research use on request from "
                     "Prof. Tor Wager (CANlab, https://canlab.github.io); mindpain never "
                     "downloads it")

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

    def describe(self) -> dict:
        """Return the JSON-ready description written into output sidecars."""
        return {"name": self.name, "label": self.label, "is_surrogate": self.is_surrogate,
                "sha256": self.sha256, "source": self.source, "citation": self.citation,
                "regions": [] if self.regions is None else self.regions["region"].tolist()}


def _data_dir(data_dir=None) -> Path:
    if data_dir is not None:
        return Path(data_dir)
    from mindpain.config import get_config

    return get_config().data_dir


def signature_dir(name: str, data_dir=None) -> Path:
    """Folder where the official signature ``name`` (``"nps"``/``"siips1"``) is expected."""
    return _data_dir(data_dir) / SIGNATURES_DIRNAME / name


def nps_path(data_dir=None) -> Path | None:
    """Return the NPS weight file in the data directory, or None if absent."""
    folder = signature_dir("nps", data_dir)
    for fname in NPS_FILENAMES:
        if (folder / fname).is_file():
            return folder / fname
    return None


def siips1_path(data_dir=None) -> Path | None:
    """Return the SIIPS1 weight file in the data directory, or None if absent."""
    folder = signature_dir("siips1", data_dir)
    for fname in (SIIPS1_FILENAME, SIIPS1_FILENAME.removesuffix(".gz")):
        if (folder / fname).is_file():
            return folder / fname
    return None


def _missing_nps_message(data_dir=None) -> str:
    where = signature_dir("nps", data_dir) / NPS_FILENAMES[0]
    return (f"signature 'nps' not found: {NPS_HOW_TO_OBTAIN}; put the file you receive at "
            f"{where} (with its .hdr; or {NPS_STEM}.nii.gz in the same folder), or use "
            "'nps-surrogate'")


def _missing_siips1_message(data_dir=None) -> str:
    where = signature_dir("siips1", data_dir) / SIIPS1_FILENAME
    return (f"signature 'siips1' not found at {where}; run "
            "`python -c 'import mindpain.signatures as s; s.fetch_siips1()'` with network "
            f"access (downloads {SIIPS1_URL}), or use 'siips1-surrogate'")


# --------------------------------------------------------------------------- loading files

def _load_weights(path: Path) -> nib.Nifti1Image:
    """Read a 3-D weight map; NaN/inf become 0 (outside the pattern)."""
    if path.suffix == ".img" and not path.with_suffix(".hdr").is_file():
        raise MindpainError("has no .hdr beside it; expected the Analyze pair .img + .hdr", path)
    try:
        img = nib.load(path)
        data = np.asarray(img.dataobj, dtype=np.float64)
    except Exception as err:  # nibabel raises many types for corrupt files
        raise MindpainError(f"cannot be read as a NIfTI/Analyze image ({type(err).__name__}: "
                            f"{err}); expected a 3-D weight map", path) from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise MindpainError(f"has shape {data.shape}; expected a 3-D weight map", path)
    data = np.nan_to_num(data, nan=0.0, posinf=0.0, neginf=0.0)
    if not np.any(data):
        raise MindpainError("has no non-zero weight; expected a signature weight map", path)
    return _make(data, img.affine)


def _make(data, affine) -> nib.Nifti1Image:
    img = nib.Nifti1Image(np.asarray(data, dtype=np.float32), np.asarray(affine, float))
    img.header.set_xyzt_units("mm")
    return img


def _array_sha256(*arrays) -> str:
    digest = hashlib.sha256()
    for arr in arrays:
        digest.update(np.ascontiguousarray(arr).tobytes())
    return digest.hexdigest()


def _read_checksum_record(path: Path) -> dict | None:
    record = path.parent / SIIPS1_CHECKSUM_FILENAME
    if not record.is_file():
        return None
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError) as err:
        raise MindpainError(f"cannot be read as JSON ({err}); delete it and fetch SIIPS1 "
                            "again", record) from None


def _write_checksum_record(path: Path, sha: str, how: str, url: str | None = None) -> None:
    from mindpain.io import write_json

    write_json(path.parent / SIIPS1_CHECKSUM_FILENAME, {
        "file": path.name, "sha256": sha, "how": how, "url": url,
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def _verified_siips1(path: Path) -> str:
    """Check SIIPS1 against its recorded sha256 (recording it if no record exists)."""
    sha = sha256(path)
    record = _read_checksum_record(path)
    if record is None:
        _write_checksum_record(path, sha, how="first load of a file put here by hand")
        return sha
    if record.get("file") == path.name and record.get("sha256") != sha:
        raise MindpainError(f"sha256 {sha[:12]}… differs from the one recorded at first fetch "
                            f"({str(record.get('sha256'))[:12]}… in {SIIPS1_CHECKSUM_FILENAME}); "
                            "the file changed: delete both files and fetch SIIPS1 again", path)
    return sha


def fetch_siips1(data_dir=None, *, url: str = SIIPS1_URL, timeout: float = 60,
                 opener=None) -> Path:
    """Download SIIPS1 (Woo et al. 2017) into the data directory, once.

    Only this function touches the network, and only when called. The file comes from a
    pinned commit of canlab/Neuroimaging_Pattern_Masks (the repository has no licence file,
    so the project never ships it). Its sha256 is recorded in ``siips1.sha256.json`` next
    to it and verified on every later load.

    Parameters
    ----------
    data_dir : path-like, optional
        Default: :attr:`mindpain.config.Config.data_dir`.
    url : str
        Source (default: the pinned raw GitHub URL).
    timeout : float
        Seconds before a stalled download fails.
    opener : callable, optional
        Replacement for :func:`urllib.request.urlopen` (tests).

    Returns
    -------
    pathlib.Path
        The verified file.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        path = fetch_siips1()
        get_signature("siips1").is_surrogate
        # False
    """
    from mindpain.datasets import download_file

    existing = siips1_path(data_dir)
    if existing is not None:
        _verified_siips1(existing)
        return existing
    dest = signature_dir("siips1", data_dir) / SIIPS1_FILENAME
    sha = download_file(url, dest, timeout=timeout, opener=opener)
    _write_checksum_record(dest, sha, how="download", url=url)
    return dest


# --------------------------------------------------------------------------- regions

def _region_centres(surrogate: str) -> pd.DataFrame:
    """Approximate region centres (STUDY.md), shared with the surrogates."""
    from mindpain.surrogates import _REGIONS

    return pd.DataFrame([{"region": r, "sign": s, "x": c[0], "y": c[1], "z": c[2]}
                         for r, s, c, _ in _REGIONS[surrogate]])


def approximate_regions(weights: nib.Nifti1Image, centres: pd.DataFrame,
                        radius_mm: float = REGION_RADIUS_MM):
    """Assign each non-zero weight to the nearest same-sign centre within ``radius_mm``.

    Voxels beyond every centre of their sign go to ``other_pos`` / ``other_neg``, so the
    regions partition the pattern (local scores add up to the whole). This approximates
    CANlab's ``apply_nps`` subregions, whose masks are not available here.

    Parameters
    ----------
    weights : nibabel.Nifti1Image
        3-D weights.
    centres : pandas.DataFrame
        ``region, sign, x, y, z`` (mm).
    radius_mm : float
        Largest distance from a centre.

    Returns
    -------
    labels : nibabel.Nifti1Image
        Integer labels, 0 outside the pattern.
    regions : pandas.DataFrame
        ``label, region, sign, x, y, z, n_voxels`` (only regions with voxels).
    """
    w = np.asarray(weights.dataobj, dtype=np.float64)
    xyz = voxel_coords(w.shape, weights.affine)
    labels = np.zeros(w.shape, dtype=np.int16)
    table = centres.reset_index(drop=True).copy()
    extra = [{"region": "other_pos", "sign": 1}, {"region": "other_neg", "sign": -1}]
    table = pd.concat([table, pd.DataFrame(extra)], ignore_index=True)
    for sign, other in ((1, len(table) - 2), (-1, len(table) - 1)):
        sel = (w > 0) if sign > 0 else (w < 0)
        pts = xyz[sel]
        rows = np.flatnonzero(table["sign"].to_numpy()[: len(centres)] == sign)
        owner = np.full(len(pts), other)
        if len(rows):
            c = table.loc[rows, ["x", "y", "z"]].to_numpy(float)
            d = np.sqrt(((pts[:, None, :] - c[None, :, :]) ** 2).sum(-1))
            near = d.argmin(1)
            ok = d[np.arange(len(pts)), near] <= radius_mm
            owner[ok] = rows[near[ok]]
        labels[sel] = owner + 1
    table["label"] = np.arange(1, len(table) + 1)
    table["n_voxels"] = [int((labels == k).sum()) for k in table["label"]]
    table = table[table["n_voxels"] > 0].reset_index(drop=True)
    table = table[["label", "region", "sign", "x", "y", "z", "n_voxels"]]
    return _make(labels, weights.affine), table


def _split_sign(weights, labels, regions, sign):
    """Keep the weights (and regions) of one sign."""
    w = np.asarray(weights.dataobj, dtype=np.float32)
    w = np.where(np.sign(w) == sign, w, 0).astype(np.float32)
    lab = np.asarray(labels.dataobj)
    keep = regions[regions["sign"] == sign].reset_index(drop=True)
    lab = np.where(np.isin(lab, keep["label"].to_numpy()) & (w != 0), lab, 0)
    return _make(w, weights.affine), _make(lab.astype(np.int16), weights.affine), keep


# --------------------------------------------------------------------------- registry

@lru_cache(maxsize=16)
def _official(base: str, path_str: str, size: int, mtime_ns: int) -> tuple:
    """Load and verify an official file (cached per file state)."""
    path = Path(path_str)
    sha = _verified_siips1(path) if base == "siips1" else sha256(path)
    weights = _load_weights(path)
    labels, regions = approximate_regions(
        weights, _region_centres(DEFAULTS[base]))
    return weights, labels, regions, sha


def _official_signature(name: str, data_dir=None) -> Signature:
    base, sign, label = _OFFICIAL[name]
    path = nps_path(data_dir) if base == "nps" else siips1_path(data_dir)
    if path is None:
        msg = _missing_nps_message(data_dir) if base == "nps" else _missing_siips1_message(
            data_dir)
        raise MindpainError(msg)
    if path.suffix == ".img" and not path.with_suffix(".hdr").is_file():
        raise MindpainError("has no .hdr beside it; expected the Analyze pair .img + .hdr", path)
    st = path.stat()
    weights, labels, regions, sha = _official(base, str(path), st.st_size, st.st_mtime_ns)
    if sign is not None:
        weights, labels, regions = _split_sign(weights, labels, regions, sign)
    citation = NPS_CITATION if base == "nps" else SIIPS1_CITATION
    return Signature(name=name, label=label, is_surrogate=False, weights=weights,
                     labels=labels, regions=regions, source=str(path), citation=citation,
                     sha256=sha, path=path)


@lru_cache(maxsize=8)
def _surrogate_signature(name: str) -> Signature:
    from mindpain.surrogates import SURROGATE_VERSION, load_surrogate

    base, sign, label = _SURROGATE[name]
    s = load_surrogate(base)
    weights, labels, regions = s.weights, s.labels, s.regions
    if sign is not None:
        weights, labels, regions = _split_sign(weights, labels, regions, sign)
    cited = NPS_CITATION if base.startswith("nps") else SIIPS1_CITATION
    return Signature(
        name=name, label=label, is_surrogate=True, weights=weights, labels=labels,
        regions=regions,
        source=(f"mindpain.surrogates.build_surrogate({base!r}), version {SURROGATE_VERSION}: "
                "smooth signed blobs at approximate region centres; NOT the published map"),
        citation=f"open surrogate standing in for: {cited}",
        sha256=_array_sha256(np.asarray(weights.dataobj, dtype=np.float32)),
    )


def _custom_signature(path: Path) -> Signature:
    if not path.is_file():
        raise MindpainError("file not found; expected a signature weight map (NIfTI)", path)
    weights = _load_weights(path)
    name = path.name
    for suffix in NIFTI_SUFFIXES:
        name = name.removesuffix(suffix)
    return Signature(name=name, label=f"{name} (custom)", is_surrogate=False, weights=weights,
                     source=str(path), sha256=sha256(path), path=path)


def get_signature(name_or_path, data_dir=None) -> Signature:
    """Return a registered signature by name, or a custom one from a NIfTI path.

    Parameters
    ----------
    name_or_path : str, path-like or Signature
        One of :data:`REGISTERED` or a path to a 3-D weight map.
    data_dir : path-like, optional
        Where official files are looked up (default: the configured data directory).

    Returns
    -------
    Signature

    Raises
    ------
    mindpain.errors.MindpainError
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
        return _surrogate_signature(key)
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


def default_signatures(cfg=None) -> list[Signature]:
    """Return the NPS and SIIPS1 to score: official if in the data dir, else surrogates.

    Each is chosen on its own (a user with SIIPS1 but no NPS gets the official SIIPS1 and
    the NPS surrogate).

    Parameters
    ----------
    cfg : mindpain.config.Config, optional
        Default: :func:`mindpain.config.get_config`.

    Examples
    --------
    >>> [s.name for s in default_signatures()]  # without official files
    ['nps-surrogate', 'siips1-surrogate']
    """
    if cfg is None:
        from mindpain.config import get_config

        cfg = get_config()
    present = set(available_signatures(cfg.data_dir))
    return [get_signature(official if official in present else surrogate, cfg.data_dir)
            for official, surrogate in DEFAULTS.items()]
