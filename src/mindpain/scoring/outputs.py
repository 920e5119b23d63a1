"""Writing scores: the JSON sidecar, safe output paths, and resumable batches to a file.

:func:`score_to_file` (``mindpain score``) scores a batch in blocks of
:data:`RESUME_BLOCK` maps, keeps each finished block in a hidden folder beside the output
and skips it on a re-run, so an interrupted batch resumes. The table and its sidecar
(:func:`settings_sidecar`) appear together, or neither; an existing file that
``mindpain score`` did not write is never replaced (:func:`check_output`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError
from mindpain.scoring.engine import (
    DEFAULT_CHUNK,
    BadMapsError,
    as_items,
    check_settings,
    check_unique,
    progress_bar,
    resolve_signatures,
    score_block,
)
from mindpain.scoring.maps import COLUMN_DESCRIPTIONS, entity_columns
from mindpain.signatures import Signature

#: Maps per block kept for resuming a batch (:func:`score_to_file`).
RESUME_BLOCK = 512

# --------------------------------------------------------------------------- outputs

#: Marker of a scores sidecar written by this package (``GeneratedBy``, BIDS style).
GENERATED_BY = {"Name": "mindpain", "Command": "score"}


def settings_sidecar(signatures: Iterable[Signature], metrics, subregions, resample,
                     maps, columns: Sequence[str] = ()) -> dict:
    """JSON sidecar describing the columns and settings of a scores table.

    ``columns`` are the table's entity columns
    (:func:`~mindpain.scoring.maps.entity_columns`) to describe.
    """
    from mindpain import __version__

    described = dict(COLUMN_DESCRIPTIONS)
    for col in columns:
        described.setdefault(col, f"BIDS entity {col.removeprefix('entity_')}-<label> of the "
                                  "map's file name; n/a if none")
    return {
        **{c: {"Description": d} for c, d in described.items()},
        "GeneratedBy": [{**GENERATED_BY, "Version": __version__}],
        "Settings": {
            "signatures": [s.describe() for s in signatures],
            "metrics": list(metrics),
            "subregions": bool(subregions),
            "resampling": resample,
            "missing_data": "per image, voxels where the image is NaN or exactly 0; voxels "
                            "where the weights are 0/NaN are outside the pattern; no data "
                            "in the pattern (n_voxels 0) = response n/a",
            "float_format": "shortest round-trip repr of float64 (full precision)",
            "n_maps": len(maps),
            "maps": [str(m) for m in maps],
            "mindpain_version": __version__,
        },
    }


def is_scores_sidecar(path) -> bool:
    """Return True if ``path`` is a JSON sidecar written by ``mindpain score``."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    if not isinstance(record, dict):
        return False
    gen = record.get("GeneratedBy")
    if isinstance(gen, list) and any(isinstance(g, dict) and g.get("Name") == "mindpain"
                                     and g.get("Command") == "score" for g in gen):
        return True
    settings = record.get("Settings")  # sidecars of mindpain 0.1 before the marker
    return isinstance(settings, dict) and "mindpain_version" in settings and "metrics" in settings


def check_output(out) -> Path:
    """Check, before any scoring, that ``out`` (a ``.tsv``) and its sidecar can be written.

    Refuses (one-line :class:`~mindpain.core.errors.MindpainError`) a name not ending in
    ``.tsv``, a folder, a parent that is a file or not writable, and an existing table or
    JSON that ``mindpain score`` did not write (never replaced).
    """
    out = Path(out)
    if out.suffix != ".tsv":
        raise MindpainError("output must end in .tsv (a JSON sidecar is written beside it)",
                            out)
    sidecar = out.with_suffix(".json")
    for path in (out, sidecar):
        if path.is_dir():
            raise MindpainError("is a folder; expected a file name ending in .tsv for --out",
                                path)
    ours = sidecar.is_file() and is_scores_sidecar(sidecar)
    if sidecar.exists() and not ours:
        raise MindpainError("exists and was not written by mindpain score (no mindpain "
                            "marker); it would be replaced by the sidecar of the table: move "
                            "it or choose another --out", sidecar)
    if out.exists() and not ours:
        raise MindpainError("exists and is not a scores table written by mindpain score (no "
                            "mindpain sidecar beside it): move it or choose another --out", out)
    parent = out.parent
    while not parent.exists():
        if parent.is_symlink():
            raise MindpainError("is a broken symbolic link; expected a folder", parent)
        parent = parent.parent
    if not parent.is_dir():
        raise MindpainError("is a file, not a folder; --out must be inside a folder", parent)
    _probe_writable(parent)
    return out


