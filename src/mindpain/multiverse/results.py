"""The committed multiverse: written by ``make multiverse``, read back by the book.

``make multiverse`` (``python -m mindpain.multiverse``) computes the multiverse on the
``reduced`` preset (:data:`PRECOMPUTED_PRESET`) and writes its three tables and
``multiverse.json`` (:func:`write_result`) under ``book/precomputed/``; the book reads them
back with their key checked against the current code (:func:`load_result`,
:func:`load_or_run`) and writes the specifications to its tables
(:func:`write_multiverse`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.core.vocabulary import DEFAULT_WORLD, METRICS
from mindpain.multiverse.curve import N_PERMUTATIONS, Multiverse
from mindpain.multiverse.grid import (
    COVARIATE_SETS,
    MODEL_SAMPLES,
    OUTCOMES,
    SPEC_COLUMNS,
    first_level_variants,
)
from mindpain.multiverse.runner import run_multiverse

#: Preset of the committed multiverse (full design, coarse grid).
PRECOMPUTED_PRESET = "reduced"


def content_key(preset: str, seed: int, n_permutations: int = N_PERMUTATIONS,
                contrast: str = "MBSR_vs_HEP", grid: str = "book",
                world: str = DEFAULT_WORLD) -> dict:
    """Key of a multiverse result: preset, world, seed, grid, permutations and a code fingerprint.

    The fingerprint (:func:`mindpain.core.checksums.code_fingerprint`) hashes the code of every
    module of
    :mod:`mindpain.multiverse` and of every package module they import, transitively
    (:func:`mindpain.core.checksums.code_closure`: twin, first level, scoring, signatures, models;
    docstrings and comments do not count) and the twin's parameter file.
    """
    from mindpain.core.checksums import code_closure, code_fingerprint

    return {"preset": preset, "world": world, "seed": int(seed), "contrast": contrast,
            "n_permutations": int(n_permutations),
            "first_level": [v.label for v in first_level_variants(grid, world)],
            "metrics": list(METRICS), "models": [list(m) for m in MODEL_SAMPLES],
            "covariates": list(COVARIATE_SETS), "outcomes": list(OUTCOMES),
            "code": code_fingerprint(code_closure(__package__))}


def write_result(result: Multiverse, folder, key: dict) -> Path:
    """Write the multiverse's three tables and ``multiverse.json`` atomically into ``folder``.

    Files: ``multiverse_specs.tsv``, ``multiverse_null.tsv``, ``multiverse_summary.tsv`` and
    ``multiverse.json`` (key, column meanings, timing).
    """
    from mindpain.core.io import write_json, write_tsv

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_tsv(folder / "multiverse_specs.tsv", result.specs, float_format="%.10g")
    write_tsv(folder / "multiverse_null.tsv", result.null, float_format="%.10g")
    write_tsv(folder / "multiverse_summary.tsv", result.summary, float_format="%.10g")
    return write_json(folder / "multiverse.json", {
        "key": key, "columns": SPEC_COLUMNS, "timing": result.timing,
        "made_by": "make multiverse (python -m mindpain.multiverse)"})


def load_result(folder, key: dict) -> Multiverse:
    """Read a committed multiverse; a missing or stale one raises a one-line error.

    Raises
    ------
    MindpainError
        When the files are absent or their key differs from ``key`` (the code, the twin's
        parameters, the seed or the grid changed): run ``make multiverse``.
    """
    from mindpain.core.store import check_key, read_table

    folder = Path(folder)
    hint = f"run `make multiverse SEED={key['seed']}` to (re)compute it"
    meta = check_key(folder / "multiverse.json", key, hint, "multiverse")
    specs, null, summary = (read_table(folder / f"multiverse_{name}.tsv")
                            for name in ("specs", "null", "summary"))
    return Multiverse(specs=specs, null=null, summary=summary, timing=meta.get("timing", {}))


def load_or_run(cfg, n_permutations: int = N_PERMUTATIONS, folder=None,
                small_permutations: int = 200) -> tuple:
    """Return the book's multiverse: committed for the full twin, computed for the small one.

    The full twin's first level costs minutes per variant, so the book reads the result
    that ``make multiverse`` computed on the ``reduced`` preset (full design, coarse grid)
    and checks its key. The small twin (tests) is cheap and is computed here, on the
    ``small`` grid (smoothing x confounds) and with ``small_permutations``.

    Returns
    -------
    tuple
        (:class:`~mindpain.multiverse.curve.Multiverse`, preset it was computed on, whether it was
        read from disk).
    """
    if cfg.preset == "small":
        return (run_multiverse(cfg, n_permutations=small_permutations, grid="small"),
                cfg.preset, False)
    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    key = content_key(PRECOMPUTED_PRESET, cfg.seed, n_permutations, world=cfg.world)
    return load_result(folder, key), PRECOMPUTED_PRESET, True


def write_multiverse(specs: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write ``multiverse.tsv`` (every specification) and its JSON sidecar to the tables."""
    from mindpain.core.store import table_path, write_table

    return write_table(specs, table_path(cfg, "multiverse.tsv", out_dir), SPEC_COLUMNS,
                       float_format="%.10g",
                       Description="Specification curve: one row per specification of the "
                                   "multiverse")
