"""Files in and out: atomic writers and the readers beside them, ownership, checksums, caches.

Every writer goes through :func:`atomic_path`: it writes to a temporary file in the
target's folder and renames it into place only when the write finished.

Folders this package makes (a twin, first-level derivatives) carry an **ownership marker**,
:data:`MARKER` (``.mindpain.json``: the kind of folder and, for a twin, a manifest of its
files). A folder is replaced or written into only when its marker proves it is ours and of
the expected kind; temporary and backup folders have names only this package uses
(``.mindpain-partial-<name>-<token>``, ``.mindpain-old-<name>-<token>``), so a user's
``.NAME.partial`` or ``.NAME.old`` is never touched.
"""

from __future__ import annotations

import ast
import contextlib
import errno
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd


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
    (onsets in seconds).
    """
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="n/a", float_format=float_format,
                     lineterminator="\n")
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


def _code_only(source: str) -> str:
    """Return the syntax tree of Python ``source`` without docstrings, as text."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def code_fingerprint(paths) -> str:
    """sha256 over the code of ``paths``: Python files as their syntax tree, others as bytes.

    Docstrings, comments and layout do not count, so editing documentation keeps every cache
    keyed on the fingerprint valid; a change to what the code does changes it.
    """
    digest = hashlib.sha256()
    for path in map(Path, paths):
        digest.update(path.name.encode())
        digest.update(_code_only(path.read_text()).encode() if path.suffix == ".py"
                      else path.read_bytes())
    return digest.hexdigest()


#: Files beside the package's modules that are code too (parameters read at import or run).
CODE_DATA_SUFFIXES = (".toml",)


def _module_file(root: Path, name: str) -> Path | None:
    """Return the source file of module ``name`` of the package at ``root``, or ``None``."""
    base = root.joinpath(*name.split(".")[1:])
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _imported_names(path: Path, name: str) -> set[str]:
    """Return every module name ``path`` (module ``name``) imports, anywhere in its body.

    ``from a import b`` yields both ``a`` and ``a.b`` (``b`` may be a submodule); relative
    imports are resolved against ``name``.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def code_closure(*modules: str) -> list[Path]:
    """Source files of ``modules`` and of every module of their package they import, transitively.

    The imports are read from the syntax tree (in-function imports count too), so the files a
    result depends on are derived from the code rather than listed by hand; the package
    ``__init__`` files on the way and the package's parameter files (:data:`CODE_DATA_SUFFIXES`
    in the folders reached) are included. Feed the list to :func:`code_fingerprint` for a
    content key.

    Parameters
    ----------
    *modules : str
        Dotted module names, all in one top-level package (for example ``"mindpain.trial"``).

    Returns
    -------
    list of Path
        Sorted, without repeats.

    Raises
    ------
    ValueError
        If a named module has no source file in its package.
    """
    import importlib.util

    top = {m.partition(".")[0] for m in modules}
    if len(top) != 1:
        raise ValueError(f"code_closure: modules of one package expected, got {sorted(top)}")
    (package,) = top
    root = Path(importlib.util.find_spec(package).origin).parent
    files: set[Path] = set()
    todo = list(modules)
    for name in modules:
        if _module_file(root, name) is None:
            raise ValueError(f"code_closure: {name} has no source file under {root}")
    while todo:
        name = todo.pop()
        if name != package and not name.startswith(package + "."):
            continue
        path = _module_file(root, name)
        if path is None or path in files:
            continue
        files.add(path)
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)))
        todo.extend(_imported_names(path, name))
    folders = {p.parent for p in files}
    files.update(p for folder in folders for p in folder.iterdir()
                 if p.suffix in CODE_DATA_SUFFIXES and p.is_file())
    return sorted(files)


def _stored_key(sidecar: Path):
    """Return the ``key`` of a table's JSON sidecar, or ``None`` (absent, unreadable, odd)."""
    try:
        meta = read_json(sidecar)
    except (OSError, ValueError):
        return None
    return meta.get("key") if isinstance(meta, dict) else None


def adopt(path, key, folder) -> bool:
    """Copy ``folder/<path.name>`` (and its sidecar) to ``path`` if its sidecar's key is ``key``.

    ``folder`` holds tables committed with the book (``book/precomputed/``, see
    :mod:`mindpain.precomputed`); a copy whose key differs (the code, parameters, seed or
    settings changed) is ignored, so nothing stale is ever used.

    Returns
    -------
    bool
        Whether the committed copy was current and is now at ``path``.
    """
    path = Path(path)
    source = Path(folder) / path.name
    if _stored_key(source.with_suffix(".json")) != key or not source.is_file():
        return False
    if source.resolve() != path.resolve():
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
        write_json(path.with_suffix(".json"), read_json(source.with_suffix(".json")))
    return True


def cached_table(path, key: dict, compute, columns: dict, *, read=read_tsv,
                 committed=None) -> pd.DataFrame:
    """Return the table at ``path``, computing and writing it only when its key changed.

    The one way to say "compute unless a table with this key exists". The table's JSON
    sidecar (``path`` with ``.json``) holds ``{"key": key, "columns": columns}``. When it
    matches ``key``, the stored table is read back with ``read``; else, when ``committed``
    (a folder of tables committed with the book) holds a table of that name under the same
    key, it is copied to ``path`` (:func:`adopt`) and read; otherwise ``compute()`` makes the
    table, which is written (TSV, then sidecar) and read back the same way, so a fresh, a
    cached and an adopted call return the same frame.
    """
    path = Path(path)
    if path.is_file() and _stored_key(path.with_suffix(".json")) == key:
        return read(path)
    if committed is not None and adopt(path, key, committed):
        return read(path)
    write_tsv(path, compute())
    write_json(path.with_suffix(".json"), {"key": key, "columns": columns})
    return read(path)


