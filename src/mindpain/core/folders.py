"""Output folders: checks before writing, ownership markers, locks, atomic replacement.

Folders this package makes (a twin, first-level derivatives) carry an **ownership marker**,
:data:`MARKER` (``.mindpain.json``: the kind of folder and, for a twin, a manifest of its
files). A folder is replaced or written into only when its marker proves it is ours and of
the expected kind; temporary and backup folders have names only this package uses
(``.mindpain-partial-<name>-<token>``, ``.mindpain-old-<name>-<token>``), so a user's
``.NAME.partial`` or ``.NAME.old`` is never touched. :func:`folder_lock` keeps two
processes from building one folder at once.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import uuid
from pathlib import Path

from mindpain.core.io import write_json


def check_writable_dir(path, *, overwrite: bool = False) -> Path:
    """Check that ``path`` can receive a new output folder; raise a one-line error if not."""
    from mindpain.core.errors import MindpainError

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise MindpainError("exists and is not a folder; expected a folder to write into", path)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise MindpainError("folder is not empty; pass --overwrite to replace it", path)
    parent = path.parent if not path.exists() else path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise MindpainError("is a file, so no folder can be made below it", parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MindpainError("cannot write here (permission denied)", parent)
    return path


# --------------------------------------------------------------------------- ownership

#: Name of the ownership marker at the top of every folder this package makes.
MARKER = ".mindpain.json"


def read_marker(folder) -> dict | None:
    """Return the ownership marker of ``folder`` (a dict with ``kind``), or ``None``."""
    try:
        data = json.loads((Path(folder) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("creator") != "mindpain" or "kind" not in data:
        return None
    return data


def write_marker(folder, kind: str, **info) -> Path:
    """Write the ownership marker of ``folder``: ``{"creator": "mindpain", "kind": kind, ...}``."""
    return write_json(Path(folder) / MARKER, {"creator": "mindpain", "kind": kind, **info})


def check_output_folder(path, *, what: str = "output folder", replaceable: bool = True) -> Path:
    """Return ``path`` made absolute, or raise a one-line error when it cannot be an output.

    Refused: the current folder or one of its parents (``.``, ``..``), a symbolic link when
    the folder would be replaced (``replaceable``: a new folder is moved onto the path), and
    an existing file.
    """
    from mindpain.core.errors import MindpainError

    raw = Path(path)
    if str(path).strip() == "":
        raise MindpainError(f"empty {what} name; expected a folder path")
    if raw.is_symlink() and replaceable:
        raise MindpainError(f"is a symbolic link; give the real folder path ({what} is "
                            "replaced as a whole, which would replace the link)", raw)
    absolute = Path(os.path.abspath(raw))
    cwd = Path.cwd()
    if replaceable and (absolute == cwd or absolute in cwd.parents or absolute.parent == absolute):
        raise MindpainError(f"is the current folder or one of its parents; give a new {what} "
                            "name, e.g. ./twin", raw)
    if absolute.exists() and not absolute.is_dir():
        raise MindpainError(f"exists and is not a folder; expected a folder path ({what})", raw)
    return absolute


def folder_token(path) -> str:
    """Return a short token naming an absolute folder path (stable across runs)."""
    return hashlib.sha256(str(Path(os.path.abspath(path))).encode()).hexdigest()[:10]


def partial_dir(out) -> Path:
    """Return the hidden sibling folder where ``out`` is built (``.mindpain-partial-...``)."""
    out = Path(os.path.abspath(out))
    return out.parent / f".mindpain-partial-{out.name}-{folder_token(out)}"


@contextlib.contextmanager
def folder_lock(out):
    """Hold the exclusive build lock of folder ``out`` until the block ends.

    Two processes building the same folder (two chapters executed side by side, each
    making the twin or its first level on demand) would otherwise share one partial
    folder. The second waits here; when it gets the lock it finds the folder made and
    current, and keeps it. The lock is ``fcntl.flock`` on an empty file beside the folder
    (``.mindpain-lock-...``, a name only this package uses), removed by its holder before
    release; a waiter that wakes on a removed file tries again. The kernel releases the
    lock when a process ends, so a crash never leaves the folder locked.
    """
    import fcntl

    out = Path(os.path.abspath(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = out.parent / f".mindpain-lock-{out.name}-{folder_token(out)}"
    while True:
        fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed this file after we opened it: take the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)


def replace_dir(src, dst) -> None:
    """Move the finished folder ``src`` onto ``dst``.

    An existing ``dst`` (which the caller has proved is ours) is first renamed to a backup
    with a unique name (``.mindpain-old-<name>-<random>``), then deleted once ``src`` is in
    place; a crash in between leaves the old folder under that name, never a mix.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists():
        old = dst.with_name(f".mindpain-old-{dst.name}-{uuid.uuid4().hex[:10]}")
        os.replace(dst, old)
        try:
            os.replace(src, dst)
        except OSError:
            os.replace(old, dst)
            raise
        shutil.rmtree(old)
    else:
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)


def os_error_message(err: OSError) -> str:
    """One line for an operating-system error: what happened and what to do."""
    where = f"{err.filename}: " if getattr(err, "filename", None) else ""
    reason = err.strerror or str(err) or type(err).__name__
    hint = {errno.ENOSPC: "free some space and re-run (finished files are kept and reused)",
            errno.EDQUOT: "free some space and re-run (finished files are kept and reused)",
            errno.EACCES: "choose a folder you can write to",
            errno.EPERM: "choose a folder you can write to",
            errno.EROFS: "choose a folder on a writable disk"}.get(err.errno, "")
    return f"{where}{reason}" + (f"; {hint}" if hint else "")
