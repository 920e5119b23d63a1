"""The committed end-to-end result: written by ``make calibrate``, read by the book, re-keyed.

``make calibrate`` (``python -m mindpain.endtoend``) writes
``book/precomputed/trial_coverage_endtoend.tsv`` with its JSON sidecar (key, columns,
timing, check digests) and a copy under ``results/tables/`` (:func:`write_result`); the
book reads it back with its key checked against the current code (:func:`load_result`,
:func:`load_or_run`). When code in the fingerprint changes without changing the numbers,
``make calibrate-rekey`` (:func:`rekey`) recomputes the check replications and, if they
match, renews the key.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.core.errors import MindpainError
from mindpain.core.io import read_json
from mindpain.core.store import load_current, renew_key, sidecar, write_table
from mindpain.endtoend.replication import replicate, scores_digest, surrogate_weights
from mindpain.endtoend.runner import content_key, run_endtoend, world_parameters
from mindpain.endtoend.settings import COLUMNS, DEFAULT_REPLICATIONS, ENDTOEND_PRESET, TABLE_NAME


def write_result(table: pd.DataFrame, folder, key: dict, timing: dict) -> Path:
    """Write the coverage table and its JSON sidecar (key, columns, timing) into ``folder``."""
    return write_table(table, Path(folder) / TABLE_NAME, COLUMNS, key=key, timing=timing,
                       made_by="make calibrate (python -m mindpain.endtoend)")


def load_result(folder, key: dict) -> tuple:
    """Read a committed end-to-end result; a missing or stale one raises a one-line error.

    ``key`` is compared field by field with the stored key, except ``n_replications``
    (read from the file: a budgeted run may have finished fewer than requested).

    Returns
    -------
    tuple
        ``(table, meta)``: the coverage table and the sidecar (key, columns, timing).

    Raises
    ------
    MindpainError
        When the files are absent or the key differs (the code, the twin's parameters, the
        preset or the seed changed): run ``make calibrate`` (or, when the change cannot
        alter the numbers, ``make calibrate-rekey``).
    """
    hint = (f"run `make calibrate SEED={key['seed']}` to recompute it (or `make "
            "calibrate-rekey` if the change cannot alter its numbers)")
    return load_current(Path(folder) / TABLE_NAME, key, hint, "end-to-end calibration",
                        ignore=("n_replications",))


def rekey(folder=None, data_dir=None) -> dict:
    """Give a committed result the current code's key if the code still gives its numbers.

    Recomputes the replications whose digests the sidecar keeps
    (``timing.check_digests``: the first two of every scenario) with the current code and
    compares their scores (12 significant digits) with the stored digests. When every one
    matches, the sidecar's key gets the current code fingerprint; otherwise a one-line error
    says to recompute (``make calibrate``).

    Returns
    -------
    dict
        The new key.
    """
    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    meta_path = sidecar(folder / TABLE_NAME)
    meta = read_json(meta_path)
    old = meta["key"]
    scenarios = {k: tuple(v) for k, v in old["scenarios"].items()}
    params = world_parameters(old["preset"], scenarios)
    weights = surrogate_weights(next(iter(params.values())), data_dir)
    for name, digests in meta["timing"]["check_digests"].items():
        for r, digest in enumerate(digests):
            got = scores_digest(replicate(params[scenarios[name][0]], old["seed"], r,
                                          weights, scenarios[name][1]))
            if got != digest:
                raise MindpainError(f"replication {r} of scenario {name} differs with the "
                                    "current code; run `make calibrate`", meta_path)
    return renew_key(folder / TABLE_NAME, content_key(old["preset"], old["seed"],
                                                      old["n_replications"], scenarios))


def load_or_run(cfg, folder=None, small_replications: int = 4) -> tuple:
    """Return the end-to-end coverage for the book.

    The full calibration costs about an hour, so the book reads the result that
    ``make calibrate`` committed under ``book/precomputed/`` and checks its key against the
    current code; the copy is also adopted into the results folder
    (:func:`mindpain.core.store.adopt`). The small twin (tests) is cheap and is computed
    here with ``small_replications``, its finished replications kept in the work folder's
    ``endtoend-cache`` (as ``make calibrate`` keeps its own): a chapter executed again, or
    another dataset analysed from the same work folder, reads them instead of computing
    them again (they depend on the code, the seed and the preset, not on the dataset).

    Returns
    -------
    tuple
        ``(table, meta, from_disk)``.
    """
    if cfg.preset == "small":
        table, _, timing = run_endtoend(cfg.seed, small_replications, preset="small",
                                        data_dir=cfg.data_dir,
                                        cache_root=Path(cfg.work_dir) / "endtoend-cache")
        return table, {"key": content_key("small", cfg.seed, small_replications),
                       "timing": timing}, False
    from mindpain.core.store import adopt, tables_dir

    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    key = content_key(ENDTOEND_PRESET, cfg.seed, DEFAULT_REPLICATIONS)
    table, meta = load_result(folder, key)
    adopt(tables_dir(cfg) / TABLE_NAME, meta["key"], folder)
    return table, meta, True
