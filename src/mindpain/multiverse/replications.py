r"""The multiverse replicated on independently drawn twins: sampling spread beside choice spread.

:func:`run_replications` runs :func:`mindpain.multiverse.inmemory.replicate_multiverse` for
``R`` replications (joblib workers, a tqdm bar; each finished replication is kept in its own
file, so an interrupted run resumes) and returns one row per replication and specification
(:data:`REPLICATION_COLUMNS`). ``make multiverse`` writes it to
``book/precomputed/multiverse_replications.tsv.gz`` (gzip-compressed) with a JSON sidecar
(key, columns, timing; :func:`write_replications`); the book reads it back with its key checked
(:func:`load_replications`).

What the replications show (:func:`spec_coverage`, :func:`spread_summary`)
    Per specification, the share of replications whose 95 % CI covers the recoverable
    truth (:func:`recoverable_truth`, from :func:`mindpain.truth.recoverable_trial_effects`,
    put on the change-score scale of the multiverse's d), and the **sampling spread**: the
    SD of the estimate across replications. Per replication, the **specification spread**:
    the SD of the estimate across specifications. A specification curve of one dataset
    shows only the second; the first is what a confidence interval is about.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.store import ReplicationCache
from mindpain.core.vocabulary import DEFAULT_WORLD, METRICS
from mindpain.multiverse.grid import (
    COVARIATE_SETS,
    GRIDS,
    MODEL_SAMPLES,
    OUTCOMES,
    SPEC_COLUMNS,
    first_level_variants,
)
from mindpain.multiverse.inmemory import ROW_COLUMNS, replicate_multiverse, scoring_plan
from mindpain.twin.params import load_parameters

#: Preset of the replications: the end-to-end calibration's (full design, 15 mm grid).
REPLICATION_PRESET = "calibration"
#: Replications written by ``make multiverse``.
DEFAULT_REPLICATIONS = 20
#: File name of the replications table (sidecar: same stem, ``.json``).
TABLE_NAME = "multiverse_replications.tsv.gz"
#: How the replications' numbers are written (ten significant digits).
FLOAT_FORMAT = "%.10g"
#: Coverage a specification must reach to be counted in ``share_specs_coverage_ge_90``.
COVERAGE_THRESHOLD = 0.9
#: Columns that identify a specification.
SPEC_KEYS = ("outcome", "first_level", "metric", "model", "sample", "covariates")
#: Columns of the replications table.
REPLICATION_COLUMNS = {
    "replication": "replication number (its seed: mindpain.multiverse.inmemory.replication_seed)",
    **{k: SPEC_COLUMNS[k] for k in ROW_COLUMNS},
}


def content_key(preset: str, seed: int, world: str, n_replications: int,
                grid: str = "book", contrast: str = "MBSR_vs_HEP") -> dict:
    """Key of a replications result: preset, world, seed, replications, grid and the code.

    The code fingerprint hashes every module the replications import, transitively
    (:func:`mindpain.core.checksums.code_closure`: twin, end-to-end first level, scoring, models)
    and the twin's parameter file.
    """
    from mindpain.core.checksums import code_closure, code_fingerprint

    return {"preset": preset, "world": world, "seed": int(seed),
            "replications": int(n_replications), "contrast": contrast,
            "first_level": [v.label for v in first_level_variants(grid, world)],
            "metrics": list(METRICS), "models": [list(m) for m in MODEL_SAMPLES],
            "covariates": list(COVARIATE_SETS), "outcomes": list(OUTCOMES),
            "code": code_fingerprint(code_closure(__name__))}


def _run_one(params, seed, replication, plan, grid, contrast, cache) -> tuple:
    """Compute one replication and keep it in ``cache`` (worker task)."""
    start, cpu = time.perf_counter(), time.process_time()
    table = replicate_multiverse(params, seed, replication, plan, grid, contrast)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    cache.write(table, replication, wall, cpu)
    return wall, cpu


def cache_folder(root, key: dict) -> Path:
    """Folder of one key's per-replication files under ``root``.

    Named by what the replications are (preset, world, seed, grid, specifications), not by
    the code: files of other code are reused only when the current code reproduces them
    (:meth:`mindpain.core.store.ReplicationCache.check_code`).
    """
    from mindpain.core.store import key_tag

    return (Path(root) / f"multiverse-replications-{key['preset']}-{key['world']}-seed-"
            f"{key['seed']}-{key_tag(key, leave_out=('replications', 'code'))}")


def _same(stored: pd.DataFrame, fresh: pd.DataFrame) -> bool:
    """Whether two replications' rows are the same as written (:data:`FLOAT_FORMAT`)."""
    from mindpain.core.store import tsv_text

    cols = list(REPLICATION_COLUMNS)
    return (tsv_text(stored[cols].reset_index(drop=True), FLOAT_FORMAT)
            == tsv_text(fresh[cols].reset_index(drop=True), FLOAT_FORMAT))


