"""Reading contrast maps and their BIDS names: the key columns of a scores table.

* **names**: :func:`map_stem`, :func:`parse_entities` and :func:`entity_columns` read the
  BIDS entities of a map's file name; :func:`map_key` gives the values that key one map's
  rows (:data:`COLUMNS`).
* **images**: :func:`read_map` reads one 3-D map and checks it (one-line
  :class:`~mindpain.core.errors.MindpainError` naming the file). A single-file ``.nii.gz`` is
  inflated in one call to zlib, which releases the GIL, so maps read by threads overlap;
  the header is parsed and checked by nibabel as :func:`nibabel.load` does, then by
  :func:`mindpain.core.images.header_problem` (the check every command applies to an image).
* **grids**: :func:`grid_key` tells two voxel grids apart (shape and rounded affine).
"""

from __future__ import annotations

import math
import os
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import nibabel as nib
import numpy as np

from mindpain.bids import bids_entities
from mindpain.core.errors import MindpainError
from mindpain.core.images import file_offset, header_problem

#: Fixed columns of the long table returned by :func:`~mindpain.scoring.engine.score_maps`;
#: one column per BIDS entity found in the maps' file names (:func:`entity_columns`)
#: follows ``session``.
COLUMNS = ("participant_id", "session", "condition", "signature", "metric", "region",
           "response", "n_voxels", "map", "path")
#: Description of each column of :data:`COLUMNS`, for the JSON sidecar of a scores table.
COLUMN_DESCRIPTIONS = {
    "participant_id": "BIDS participant (sub-<label>) parsed from the map's file name; for a "
                      "file without BIDS entities, the file name without extension",
    "session": "BIDS session label (ses-<label>) from the file name; n/a if none",
    "condition": "contrast-<label> (else condition-/desc-) entity of the file name; n/a if none",
    "signature": "signature name (see Settings.signatures: label, is_surrogate, sha256)",
    "metric": "dot (sum of w*x), cosine (dot / (|x| |w on the image's non-missing voxels|)) "
              "or correlation (Pearson r), CANlab semantics",
    "region": "'whole' for the whole pattern, else the signature subregion (local score)",
    "response": "signature response of the map, written at full double precision "
                "(round-trip exact); n/a when n_voxels is 0",
    "n_voxels": "pattern voxels (of the signature, or of the region) with data in the map "
                "(finite, non-zero); 0 = the map has no data there, so no response",
    "map": "file name of the scored map",
    "path": "absolute path of the scored map (n/a for an in-memory image)",
}
#: BIDS entity order (specification, appendix "Entities"), then statistical-map entities.
BIDS_ENTITY_ORDER = ("sub", "ses", "sample", "task", "tracksys", "acq", "nuc", "voi", "ce",
                     "trc", "stain", "rec", "dir", "run", "mod", "echo", "flip", "inv", "mt",
                     "part", "proc", "hemi", "space", "split", "recording", "chunk", "seg",
                     "res", "den", "label", "desc", "contrast", "stat")
_ENTITY_COLUMN = {"sub": "participant_id", "ses": "session"}
_CONDITION_ENTITIES = ("contrast", "condition", "desc")
_MAP_SUFFIXES = (".nii.gz", ".nii", ".img", ".hdr")
_GRID_DECIMALS = 5


# --------------------------------------------------------------------------- file names

def map_stem(path) -> str:
    """Return a map's file name without its NIfTI extension."""
    name = os.path.basename(os.fspath(path))
    for suffix in _MAP_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def parse_entities(path) -> dict:
    """Return ``participant_id, session, condition`` parsed from a map's BIDS file name.

    Examples
    --------
    >>> parse_entities("sub-01_ses-pre_task-heat_contrast-hotVsWarm_stat-effect_statmap.nii.gz")
    {'participant_id': 'sub-01', 'session': 'pre', 'condition': 'hotVsWarm'}
    >>> parse_entities("contrast_pain_01.nii.gz")
    {'participant_id': 'contrast_pain_01', 'session': None, 'condition': None}
    """
    stem = map_stem(path)
    return _summary(stem, bids_entities(stem))


def _summary(stem: str, ents: dict) -> dict:
    condition = next((ents[k] for k in _CONDITION_ENTITIES if k in ents), None)
    pid = f"sub-{ents['sub']}" if "sub" in ents else stem
    return {"participant_id": pid, "session": ents.get("ses"), "condition": condition}