def _probe_writable(folder: Path) -> None:
    import tempfile

    try:
        fd, tmp = tempfile.mkstemp(prefix=".mindpain-probe-", dir=folder)
    except OSError as err:
        raise MindpainError(f"cannot write here ({err.strerror or err}); choose a writable "
                            "folder for --out", folder) from None
    os.close(fd)
    os.unlink(tmp)


def write_scores(table: pd.DataFrame, out, sidecar: dict) -> Path:
    """Write ``table`` as TSV and ``sidecar`` as JSON next to it, both or neither."""
    from mindpain.core.io import atomic_path, write_json, write_tsv

    out = check_output(out)
    with atomic_path(out) as tmp_tsv, atomic_path(out.with_suffix(".json")) as tmp_json:
        write_tsv(tmp_tsv, table)
        write_json(tmp_json, sidecar)
    return out


# --------------------------------------------------------------------------- batches

def _stats(paths) -> list:
    out = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append([st.st_size, st.st_mtime_ns])
        except OSError:
            out.append(None)
    return out


class _Partial:
    """Blocks of a batch kept beside the output, so that a re-run resumes.

    Folder ``.<out name>.mindpain-score-partial`` beside ``out``; ``batch.json`` holds the
    key of the settings (signatures, metrics, columns, ...); ``block-NNNNNN.tsv`` one
    finished block and ``block-NNNNNN.json`` its maps, their size and mtime, and the
    sha256 of the TSV. A block is reused only when all of these match.
    """

    MARKER = "batch.json"

    def __init__(self, out: Path, key: str):
        self.dir = out.parent / f".{out.name}.mindpain-score-partial"
        self.key = key

    def _ours(self) -> bool:
        try:
            return json.loads((self.dir / self.MARKER).read_text()).get("tool") == \
                "mindpain score"
        except (OSError, ValueError, AttributeError):
            return False

    def open(self) -> None:
        """Check the folder is ours; clear it when it holds another batch's blocks."""
        if self.dir.exists() or self.dir.is_symlink():
            if not self.dir.is_dir() or self.dir.is_symlink() or not self._ours():
                raise MindpainError("is in the way: it has the name of mindpain score's "
                                    "resume folder but was not written by it; move it away",
                                    self.dir)
            record = json.loads((self.dir / self.MARKER).read_text())
            if record.get("key") != self.key:
                self.remove()

    def _files(self):
        return [p for p in self.dir.iterdir()
                if p.name == self.MARKER or (p.name.startswith("block-")
                                             and p.suffix in (".tsv", ".json"))]

    def _clear(self) -> None:
        for p in self._files():
            p.unlink()

    def block(self, k: int) -> tuple[Path, Path]:
        return self.dir / f"block-{k:06d}.tsv", self.dir / f"block-{k:06d}.json"

    def done(self, k: int, paths, stats) -> bool:
        tsv, meta = self.block(k)
        try:
            record = json.loads(meta.read_text())
            return (record["maps"] == paths and record["stats"] == stats
                    and record["sha256"] == sha256(tsv))
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def save(self, k: int, table: pd.DataFrame, paths, stats) -> None:
        from mindpain.core.io import write_json, write_tsv

        if not (self.dir / self.MARKER).is_file():
            self.dir.mkdir(parents=True, exist_ok=True)
            write_json(self.dir / self.MARKER, {"tool": "mindpain score", "key": self.key})
        tsv, meta = self.block(k)
        write_tsv(tsv, table)
        write_json(meta, {"maps": paths, "stats": stats, "sha256": sha256(tsv)})

    def remove(self) -> None:
        if not self.dir.is_dir():
            return
        self._clear()
        try:
            self.dir.rmdir()
        except OSError:  # something else was put inside: leave it
            pass