def run_replications(seed: int, n_replications: int = DEFAULT_REPLICATIONS,
                     preset: str = REPLICATION_PRESET, world: str = DEFAULT_WORLD,
                     grid: str = "book", contrast: str = "MBSR_vs_HEP", n_jobs: int = 1,
                     progress: bool = False, cache_root=None, data_dir=None) -> tuple:
    """Replicate the multiverse on ``n_replications`` independently drawn twins.

    Each finished replication is written to its own file under :func:`cache_folder`
    (``cache_root``; default: a temporary folder removed at the end), so an interrupted run
    resumes; files of other code are reused only when the current code reproduces
    replication 0 (:meth:`mindpain.core.store.ReplicationCache.check_code`).

    Returns
    -------
    tuple
        ``(table, timing)``: one row per replication and specification
        (:data:`REPLICATION_COLUMNS`) and a timing dict (``wall_s`` of this call,
        ``replications_computed``, mean ``replication_wall_s`` and ``replication_cpu_s`` of
        the replications that recorded them, ``n_jobs``).
    """
    import tempfile

    from joblib import Parallel, delayed
    from tqdm import tqdm

    if n_replications < 2:
        raise MindpainError(f"{n_replications} replication(s) requested; at least 2 are needed "
                            "for a sampling spread")
    key = content_key(preset, seed, world, n_replications, grid, contrast)
    tmp = None
    if cache_root is None:
        tmp = tempfile.TemporaryDirectory(prefix="mindpain-multiverse-")
        cache_root = tmp.name
    params = load_parameters(preset, world)
    plan = scoring_plan(params, data_dir)
    cache = ReplicationCache(cache_folder(cache_root, key), key["code"], FLOAT_FORMAT)
    cache.check_code(lambda _: replicate_multiverse(params, seed, 0, plan, grid, contrast),
                     _same)
    todo = [r for r in range(n_replications) if not cache.has(r)]
    start = time.perf_counter()
    bar = tqdm(total=n_replications, initial=n_replications - len(todo), unit="replication",
               desc="multiverse replications", disable=not progress)
    batch = max(int(n_jobs), 1)
    with Parallel(n_jobs=n_jobs) as parallel:
        for i in range(0, len(todo), batch):
            chunk = todo[i:i + batch]
            parallel(delayed(_run_one)(params, seed, r, plan, grid, contrast, cache)
                     for r in chunk)
            bar.update(len(chunk))
    bar.close()
    table = cache.read(range(n_replications))
    walls, cpus = cache.timing(range(n_replications))
    timing = {"wall_s": round(time.perf_counter() - start, 1), "n_jobs": int(n_jobs),
              "replications_computed": len(todo),
              "replication_wall_s": round(float(np.mean(walls)), 1) if walls else None,
              "replication_cpu_s": round(float(np.mean(cpus)), 1) if cpus else None}
    if tmp is not None:
        tmp.cleanup()
    return table[list(REPLICATION_COLUMNS)], timing