def entity_columns(maps) -> list[str]:
    """Entity columns of a scores table: every BIDS entity in the maps' file names.

    ``sub`` and ``ses`` are ``participant_id`` and ``session`` (always present); the others
    keep their key (``task``, ``run``, ``contrast``, ``stat``, ...), in BIDS order, then
    unknown keys alphabetically. A key that clashes with a fixed column gets ``entity_``.

    Examples
    --------
    >>> entity_columns(["sub-01_ses-pre_task-heat_run-2_contrast-hot_stat-z_statmap.nii.gz"])
    ['participant_id', 'session', 'task', 'run', 'contrast', 'stat']
    """
    keys: set = set()
    for m in maps:
        if not isinstance(m, nib.spatialimages.SpatialImage):
            keys.update(bids_entities(map_stem(m)))
    rank = {k: i for i, k in enumerate(BIDS_ENTITY_ORDER)}
    extra = sorted(keys - {"sub", "ses"}, key=lambda k: (rank.get(k, len(rank)), k))
    return ["participant_id", "session", *[_entity_column(k) for k in extra]]


def _entity_column(key: str) -> str:
    return _ENTITY_COLUMN.get(key, f"entity_{key}" if key in COLUMNS else key)


def map_key(item, label: str, columns: Sequence[str]) -> dict:
    """Entity values (``columns``), ``condition``, ``map`` and ``path`` of one map.

    Parameters
    ----------
    item : path-like or nibabel image
        The map as given to the scorer.
    label : str
        Its name: the path as given, or ``image-NNN`` for an in-memory image.
    columns : sequence of str
        Entity columns of the table (:func:`entity_columns`).

    Returns
    -------
    dict
        One value per entity column (``None`` where the file name has no such entity),
        ``condition``, ``map`` (file name) and ``path`` (absolute; ``None`` for an image).

    Examples
    --------
    >>> row = map_key("sub-01_task-heat_statmap.nii.gz", "sub-01_task-heat_statmap.nii.gz",
    ...               ["participant_id", "session", "task"])
    >>> [row[k] for k in ("participant_id", "session", "task", "condition", "map")]
    ['sub-01', None, 'heat', None, 'sub-01_task-heat_statmap.nii.gz']
    """
    if isinstance(item, nib.spatialimages.SpatialImage):
        return {**dict.fromkeys(columns), "participant_id": label, "condition": None,
                "map": label, "path": None}
    stem = map_stem(label)
    ents = bids_entities(stem)
    row = dict.fromkeys(columns)
    row.update({_entity_column(k): v for k, v in ents.items() if _entity_column(k) in row})
    row.update(_summary(stem, ents))
    row.update({"map": os.path.basename(label), "path": os.path.abspath(label)})
    return row


# --------------------------------------------------------------------------- reading maps

def grid_key(shape, affine) -> tuple:
    """Hashable key of a voxel grid: its 3-D shape and its affine rounded to 5 decimals.

    Two grids with the same key are the same grid (no resampling between them).

    Parameters
    ----------
    shape : sequence of int
        Image shape; only the first three dimensions count.
    affine : array-like, shape (4, 4)
        Voxel-to-world affine.

    Returns
    -------
    tuple
        ``(shape, rounded affine values)``.

    Examples
    --------
    >>> grid_key((91, 109, 91, 1), np.eye(4)) == grid_key((91, 109, 91), np.eye(4) + 1e-9)
    True
    """
    affine = np.asarray(affine, dtype=np.float64)
    return _grid_key_cached(tuple(int(n) for n in shape[:3]), affine.tobytes())


@lru_cache(maxsize=256)
def _grid_key_cached(shape: tuple, affine: bytes) -> tuple:
    return shape, tuple(np.round(np.frombuffer(affine), _GRID_DECIMALS).ravel())


def read_map(path_or_img, name=None):
    """Read one 3-D contrast map and check it; return ``(data, affine)``.

    A 4-D image with a single volume is squeezed to 3-D. Raises a one-line
    :class:`~mindpain.core.errors.MindpainError` naming the file if it is missing, corrupt or
    truncated, not 3-D, or has no data (all NaN / all 0).
    """
    label = name if name is not None else (
        path_or_img if not isinstance(path_or_img, nib.spatialimages.SpatialImage) else "image")
    if isinstance(path_or_img, nib.spatialimages.SpatialImage):
        img = path_or_img
        problem = header_problem(img.header, img.affine)
    else:
        path = Path(path_or_img)
        if path.is_dir():
            raise MindpainError("is a folder; expected a 3-D NIfTI contrast map (a folder of "
                                "maps: list its files, or use --bids-derivatives)", label)
        try:
            img = _load_image(path)
        except (FileNotFoundError, NotADirectoryError):
            raise MindpainError("file not found; expected a 3-D NIfTI contrast map",
                                label) from None
        except IsADirectoryError:
            raise MindpainError("is a folder; expected a 3-D NIfTI contrast map",
                                label) from None
        except Exception as err:  # nibabel and zlib raise many types for bad files
            why = " ".join(str(err).split())[:160]
            raise MindpainError(f"cannot be read as NIfTI ({type(err).__name__}: {why}); the "
                                "file is truncated, corrupt or not NIfTI; expected a 3-D NIfTI "
                                "contrast map", label) from None
        problem = img.problem
    if problem is not None:
        raise MindpainError(problem, label)
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) != 3:
        what = f"{shape[3]} volumes" if len(shape) == 4 else f"shape {shape}"
        raise MindpainError(f"is {len(img.shape)}-D with {what}; expected one 3-D map "
                            "(split the volumes first)", label)
    try:
        data = np.asarray(img.dataobj)
    except Exception as err:  # zlib.error, EOFError, OSError for truncated/corrupt data
        raise MindpainError(f"image data cannot be read ({type(err).__name__}: {err}); the "
                            "file is truncated or corrupt", label) from None
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise MindpainError(f"has data type {data.dtype}; expected real numbers", label)
    return data.reshape(shape), img.affine


