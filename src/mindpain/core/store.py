"""The result store: where result tables live, how a keyed result is written, read, reused.

One place owns every result the package writes as a table:

* **Paths.** :func:`tables_dir` is the folder of a run's result tables; :func:`sidecar` is
  the JSON file beside a table (``x.tsv`` and ``x.tsv.gz`` both have ``x.json``).
* **Writing and reading.** :func:`write_table` writes a table (TSV, or gzip-compressed TSV
  when the name ends in ``.gz``; :func:`mindpain.core.io.write_tsv`) and its sidecar
  (``columns`` and any other fields, ``key`` among them); :func:`read_table` reads it back
  with the one missing-value policy (:func:`mindpain.core.io.read_tsv`: only ``n/a``).
* **Keyed results.** A result's sidecar holds its content key (what it was computed from:
  settings, seed, code fingerprint). :func:`load_current` reads a result only while its key
  matches, else raises a one-line error saying how to recompute it; :func:`cached_table` is
  the one "compute unless a current result exists" call (here, or committed with the book
  and adopted, :func:`adopt`); :func:`renew_key` gives a result the current key after a
  check proved the current code reproduces it.
* **Replication caches.** Long Monte-Carlo computations (the end-to-end calibration, the
  multiverse replications) keep each finished replication in its own file
  (:class:`ReplicationCache`), so an interrupted run resumes, and files written by earlier
  code are reused only when the current code reproduces them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.io import atomic_path, read_json, read_tsv, write_json, write_tsv

# --------------------------------------------------------------------------- paths


def tables_dir(cfg) -> Path:
    """Folder of the result tables: ``cfg.results_dir`` (``<project>/results/tables``).

    Configurations without that attribute fall back to ``results/tables`` beside the work
    folder.
    """
    if getattr(cfg, "results_dir", None) is not None:
        return Path(cfg.results_dir)
    return Path(cfg.work_dir).parent / "results" / "tables"


def table_path(cfg, name: str, out_dir=None) -> Path:
    """Path of the result table ``name``: in ``out_dir`` if given, else :func:`tables_dir`."""
    return (Path(out_dir) if out_dir is not None else tables_dir(cfg)) / name


def sidecar(path) -> Path:
    """Return the JSON sidecar of a table: its name without every suffix, plus ``.json``.

    Examples
    --------
    >>> sidecar("results/trial_effects.tsv").name, sidecar("x/replications.tsv.gz").name
    ('trial_effects.json', 'replications.json')
    """
    path = Path(path)
    return path.with_name(path.name.split(".")[0] + ".json")


# --------------------------------------------------------------------------- tables


def write_table(table: pd.DataFrame, path, columns: dict, float_format: str | None = None,
                **meta) -> Path:
    """Write a table and its sidecar (``columns`` and ``meta``), each atomically.

    ``table`` is written with the columns of ``columns`` in that order when they are all
    present, else as it is. ``float_format`` as in :func:`mindpain.core.io.write_tsv`
    (default: every float at full precision). The sidecar is written after the table, so a
    sidecar (and its key) never vouches for a table that is not there.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if all(c in table.columns for c in columns):
        table = table[list(columns)]
    write_tsv(path, table, float_format=float_format)
    write_json(sidecar(path), {**meta, "columns": columns})
    return path


def read_table(path, **kwargs) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (``n/a`` is the only missing value)."""
    return read_tsv(path, **kwargs)


def stored_key(path):
    """Return the ``key`` in a table's sidecar, or ``None`` (absent, unreadable, odd)."""
    try:
        meta = read_json(sidecar(path))
    except (OSError, ValueError):
        return None
    return meta.get("key") if isinstance(meta, dict) else None