def write_replications(table: pd.DataFrame, folder, key: dict, timing: dict | None = None
                       ) -> Path:
    """Write the replications table (gzip-compressed TSV) and its JSON sidecar atomically.

    The sidecar holds the key, the columns and the timing.
    """
    from mindpain.core.store import write_table

    return write_table(table, Path(folder) / TABLE_NAME, REPLICATION_COLUMNS, FLOAT_FORMAT,
                       key=key, timing=timing or {},
                       made_by="make multiverse (python -m mindpain.multiverse)")


def load_replications(folder, key: dict) -> pd.DataFrame:
    """Read the committed replications; a missing or stale one raises a one-line error.

    ``key`` is compared field by field with the stored key, except ``replications``: a result
    of more or fewer replications than asked for is read as it is (the table says how many).

    Raises
    ------
    MindpainError
        When the files are absent or their key differs from ``key``: run ``make multiverse``.
    """
    from mindpain.core.store import load_current

    hint = f"run `make multiverse SEED={key['seed']}` to (re)compute it"
    table, _ = load_current(Path(folder) / TABLE_NAME, key, hint,
                            "multiverse replications", ignore=("replications",))
    return table


def rekey(folder=None, n_check: int = 2, data_dir=None) -> dict:
    """Give the committed replications the current code's key if the code still gives them.

    Recomputes the first ``n_check`` replications with the current code and compares them,
    as written (:data:`FLOAT_FORMAT`), with the committed rows. When every one matches, the
    sidecar's key gets the current code fingerprint (``make multiverse-rekey``); otherwise
    a one-line error says to recompute (``make multiverse``).

    Returns
    -------
    dict
        The new key.
    """
    from mindpain.core.config import PRECOMPUTED_DIR
    from mindpain.core.io import read_json
    from mindpain.core.store import read_table, renew_key, sidecar

    path = (PRECOMPUTED_DIR if folder is None else Path(folder)) / TABLE_NAME
    old = read_json(sidecar(path))["key"]
    table = read_table(path)
    grid = next((g for g in GRIDS if [v.label for v in first_level_variants(g, old["world"])]
                 == old["first_level"]), None)
    if grid is None:
        raise MindpainError("the committed replications' first-level variants are no grid of "
                            "the current code; run `make multiverse`", path)
    params = load_parameters(old["preset"], old["world"])
    plan = scoring_plan(params, data_dir)
    for r in range(n_check):
        fresh = replicate_multiverse(params, old["seed"], r, plan, grid, old["contrast"])
        if not _same(table[table["replication"] == r], fresh):
            raise MindpainError(f"replication {r} differs with the current code; run `make "
                                "multiverse`", path)
    key = content_key(old["preset"], old["seed"], old["world"], old["replications"], grid,
                      old["contrast"])
    return renew_key(path, key)


def load_or_run_replications(cfg, folder=None, small_replications: int = 2) -> tuple:
    """Return the book's replications: committed for the full twin, computed for the small one.

    Returns
    -------
    tuple
        ``(table, preset, read_from_disk)``.
    """
    from mindpain.core.config import PRECOMPUTED_DIR

    if cfg.preset == "small":
        table, _ = run_replications(cfg.seed, small_replications, preset="small",
                                    world=cfg.world, grid="small", n_jobs=cfg.n_jobs,
                                    data_dir=cfg.data_dir)
        return table, "small", False
    folder = PRECOMPUTED_DIR if folder is None else Path(folder)
    key = content_key(REPLICATION_PRESET, cfg.seed, cfg.world, DEFAULT_REPLICATIONS)
    return load_replications(folder, key), REPLICATION_PRESET, True


