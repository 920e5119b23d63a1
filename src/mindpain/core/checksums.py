"""Checksums: the package's one file checksum (with its persistent cache) and code fingerprints.

:func:`sha256` is every checksum of a file the package takes; with ``MINDPAIN_HASH_CACHE``
set, a digest is reused while the file's identity and times are unchanged, and
:func:`tree_state` / :func:`checked_before` / :func:`remember_checked` let a chapter skip
re-checking a dataset nothing in which changed. :func:`code_fingerprint` hashes code
without its docstrings and comments; :func:`code_closure` derives from the imports which
files a result depends on. Together they make the content keys of cached results.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import sqlite3
import time
from pathlib import Path

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


# --------------------------------------------------------------------------- code

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
        Dotted module names, all in one top-level package (for example
        ``"mindpain.trial.analysis"``).

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