def load_current(path, key: dict, hint: str, what: str, ignore: Iterable[str] = ()) -> tuple:
    """Read a keyed result; a missing one or one of another key raises a one-line error.

    Parameters
    ----------
    path : path-like
        The result's table.
    key : dict
        The key the result must have; fields named in ``ignore`` are not compared (e.g. a
        replication count that a budgeted run may not have reached).
    hint : str
        How to (re)compute it, e.g. ``"run `make calibrate`"``.
    what : str
        What the result is, for the message (``"end-to-end calibration"``).

    Returns
    -------
    tuple
        ``(table, meta)``: the table and its sidecar.
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError(f"no precomputed {what}; {hint}", path)
    meta = check_key(sidecar(path), key, hint, what, ignore)
    return read_table(path), meta


def check_key(meta_path, key: dict, hint: str, what: str, ignore: Iterable[str] = ()) -> dict:
    """Return the sidecar ``meta_path`` if its ``key`` is ``key``, else raise a one-line error.

    For results of several tables under one sidecar (the multiverse's curve); one table's
    result is read with :func:`load_current`. Parameters as there.
    """
    meta_path = Path(meta_path)
    if not meta_path.is_file():
        raise MindpainError(f"no precomputed {what}; {hint}", meta_path)
    meta = read_json(meta_path)
    stored = meta.get("key", {}) if isinstance(meta, dict) else {}
    ignore = set(ignore)
    changed = sorted(k for k in set(key) | set(stored)
                     if k not in ignore and key.get(k) != stored.get(k))
    if changed:
        raise MindpainError(f"precomputed {what} is stale ({', '.join(changed)} changed); "
                            f"{hint}", meta_path)
    return meta


def renew_key(path, key: dict) -> dict:
    """Write ``key`` into a table's sidecar (after a check that the code reproduces it)."""
    meta_path = sidecar(path)
    meta = read_json(meta_path)
    meta["key"] = key
    write_json(meta_path, meta)
    return key


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
    if stored_key(source) != key or not source.is_file():
        return False
    if source.resolve() != path.resolve():
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
        write_json(sidecar(path), read_json(sidecar(source)))
    return True


def cached_table(path, key: dict, compute, columns: dict, *, read=read_table,
                 committed=None) -> pd.DataFrame:
    """Return the table at ``path``, computing and writing it only when its key changed.

    The one way to say "compute unless a table with this key exists". The table's sidecar
    holds ``{"key": key, "columns": columns}``. When it matches ``key``, the stored table
    is read back with ``read``; else, when ``committed`` (a folder of tables committed with
    the book) holds a table of that name under the same key, it is copied to ``path``
    (:func:`adopt`) and read; otherwise ``compute()`` makes the table, which is written
    (TSV, then sidecar) and read back the same way, so a fresh, a cached and an adopted call
    return the same frame.
    """
    path = Path(path)
    if path.is_file() and stored_key(path) == key:
        return read(path)
    if committed is not None and adopt(path, key, committed):
        return read(path)
    write_tsv(path, compute())
    write_json(sidecar(path), {"key": key, "columns": columns})
    return read(path)


# --------------------------------------------------------------------------- replications


def key_tag(key: dict, leave_out: Iterable[str] = ()) -> str:
    """Return a 16-hex-digit hash of ``key`` without the fields in ``leave_out``."""
    stem = {k: v for k, v in key.items() if k not in set(leave_out)}
    return hashlib.sha256(json.dumps(stem, sort_keys=True).encode()).hexdigest()[:16]


class ReplicationCache:
    """Per-replication files of one keyed Monte-Carlo computation: resumable, code-checked.

    The folder ``root/<name>`` holds one TSV per finished replication (under a group's
    subfolder when the computation has groups, e.g. scenarios) with a JSON of its wall and
    CPU seconds, and ``code.json``, the code fingerprint that wrote them. Name the folder by
    what the replications are (preset, seed, settings; :func:`key_tag`), not by the code:
    :meth:`check_code` decides whether files of other code may be reused.

    Parameters
    ----------
    folder : path-like
        The cache's folder.
    code : str
        The current code fingerprint.
    float_format : str, optional
        How the replication tables are written (:func:`mindpain.core.io.write_tsv`).
    """

    def __init__(self, folder, code: str, float_format: str | None = None):
        self.folder = Path(folder)
        self.code = code
        self.float_format = float_format

    def path(self, replication: int, group: str | None = None) -> Path:
        """Return the file of one replication (of ``group``)."""
        base = self.folder if group is None else self.folder / group
        return base / f"replication-{int(replication):05d}.tsv"

    def has(self, replication: int, group: str | None = None) -> bool:
        """Whether that replication has finished."""
        return self.path(replication, group).is_file()

    def write(self, frame: pd.DataFrame, replication: int, wall_s: float, cpu_s: float,
              group: str | None = None) -> Path:
        """Keep one finished replication (the timing first, the table last: atomic)."""
        path = self.path(replication, group)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path.with_suffix(".json"), {"wall_s": wall_s, "cpu_s": cpu_s})
        return write_tsv(path, frame, float_format=self.float_format)

    def read(self, replications: Iterable[int], group: str | None = None) -> pd.DataFrame:
        """Read the given replications (of ``group``) as one table."""
        return pd.concat([read_table(self.path(r, group)) for r in replications],
                         ignore_index=True)

    def timing(self, replications: Iterable[int], group: str | None = None) -> tuple:
        """``(walls, cpus)``: seconds of the given replications that recorded them."""
        walls, cpus = [], []
        for r in replications:
            try:
                rec = read_json(self.path(r, group).with_suffix(".json"))
            except (OSError, ValueError):
                continue
            walls.append(float(rec["wall_s"]))
            cpus.append(float(rec["cpu_s"]))
        return walls, cpus

    def check_code(self, recompute: Callable[[str | None], pd.DataFrame],
                   same: Callable[[pd.DataFrame, pd.DataFrame], bool],
                   groups: Iterable[str | None] = (None,)) -> bool:
        """Make the files safe to reuse with the current code; return whether they were kept.

        A folder labelled with the current code is reused as it is. Files of other code are
        kept only if the current code reproduces them: replication 0 of every group on disk
        is recomputed (``recompute(group)``) and compared with the stored one
        (``same(stored, fresh)``); if all match, the folder is labelled with the current code,
        otherwise it is renamed ``<name>.stale-<old code>`` (never deleted) and the run starts
        afresh. A folder without a label is treated as stale.
        """
        label = self.folder / "code.json"
        if not self.folder.exists():
            self.folder.mkdir(parents=True)
            write_json(label, {"code": self.code})
            return True
        try:
            old = read_json(label).get("code")
        except (OSError, ValueError, AttributeError):
            old = None
        if old == self.code:
            return True
        kept = old is not None
        for group in groups:
            if kept and self.has(0, group):
                kept = same(read_table(self.path(0, group)), recompute(group))
        if not kept:
            self.folder.rename(self.folder.with_name(
                f"{self.folder.name}.stale-{(old or 'unknown')[:12]}"))
            self.folder.mkdir(parents=True)
        write_json(label, {"code": self.code})
        return kept


def same_as_written(float_format: str | None = None) -> Callable:
    """Return a comparison of two tables as :func:`mindpain.core.io.write_tsv` writes them.

    Two tables are the same when their TSV text at ``float_format`` is identical (a table
    read back from such a file compares equal to the frame that was written).
    """
    def same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
        return tsv_text(a, float_format) == tsv_text(b, float_format)

    return same


def tsv_text(frame: pd.DataFrame, float_format: str | None = None) -> str:
    """Return the text :func:`mindpain.core.io.write_tsv` writes for ``frame``."""
    return frame.to_csv(sep="\t", index=False, na_rep="n/a", float_format=float_format,
                        lineterminator="\n")