def write_nifti(path, img) -> Path:
    """Save a NIfTI image atomically (gzip output is deterministic in nibabel)."""
    with atomic_path(path) as tmp:
        nib.save(img, tmp)
    return Path(path)


#: Environment variable naming the checksum cache (an SQLite file); unset: no cache.
HASH_CACHE_ENV = "MINDPAIN_HASH_CACHE"
#: A file modified less than this many seconds before it was hashed is not cached: its
#: modification time could still repeat for a later write within the clock's resolution.
HASH_CACHE_SETTLE_S = 2.0


def sha256(path, chunk: int = 1 << 20) -> str:
    """Return the sha256 hex digest of a file (the package's only file checksum).

    With :data:`HASH_CACHE_ENV` set (the book's Makefile sets it), a digest is reused when
    the file's identity and metadata are exactly as when it was hashed: device, inode,
    size, modification and status-change times in nanoseconds. Any write, truncation,
    replacement or ``touch`` changes at least one of them (the status-change time cannot be
    set back by a user), so a changed file is always hashed again; the cache only saves
    re-reading unchanged gigabytes of the twin and its derivatives in every chapter. A
    broken or unwritable cache is ignored.
    """
    cache = os.environ.get(HASH_CACHE_ENV)
    if not cache:
        return _hash_file(path, chunk)
    st = os.stat(path)
    key = f"{st.st_dev}:{st.st_ino}"  # the file itself, whatever path reaches it
    sig = f"{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    found = _hash_cache_get(cache, key, sig)
    if found is not None:
        return found
    digest = _hash_file(path, chunk)
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) > HASH_CACHE_SETTLE_S * 1e9:
        _hash_cache_put(cache, key, sig, digest)
    return digest


def _hash_file(path, chunk: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


_HASH_DB: dict = {}


def _hash_db(cache: str):
    """Return this process's connection to the checksum cache (``None`` if unusable)."""
    if cache in _HASH_DB:
        return _HASH_DB[cache]
    try:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(cache, timeout=30, isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS sha256 (file TEXT PRIMARY KEY, sig TEXT, "
                    "digest TEXT)")
        con.execute("CREATE TABLE IF NOT EXISTS checked (key TEXT PRIMARY KEY)")
    except (OSError, sqlite3.Error):
        con = None
    _HASH_DB[cache] = con
    return con


def _hash_cache_get(cache: str, key: str, sig: str) -> str | None:
    con = _hash_db(cache)
    if con is None:
        return None
    try:
        row = con.execute("SELECT sig, digest FROM sha256 WHERE file = ?", (key,)).fetchone()
    except sqlite3.Error:
        return None
    return row[1] if row is not None and row[0] == sig else None


def _hash_cache_put(cache: str, key: str, sig: str, digest: str) -> None:
    con = _hash_db(cache)
    if con is None:
        return
    with contextlib.suppress(sqlite3.Error):
        con.execute("INSERT OR REPLACE INTO sha256 VALUES (?, ?, ?)", (key, sig, digest))


def tree_state(*folders) -> tuple[str, int]:
    """Return a digest of every file under ``folders`` as the checksum cache sees a file.

    The digest covers each file's path and identity (device, inode, size, modification and
    status-change times in nanoseconds), so any file written, touched, replaced, added or
    removed changes it. Returns ``(digest, newest time in ns)``.
    """
    rows, newest = [], 0
    for folder in folders:
        stack = [str(folder)]
        while stack:
            top = stack.pop()
            try:
                entries = list(os.scandir(top))
            except FileNotFoundError:
                rows.append(f"{top}\tmissing")
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                    continue
                st = entry.stat(follow_symlinks=False)
                newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
                rows.append(f"{entry.path}\t{st.st_dev}:{st.st_ino}:{st.st_size}:"
                            f"{st.st_mtime_ns}:{st.st_ctime_ns}")
    rows.sort()
    return hashlib.sha256("\n".join(rows).encode()).hexdigest(), newest


def checked_before(key: str) -> bool:
    """Whether a check with this key passed before (see :func:`remember_checked`)."""
    cache = os.environ.get(HASH_CACHE_ENV)
    con = _hash_db(cache) if cache else None
    if con is None:
        return False
    try:
        return con.execute("SELECT 1 FROM checked WHERE key = ?", (key,)).fetchone() is not None
    except sqlite3.Error:
        return False


def remember_checked(key: str, newest_ns: int) -> None:
    """Record, in the checksum cache, that a check with this key passed.

    Used with :func:`tree_state`: a whole-folder check (every first-level output current)
    is skipped while no file under the folders changed, the same trust the checksum cache
    gives each file. Nothing is recorded without :data:`HASH_CACHE_ENV`, nor while the
    newest file is younger than :data:`HASH_CACHE_SETTLE_S`.
    """
    cache = os.environ.get(HASH_CACHE_ENV)
    con = _hash_db(cache) if cache else None
    if con is None or time.time_ns() - newest_ns <= HASH_CACHE_SETTLE_S * 1e9:
        return
    with contextlib.suppress(sqlite3.Error):
        con.execute("INSERT OR REPLACE INTO checked VALUES (?)", (key,))


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
    if not parent.is_dir():
        raise MindpainError("is a file, so no folder can be made below it", parent)
    if not os.access(parent, os.W_OK | os.X_OK):
        raise MindpainError("cannot write here (permission denied)", parent)
    return path


# --------------------------------------------------------------------------- ownership

#: Name of the ownership marker at the top of every folder this package makes.
MARKER = ".mindpain.json"
#: Prefix of every temporary file or folder this package makes.
TMP_PREFIX = ".mindpain-tmp-"


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
    from mindpain.errors import MindpainError

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
