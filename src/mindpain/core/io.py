"""Files in and out: atomic writers and the readers beside them.

Every writer goes through :func:`atomic_path`: it writes to a temporary file in the
target's folder (its name starts with :data:`TMP_PREFIX`, a prefix only this package uses)
and renames it into place only when the write finished.

Beside it: :mod:`mindpain.core.store` (result tables, their keys and caches),
:mod:`mindpain.core.checksums` (the one file checksum, its cache, code fingerprints) and
:mod:`mindpain.core.folders` (output folders: ownership markers, locks, replacement).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

#: Prefix of every temporary file or folder this package makes.
TMP_PREFIX = ".mindpain-tmp-"


def _temp_beside(path: Path) -> Path:
    """Create an empty temporary file beside ``path`` keeping its full suffix; return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{path.name.split('.')[0]}-",
                               suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the full suffix (``.nii.gz``, ``.tsv``) so writers that
    choose a format by extension behave the same.
    """
    path = Path(path)
    tmp = _temp_beside(path)
    try:
        yield tmp
        plain_permissions(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def plain_permissions(path) -> None:
    """Give a file made by :func:`tempfile.mkstemp` (mode 0600) the mode ``open()`` would."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def stage_file(path, write) -> Path:
    """Write a file for ``path`` under a temporary name beside it; return that name.

    ``write(tmp)`` writes the content. The caller renames the file into place (see
    :func:`write_unit`) or deletes it.
    """
    tmp = _temp_beside(Path(path))
    try:
        write(tmp)
        plain_permissions(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_unit(staged, invalidate=()) -> None:
    """Move staged files into place as a unit: first delete ``invalidate``, then rename.

    Parameters
    ----------
    staged : list of (tmp, path)
        Files from :func:`stage_file`, renamed in this order (put sidecars last).
    invalidate : list of path-like
        Files that vouch for the old outputs (their sidecars); removed before any rename, so
        an interruption never leaves an old sidecar beside new data.
    """
    for path in invalidate:
        Path(path).unlink(missing_ok=True)
    for tmp, path in staged:
        os.replace(tmp, path)


def write_json(path, data) -> Path:
    """Write ``data`` as indented JSON with sorted keys (byte-stable)."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=_json_default) + "\n")
    return Path(path)


def _json_default(obj):
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_tsv(path, frame: pd.DataFrame, float_format: str | None = None) -> Path:
    """Write a table as BIDS TSV (tab-separated, ``n/a`` for missing), at full precision.

    By default every float is written as its shortest round-trip representation (Python's
    ``repr``), so reading the file back gives exactly the same float64 values. Pass a
    ``float_format`` (e.g. ``"%.3f"``) only for values whose precision is fixed by design
    (onsets in seconds). A name ending in ``.gz`` is written gzip-compressed, with no time
    or file name in its header, so the same table gives the same bytes.
    """
    with atomic_path(path) as tmp:
        if Path(path).name.endswith(".gz"):
            text = frame.to_csv(sep="\t", index=False, na_rep="n/a",
                                float_format=float_format, lineterminator="\n")
            tmp.write_bytes(gzip.compress(text.encode(), compresslevel=9, mtime=0))
        else:
            frame.to_csv(tmp, sep="\t", index=False, na_rep="n/a",
                         float_format=float_format, lineterminator="\n")
    return Path(path)


# --------------------------------------------------------------------------- readers

#: What :func:`read_tsv` reads as missing: BIDS's ``n/a``, the only marker the writers write.
NA_VALUES = ("n/a",)


def read_tsv(path, *, na_values=NA_VALUES, keep_default_na: bool = False,
             **kwargs) -> pd.DataFrame:
    """Read a table written by :func:`write_tsv` (or any BIDS TSV).

    Only ``na_values`` (default ``n/a``) mean missing; every other cell, an empty string
    included, is kept as written. ``keep_default_na=True`` adds pandas' own list of missing
    markers (``NA``, ``nan``, empty, ...). Other keyword arguments go to
    :func:`pandas.read_csv`.
    """
    return pd.read_csv(path, sep="\t", na_values=list(na_values),
                       keep_default_na=keep_default_na, **kwargs)


def read_json(path):
    """Read a JSON file written by :func:`write_json` (or any JSON sidecar)."""
    return json.loads(Path(path).read_text())


def write_nifti(path, img) -> Path:
    """Save a NIfTI image atomically (gzip output is deterministic in nibabel)."""
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)
