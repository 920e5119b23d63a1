"""File writing that never leaves partial output, and file checksums.

Every writer goes through :func:`atomic_path`: it writes to a temporary file in the
target's folder and renames it into place only when the write finished.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary name keeps the full suffix (``.nii.gz``, ``.tsv``) so writers that
    choose a format by extension behave the same.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name.split('.')[0]}.", suffix=suffix,
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


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
    (onsets in seconds).
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="n/a", float_format=float_format,
                     lineterminator="\n")
    return Path(path)


def write_nifti(path, img) -> Path:
    """Save a NIfTI image atomically (gzip output is deterministic in nibabel)."""
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


def sha256(path, chunk: int = 1 << 20) -> str:
    """Return the sha256 hex digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def check_writable_dir(path, *, overwrite: bool = False) -> Path:
    """Check that ``path`` can receive a new output folder; raise a one-line error if not."""
    from mindpain.errors import MindpainError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MindpainError("exists and is not a folder; expected a folder to write into", path)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise MindpainError("folder is not empty; pass --overwrite to replace it", path)
    parent = path.parent if not path.exists() else path
    while not parent.exists():
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MindpainError("cannot write here (permission denied)", parent)
    return path


def replace_dir(src, dst) -> None:
    """Move the finished folder ``src`` onto ``dst``, removing an old ``dst`` first."""
    src, dst = Path(src), Path(dst)
    if dst.exists():
        old = dst.with_name(f".{dst.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(dst, old)
        os.replace(src, dst)
        shutil.rmtree(old)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