def _gunzip(raw: bytes) -> bytes:
    """Inflate a whole gzip file in one zlib call (GIL released) into a buffer of its size.

    The gzip trailer gives the inflated size (mod 2**32); a file whose output does not
    have that size (several gzip members, > 4 GiB) is inflated member by member.
    """
    size = int.from_bytes(raw[-4:], "little") if len(raw) >= 18 else 0
    if size:
        out = zlib.decompress(raw, 31, size)
        if len(out) == size:
            return out
    parts = []
    while raw:
        inflater = zlib.decompressobj(31)
        parts.append(inflater.decompress(raw))
        if not inflater.eof:
            raise EOFError("the gzip stream ends early (truncated file)")
        raw = inflater.unused_data
    return parts[0] if len(parts) == 1 else b"".join(parts)


@dataclass
class _Image:
    """What :func:`read_map` needs of an image read without nibabel's proxy machinery."""

    shape: tuple
    problem: str | None
    affine: np.ndarray
    dataobj: np.ndarray


@lru_cache(maxsize=1024)
def _header_info(block: bytes) -> tuple:
    """Shape, dtype, data offset, scaling, affine and header problem of a NIfTI header.

    Cached by the header's bytes: maps written by one program often share their header,
    so a batch parses each distinct header once. The header is read by nibabel with the
    checks (and fixes) it applies when it loads a file, so what is refused or read here is
    what :func:`nibabel.load` refuses or reads; the image checks shared by every command
    (:func:`mindpain.core.images.header_problem`) follow.
    """
    hdr = (nib.Nifti1Header if len(block) == 348 else nib.Nifti2Header)(block, check=True)
    affine = hdr.get_best_affine()
    affine.setflags(write=False)
    problem = header_problem(hdr, affine, int(hdr.get_data_offset()))
    slope, inter = hdr.get_slope_inter() if problem is None else (None, None)
    return (tuple(int(n) for n in hdr.get_data_shape()), hdr.get_data_dtype(),
            int(hdr.get_data_offset()), slope, inter, affine, problem)


def _load_image(path: Path):
    """Read a map: a single-file ``.nii`` / ``.nii.gz`` directly, anything else by nibabel.

    nibabel streams gzip through Python in small blocks; here the whole file is inflated
    with one zlib call (which releases the GIL, so threads overlap), the header parsed by
    nibabel (:func:`_header_info`) and the data viewed in place (scaled by
    ``scl_slope``/``scl_inter`` like nibabel). Whatever this fast path cannot read (gzip
    padding or several members, a header nibabel would fix or refuse, data shorter than
    the header says) is handed to :func:`nibabel.load`, so a file is refused only when
    nibabel refuses it too, with nibabel's reason.
    """
    name = path.name
    if not name.endswith((".nii", ".nii.gz")):
        return _from_nibabel(nib.load(path))
    raw = path.read_bytes()
    try:
        return _fast_image(raw, name.endswith(".gz"))
    except Exception:  # anything unusual: nibabel decides (and says why)
        return _from_nibabel(nib.load(path))


def _fast_image(raw: bytes, gz: bool):
    buf = _gunzip(raw) if gz else raw
    if buf[344:348] == b"n+1\0":
        info = _header_info(bytes(buf[:348]))
    elif buf[4:8] == b"n+2\0":
        info = _header_info(bytes(buf[:540]))
    else:
        raise ValueError("not a single-file NIfTI")
    shape, dtype, offset, slope, inter, affine, problem = info
    if problem is not None:
        return _Image(shape=shape, problem=problem, affine=affine, dataobj=None)
    count = math.prod(shape)
    if offset + count * dtype.itemsize > len(buf):
        raise EOFError(f"{len(buf) - offset} bytes of data where the header needs "
                       f"{count * dtype.itemsize} (truncated file)")
    data = np.frombuffer(buf, dtype, count, offset).reshape(shape, order="F")
    if slope is not None and (slope != 1 or (inter or 0) != 0):
        data = data * np.float64(slope) + np.float64(inter or 0)
    return _Image(shape=shape, problem=None, affine=affine, dataobj=data)


def _from_nibabel(img):
    return _Image(shape=img.shape,
                  problem=header_problem(img.header, img.affine, file_offset(img)),
                  affine=img.affine, dataobj=img.dataobj)