def recoverable_truth(params, contrast: str = "MBSR_vs_HEP") -> dict:
    r"""Recoverable effect of ``contrast`` per outcome, on the multiverse's change-score scale.

    :func:`mindpain.truth.recoverable_trial_effects` gives it on the paper's scale
    (:math:`2t/\sqrt{df}`, :func:`mindpain.reported.d_paper`); the multiverse's d is the
    change-score :math:`d_s = t\sqrt{1/n_1 + 1/n_2}` (:func:`mindpain.reported.d_s`) of the
    paper's completers, so the paper-scale value is multiplied by their ratio.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset and world) whose recoverable effects are the truth.
    contrast : str
        ``"A_vs_B"``.

    Returns
    -------
    dict
        Outcome -> recoverable d.
    """
    from mindpain.reported import DF_BETWEEN, N_COMPLETERS, d_paper, d_s
    from mindpain.truth import recoverable_trial_effects

    a, b = contrast.split("_vs_")
    ratio = float(d_s(1.0, N_COMPLETERS[a], N_COMPLETERS[b]) / d_paper(1.0, DF_BETWEEN))
    table = recoverable_trial_effects(params)
    table = table[table["contrast"] == contrast].set_index("outcome")
    return {o: float(table.loc[o, "recoverable_d_paper"]) * ratio for o in OUTCOMES
            if o in table.index}


def spec_coverage(table: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """Per specification: coverage of the recoverable truth and the sampling spread.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`run_replications` rows.
    truth : dict
        outcome -> recoverable d (:func:`recoverable_truth`).

    Returns
    -------
    pandas.DataFrame
        :data:`SPEC_KEYS`, ``replications, truth_d, coverage`` (share of replications whose
        95 % CI contains ``truth_d``), ``mean_d, sampling_sd`` (SD across replications),
        ``share_significant`` (p < .05 and d < 0).
    """
    t = table.assign(truth_d=table["outcome"].map(truth))
    t = t.assign(covered=(t.ci_low <= t.truth_d) & (t.truth_d <= t.ci_high),
                 significant=(t.p < 0.05) & (t.estimate_d < 0))
    g = t.groupby(list(SPEC_KEYS), sort=False)
    return g.agg(replications=("replication", "nunique"), truth_d=("truth_d", "first"),
                 coverage=("covered", "mean"), mean_d=("estimate_d", "mean"),
                 sampling_sd=("estimate_d", "std"),
                 share_significant=("significant", "mean")).reset_index()


def spread_summary(table: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """Per outcome: specification spread against sampling spread, and coverage over specs.

    Returns
    -------
    pandas.DataFrame
        One row per outcome: ``replications, n_specs, truth_d``; ``spec_sd_median`` (median
        over replications of the SD across specifications), ``sampling_sd_median`` (median
        over specifications of the SD across replications) and their ratio
        ``sampling_to_spec``; ``coverage_min, coverage_median, coverage_max`` over
        specifications; ``share_specs_coverage_ge_90`` (specifications covering in at least
        90 % of replications).
    """
    cov = spec_coverage(table, truth)
    spec_sd = table.groupby(["outcome", "replication"]).estimate_d.std()
    rows = []
    for outcome, c in cov.groupby("outcome", sort=False):
        s = spec_sd.loc[outcome]
        rows.append({"outcome": outcome, "replications": int(c.replications.max()),
                     "n_specs": len(c), "truth_d": float(c.truth_d.iloc[0]),
                     "spec_sd_median": float(s.median()),
                     "sampling_sd_median": float(c.sampling_sd.median()),
                     "sampling_to_spec": float(c.sampling_sd.median() / s.median()),
                     "coverage_min": float(c.coverage.min()),
                     "coverage_median": float(c.coverage.median()),
                     "coverage_max": float(c.coverage.max()),
                     "share_specs_coverage_ge_90":
                         float((c.coverage >= COVERAGE_THRESHOLD - 1e-12).mean())})
    return pd.DataFrame(rows)


def spec_spreads(table: pd.DataFrame) -> pd.DataFrame:
    """SD of the estimate across specifications, per outcome and replication."""
    return (table.groupby(["outcome", "replication"]).estimate_d.std()
            .rename("spec_sd").reset_index())