def _batch_key(sigs, metrics, subregions, resample, ent_cols, chunk_size) -> str:
    from mindpain import __version__

    record = {"signatures": [(s.name, s.sha256) for s in sigs], "metrics": list(metrics),
              "subregions": bool(subregions), "resample": resample, "columns": list(ent_cols),
              "block": RESUME_BLOCK, "chunk": int(chunk_size), "version": __version__,
              "code": [sha256(p) for p in sorted(Path(__file__).parent.glob("*.py"))]}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def score_to_file(maps, signatures, out, *, metrics=("dot",), subregions: bool = False,
                  resample: str = "weights-to-data", n_jobs: int = 1, progress: bool = False,
                  chunk_size: int = DEFAULT_CHUNK, data_dir=None) -> Path:
    """Score a batch of map files into ``out`` (TSV) + JSON sidecar; resumable.

    The output is checked before any scoring (:func:`check_output`). Maps are scored in
    blocks of :data:`RESUME_BLOCK`; each finished block is kept in a hidden folder beside
    ``out`` (see :class:`_Partial`), so a re-run after an interruption or a bad map skips
    the finished blocks. The table and sidecar appear together at the end and the folder
    is removed. If maps are bad, every one is listed and nothing is written.

    Parameters
    ----------
    maps : sequence of path-like
        Map files, each once.
    signatures : sequence of str, path-like or Signature
        As for :func:`~mindpain.scoring.engine.score_maps`.
    out : path-like
        Output table, ending in ``.tsv``.
    metrics, subregions, resample, n_jobs, progress, chunk_size, data_dir
        As for :func:`~mindpain.scoring.engine.score_maps`.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    out = check_output(out)
    metrics = check_settings(metrics, resample)
    sigs = resolve_signatures(signatures, data_dir)
    items = [str(m) for m in as_items(maps)]
    if not items:
        raise MindpainError("no map given; expected at least one contrast map")
    check_unique(items)
    ent_cols = entity_columns(items)
    partial = _Partial(out, _batch_key(sigs, metrics, subregions, resample, ent_cols,
                                       chunk_size))
    partial.open()
    errors: list[str] = []
    n_blocks = -(-len(items) // RESUME_BLOCK)
    bar = progress_bar(len(items), progress)
    try:
        for k in range(n_blocks):
            block = items[k * RESUME_BLOCK:(k + 1) * RESUME_BLOCK]
            paths = [os.path.abspath(p) for p in block]
            stats = _stats(block)
            if partial.done(k, paths, stats):
                bar.update(len(block))
                continue
            table, errs = score_block(block, block, sigs, metrics, subregions, resample,
                                      chunk_size, n_jobs, bar, ent_cols)
            if errs:
                errors += errs
            else:  # kept even after a bad block: the re-run skips it
                partial.save(k, table, paths, stats)
    finally:
        bar.close()
    if errors:
        kept = sum(partial.block(k)[0].is_file() for k in range(n_blocks))
        if not kept:
            partial.remove()
        outcome = "nothing was written" + (
            f" (the {kept} finished block(s) of {RESUME_BLOCK} maps are kept in "
            f"{partial.dir} and skipped on the next run)" if kept else "")
        if len(errors) == 1:
            raise MindpainError(f"{errors[0]}; {outcome}")
        raise BadMapsError(errors, len(items), outcome)
    _assemble(partial, n_blocks, out, settings_sidecar(sigs, metrics, subregions, resample,
                                                       items, ent_cols))
    partial.remove()
    return out


def _assemble(partial: _Partial, n_blocks: int, out: Path, sidecar: dict) -> None:
    """Concatenate the blocks into ``out`` and write the sidecar, both or neither."""
    from mindpain.core.io import atomic_path, write_json

    check_output(out)
    with atomic_path(out) as tmp_tsv, atomic_path(out.with_suffix(".json")) as tmp_json:
        with open(tmp_tsv, "wb") as dst:
            for k in range(n_blocks):
                with open(partial.block(k)[0], "rb") as src:
                    if k:
                        src.readline()  # the header, written once
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
        write_json(tmp_json, sidecar)
