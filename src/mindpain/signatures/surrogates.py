"""Open surrogate pain signatures, built deterministically by the package.

The official NPS is licensed on request and SIIPS1 is public but unlicensed; neither can
be shipped. The surrogates here are *not* those maps: they are smooth signed blobs at the
approximate centres of the published regions (``../shared/reference/STUDY.md``), each with
a name, so that local (subregion) scores exist. They stand in for the real maps so that
every chapter runs; every figure and table that uses them says so.

Building a surrogate takes seconds (it resamples nilearn's MNI152 mask, which imports
scikit-learn), so :func:`load_surrogate` keeps built maps in an on-disk cache,
``<work_dir>/cache/surrogates/`` (:attr:`mindpain.core.config.Config.work_dir`): one ``.npz``
(the non-zero voxels only) and one ``.json`` per surrogate, named by a content key, the
sha256 of the construction parameters, of this module's and :mod:`mindpain.core.images`' source
code, and of the numpy / scipy / nilearn versions. A read verifies the file's sha256; a
stale (other key) or corrupt entry is rebuilt and replaced atomically. A read-only work
folder only means the surrogate is built in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.core.checksums import sha256
from mindpain.core.images import MNI2MM_AFFINE, MNI2MM_SHAPE, make_img, voxel_coords

#: Version of the surrogate construction; change it whenever the maps change.
SURROGATE_VERSION = "1"

# name, sign, centre (mm), blob sigma (mm). Centres are approximate (STUDY.md).
_NPS_REGIONS = [
    ("vermis", +1, (0, -60, -20), 6.0),
    ("rIns", +1, (40, 8, 0), 6.0),
    ("rV1", +1, (8, -80, 6), 6.0),
    ("rThal", +1, (10, -18, 6), 5.0),
    ("lIns", +1, (-38, 4, 2), 6.0),
    ("rdpIns", +1, (40, -16, 14), 5.0),
    ("rS2_Op", +1, (48, -26, 20), 6.0),
    ("dACC", +1, (2, 12, 38), 7.0),
    ("rLOC", -1, (44, -70, 20), 6.0),
    ("lLOC", -1, (-44, -72, 22), 6.0),
    ("rpLOC", -1, (30, -86, 10), 5.0),
    ("pgACC", -1, (0, 40, 8), 6.0),
    ("lSTS", -1, (-54, -28, -2), 6.0),
    ("rIPL", -1, (50, -50, 40), 6.0),
    ("PCC", -1, (0, -48, 30), 6.0),
]
_SIIPS1_REGIONS = [
    ("vmPFC", +1, (0, 44, -10), 7.0),
    ("rNAc", +1, (10, 12, -8), 4.5),
    ("lNAc", +1, (-10, 12, -8), 4.5),
    ("rParahippocampal", +1, (26, -30, -14), 5.0),
    ("lParahippocampal", +1, (-26, -30, -14), 5.0),
    ("rdlPFC", -1, (40, 36, 28), 7.0),
    ("ldlPFC", -1, (-40, 36, 28), 7.0),
]
#: Regions of each surrogate: (name, sign, MNI centre in mm, blob sigma in mm), as built.
SURROGATE_REGIONS = {"nps-surrogate": _NPS_REGIONS, "siips1-surrogate": _SIIPS1_REGIONS}
SURROGATE_NAMES = tuple(SURROGATE_REGIONS)
_TRUNCATE_SIGMAS = 2.5


@dataclass(frozen=True)
class Surrogate:
    """A surrogate signature: weights, a region label map and the region table.

    Attributes
    ----------
    name : str
        ``"nps-surrogate"`` or ``"siips1-surrogate"``.
    weights : nibabel.Nifti1Image
        Signed weights on the MNI152 2 mm grid; 0 outside the pattern.
    labels : nibabel.Nifti1Image
        Integer region labels (0 outside); every non-zero weight has exactly one label,
        so local scores add up to the whole.
    regions : pandas.DataFrame
        One row per region: ``label, region, sign, x, y, z, n_voxels``.
    """

    name: str
    weights: nib.Nifti1Image
    labels: nib.Nifti1Image
    regions: pd.DataFrame


@lru_cache(maxsize=4)
def build_surrogate(name: str) -> Surrogate:
    """Build the surrogate signature ``name`` (deterministic; cached in memory).

    Parameters
    ----------
    name : {"nps-surrogate", "siips1-surrogate"}
        Which surrogate.

    Returns
    -------
    Surrogate

    Examples
    --------
    >>> s = build_surrogate("nps-surrogate")
    >>> sorted(s.regions["sign"].unique().tolist())
    [-1, 1]
    """
    if name not in SURROGATE_REGIONS:
        from mindpain.core.errors import MindpainError

        raise MindpainError(f"unknown surrogate {name!r}; expected one of {SURROGATE_NAMES}")
    from scipy import ndimage

    from mindpain.core.images import mask_array

    specs = SURROGATE_REGIONS[name]
    xyz = voxel_coords(MNI2MM_SHAPE, MNI2MM_AFFINE)
    mask = mask_array(2.0)
    # A fixed smooth texture so the pattern is not flat inside a blob (seeded by the
    # surrogate's own name and version, independent of any analysis seed).
    seed = sum(ord(c) for c in name + SURROGATE_VERSION)
    texture = ndimage.gaussian_filter(
        np.random.default_rng(seed).standard_normal(MNI2MM_SHAPE), sigma=1.5
    )
    texture = 0.75 + 0.5 * (texture - texture.min()) / (texture.max() - texture.min())

    blobs = np.zeros((len(specs),) + MNI2MM_SHAPE)
    for k, (_, sign, centre, sigma) in enumerate(specs):
        r2 = ((xyz - np.asarray(centre, float)) ** 2).sum(-1)
        blob = np.exp(-r2 / (2 * sigma**2))
        blob[r2 > (_TRUNCATE_SIGMAS * sigma) ** 2] = 0.0
        blobs[k] = sign * blob
    strength = np.abs(blobs)
    owner = strength.argmax(0)
    inside = (strength.max(0) > 0) & mask
    weights = np.where(inside, blobs.sum(0) * texture, 0.0)
    inside &= weights != 0
    labels = np.where(inside, owner + 1, 0).astype(np.int16)
    weights = np.where(inside, weights, 0.0).astype(np.float32)

    rows = []
    for k, (region, sign, centre, _) in enumerate(specs):
        rows.append({"label": k + 1, "region": region, "sign": sign, "x": centre[0],
                     "y": centre[1], "z": centre[2], "n_voxels": int((labels == k + 1).sum())})
    regions = pd.DataFrame(rows)
    return Surrogate(
        name=name,
        weights=make_img(weights, MNI2MM_AFFINE),
        labels=make_img(labels, MNI2MM_AFFINE),
        regions=regions,
    )


# --------------------------------------------------------------------------- on-disk cache

#: Prefix of every cache file (so only files this package wrote are ever replaced).
CACHE_PREFIX = "mindpain-surrogate-"
_REGION_FIELDS = ("label", "region", "sign", "x", "y", "z", "n_voxels")


class SurrogateCacheWarning(UserWarning):
    """A cached surrogate was corrupt (or unreadable) and was rebuilt."""


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """Fingerprint of the code the surrogates depend on (this module and what it imports)."""
    from mindpain.core.checksums import code_closure, code_fingerprint

    return code_fingerprint(code_closure(__name__))


def cache_key(name: str) -> str:
    """Content key of a built surrogate: parameters, code and library versions.

    Examples
    --------
    >>> len(cache_key("nps-surrogate"))
    64
    """
    from importlib.metadata import version

    if name not in SURROGATE_REGIONS:
        from mindpain.core.errors import MindpainError

        raise MindpainError(f"unknown surrogate {name!r}; expected one of {SURROGATE_NAMES}")
    params = {"name": name, "version": SURROGATE_VERSION, "regions": SURROGATE_REGIONS[name],
              "truncate_sigmas": _TRUNCATE_SIGMAS, "shape": MNI2MM_SHAPE,
              "affine": MNI2MM_AFFINE.tolist(), "code": _code_digest(),
              "libraries": {lib: version(lib) for lib in ("numpy", "scipy", "nilearn")}}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def _cache_paths(folder: Path, name: str, key: str) -> tuple[Path, Path]:
    stem = f"{CACHE_PREFIX}{name}-{key[:16]}"
    return folder / f"{stem}.npz", folder / f"{stem}.json"




def _read_cached(npz: Path, meta: Path, name: str, key: str) -> Surrogate:
    """Read and verify one cache entry; raise ValueError/OSError/KeyError if unusable."""
    record = json.loads(meta.read_text())
    if record.get("key") != key or record.get("name") != name:
        raise ValueError("cache record is for another key")
    if sha256(npz) != record["sha256"]:
        raise ValueError(f"sha256 of {npz.name} differs from its record")
    with np.load(npz, allow_pickle=False) as z:
        shape = tuple(int(n) for n in z["shape"])
        affine = np.asarray(z["affine"], float)
        weights = np.zeros(int(np.prod(shape)), np.float32)
        labels = np.zeros(weights.size, np.int16)
        weights[z["index"]] = z["weights"]
        labels[z["index"]] = z["labels"]
        regions = pd.DataFrame({f: z[f"region_{f}"].tolist() for f in _REGION_FIELDS})
    return Surrogate(name=name, weights=make_img(weights.reshape(shape), affine),
                     labels=make_img(labels.reshape(shape), affine), regions=regions)


def _write_cached(folder: Path, name: str, key: str, s: Surrogate) -> None:
    """Write a cache entry atomically (npz first, then its record); replace stale ones."""
    npz, meta = _cache_paths(folder, name, key)
    folder.mkdir(parents=True, exist_ok=True)
    w = np.asarray(s.weights.dataobj, np.float32).reshape(-1)
    index = np.flatnonzero(w).astype(np.int64)
    arrays = {"shape": np.asarray(s.weights.shape[:3], np.int64),
              "affine": np.asarray(s.weights.affine, float), "index": index,
              "weights": w[index],
              "labels": np.asarray(s.labels.dataobj, np.int16).reshape(-1)[index]}
    for f in _REGION_FIELDS:
        col = s.regions[f].to_numpy()
        arrays[f"region_{f}"] = col.astype(str) if f == "region" else col
    for path, write in ((npz, lambda fh: np.savez(fh, **arrays)), (meta, None)):
        fd, tmp = tempfile.mkstemp(prefix=f".{CACHE_PREFIX}", suffix=path.suffix, dir=folder)
        try:
            with os.fdopen(fd, "wb") as fh:
                if write is not None:
                    write(fh)
                else:
                    fh.write(json.dumps({"name": name, "key": key, "sha256": sha256(npz),
                                         "surrogate_version": SURROGATE_VERSION},
                                        indent=2, sort_keys=True).encode() + b"\n")
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    for old in folder.glob(f"{CACHE_PREFIX}{name}-*"):  # stale entries of this surrogate
        if old not in (npz, meta) and old.suffix in (".npz", ".json"):
            old.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def _load_cached(name: str, folder_str: str) -> Surrogate:
    folder = Path(folder_str)
    key = cache_key(name)
    npz, meta = _cache_paths(folder, name, key)
    if npz.is_file() and meta.is_file():
        try:
            return _read_cached(npz, meta, name, key)
        except (OSError, ValueError, KeyError, TypeError) as err:
            warnings.warn(f"{npz}: cached surrogate unusable ({err}); rebuilding it",
                          SurrogateCacheWarning, stacklevel=3)
    s = build_surrogate(name)
    try:
        _write_cached(folder, name, key, s)
    except OSError:  # a read-only work folder: the surrogate is simply not cached
        pass
    return s


def load_surrogate(name: str, cache_dir=None) -> Surrogate:
    """Return the surrogate ``name``, from the on-disk cache when it is current.

    The first call builds it (seconds) and stores it under ``cache_dir``; later calls, in
    any process, read it back (milliseconds) after checking its sha256. Without a
    ``cache_dir`` it is built (once per process). The result equals :func:`build_surrogate`
    exactly.

    Parameters
    ----------
    name : {"nps-surrogate", "siips1-surrogate"}
        Which surrogate.
    cache_dir : path-like, optional
        Folder of the on-disk cache (the configuration's
        :attr:`~mindpain.core.config.Config.surrogate_cache_dir`); ``None``: no disk cache.

    Returns
    -------
    Surrogate

    Examples
    --------
    >>> cached = load_surrogate("siips1-surrogate").weights.get_fdata()
    >>> bool((cached == build_surrogate("siips1-surrogate").weights.get_fdata()).all())
    True
    """
    if cache_dir is None:
        return _built(name)
    return _load_cached(name, str(Path(cache_dir)))


@lru_cache(maxsize=4)
def _built(name: str) -> Surrogate:
    return build_surrogate(name)
