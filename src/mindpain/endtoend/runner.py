"""Running the end-to-end calibration: content key, per-replication cache, joblib workers.

:func:`run_endtoend` replicates the trial in every scenario
(:func:`mindpain.endtoend.replication.replicate`) in joblib workers and measures coverage
(:func:`mindpain.endtoend.coverage.coverage_table`). Each finished replication is its own
file of its :class:`~mindpain.core.store.ReplicationCache` (:func:`replication_cache`), so an
interrupted run resumes; files written by other code are reused only if the current code
reproduces them. Results
are keyed by :func:`content_key`: preset, seed, scenarios, replications and a fingerprint
of the code of every module involved and of the twin's parameter file.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.store import ReplicationCache
from mindpain.endtoend.coverage import coverage_table
from mindpain.endtoend.replication import mask_effects, replicate, scores_digest, surrogate_weights
from mindpain.endtoend.settings import (
    BOOK_GRID_PRESET,
    CONTRASTS,
    DEFAULT_REPLICATIONS,
    ENDTOEND_PRESET,
    MODELS,
    OUTCOMES,
    SCENARIOS,
    scenario_replications,
)


def code_files() -> list[Path]:
    """Source files the end-to-end result depends on (hashed into the content key).

    Every module of :mod:`mindpain.endtoend` and every package module they import,
    transitively, with the twin's parameter file (:func:`mindpain.core.checksums.code_closure`).
    """
    from mindpain.core.checksums import code_closure

    return code_closure(__package__)


def content_key(preset: str, seed: int, n_replications: int, scenarios=None) -> dict:
    """Key of an end-to-end result: preset, seed, scenarios, replications, code fingerprint.

    The fingerprint (:func:`mindpain.core.checksums.code_fingerprint`) covers the code of every
    module
    involved (twin, GLM, first level, scoring, signatures, trial models; docstrings and
    comments do not count) and the twin's parameter file.
    """
    from mindpain.core.checksums import code_fingerprint

    scenarios = SCENARIOS if scenarios is None else scenarios
    return {"preset": preset, "seed": int(seed),
            "scenarios": {k: list(v) for k, v in scenarios.items()},
            "n_replications": int(n_replications), "outcomes": list(OUTCOMES),
            "contrasts": list(CONTRASTS), "models": list(MODELS),
            "code": code_fingerprint(code_files())}


def cache_folder(root, key: dict) -> Path:
    """Folder of the per-replication files of ``key`` under ``root``.

    Named by what the replications are (preset, seed, scenarios, outcomes, contrasts,
    models), not by the code: the code that wrote the files is checked before a run reuses
    them (:meth:`mindpain.core.store.ReplicationCache.check_code`).
    """
    from mindpain.core.store import key_tag

    tag = key_tag(key, leave_out=("n_replications", "code"))
    return Path(root) / f"endtoend-{key['preset']}-seed-{key['seed']}-{tag}"


def replication_cache(root, key: dict) -> ReplicationCache:
    """Return the replications' cache of ``key`` under ``root`` (a group per scenario)."""
    return ReplicationCache(cache_folder(root, key), key["code"])


def _run_one(params, seed, scenario, spec, replication, weights, cache) -> tuple:
    """Compute one replication of one scenario and keep it in ``cache`` (worker task).

    ``params``: the twin's parameters of the scenario's world.
    """
    start, cpu = time.perf_counter(), time.process_time()
    frame = replicate(params, seed, replication, weights, spec[1])
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    cache.write(frame, replication, wall, cpu, group=scenario)
    return wall, cpu


def _same_scores(stored: pd.DataFrame, fresh: pd.DataFrame) -> bool:
    """Whether two replications' scores agree to 12 significant digits."""
    return scores_digest(stored) == scores_digest(fresh)


def check_cache(cache: ReplicationCache, params: dict, seed: int, scenarios: dict,
                weights) -> bool:
    """Keep ``cache``'s files only if the current code reproduces replication 0 of each scenario.

    :meth:`mindpain.core.store.ReplicationCache.check_code` with the scores compared to 12
    significant digits (:func:`~mindpain.endtoend.replication.scores_digest`).

    Parameters
    ----------
    cache : mindpain.core.store.ReplicationCache
        The replications' cache (:func:`replication_cache`).
    params : dict
        ``{world: Parameters}``: the twin's parameters of every world of ``scenarios``
        (:func:`world_parameters`).
    seed : int
        Master seed.
    scenarios : dict
        :data:`~mindpain.endtoend.settings.SCENARIOS`-like.
    weights : numpy.ndarray
        :func:`~mindpain.endtoend.replication.surrogate_weights`.

    Returns
    -------
    bool
        Whether the files were kept.
    """
    return cache.check_code(lambda name: replicate(params[scenarios[name][0]], seed, 0,
                                                   weights, scenarios[name][1]),
                            _same_scores, groups=list(scenarios))


def world_parameters(preset: str, scenarios: dict) -> dict:
    """Load the twin's parameters of ``preset`` once for every world of ``scenarios``.

    Parameters
    ----------
    preset : str
        The twin's preset.
    scenarios : dict
        :data:`~mindpain.endtoend.settings.SCENARIOS`-like (the world is each spec's first
        value).

    Returns
    -------
    dict
        ``{world: Parameters}`` (:func:`mindpain.twin.params.load_parameters`), in the
        scenarios' order.
    """
    from mindpain.twin.params import load_parameters

    return {w: load_parameters(preset, w) for w in dict.fromkeys(s[0] for s in scenarios.values())}


def run_endtoend(seed: int, n_replications: int = DEFAULT_REPLICATIONS,
                 preset: str = ENDTOEND_PRESET, scenarios=None, n_jobs: int = 1,
                 progress: bool = False, budget_s: float | None = None,
                 data_dir=None, cache_root=None, book_grid: bool = False) -> tuple:
    """Replicate the trial through the pipeline in every scenario and measure coverage.

    Replication ``r`` of every scenario uses the seed
    :func:`~mindpain.endtoend.settings.replication_seed` (the scenarios are paired). Each finished
    replication is written to its own file under :func:`cache_folder` (``cache_root``; default: a
    temporary folder removed at the end), so an interrupted run resumes where it stopped:
    replications already on disk are read, not recomputed (after a code change, only if the new code
    reproduces them, :meth:`~mindpain.core.store.ReplicationCache.check_code`). Tasks run in
    joblib workers (``n_jobs``), in the
    order in which the scenarios' shares make them due; with ``budget_s``, no new batch starts once
    that many seconds have passed, and the replications finished are kept (the table reports how
    many). The planted effects as read through the analysis's mask
    (:func:`~mindpain.endtoend.replication.mask_effects`) are measured in each world; with
    ``book_grid``, also on the book's grid (:data:`~mindpain.endtoend.settings.BOOK_GRID_PRESET`),
    for comparison.

    Returns
    -------
    tuple
        ``(table, scores, timing)``: the coverage table
        (:func:`~mindpain.endtoend.coverage.coverage_table`), the per-session scores of every
        scenario (with a ``scenario`` column) and a timing dict (``replications`` per scenario,
        ``wall_s`` of this call, ``tasks_computed`` by it, mean ``task_wall_s`` and ``task_cpu_s``
        of one replication of one scenario over the ``tasks_timed`` cached replications that
        recorded them, ``n_jobs``).
    """
    import tempfile

    from joblib import Parallel, delayed
    from tqdm import tqdm

    from mindpain.twin.params import load_parameters

    scenarios = SCENARIOS if scenarios is None else scenarios
    params = world_parameters(preset, scenarios)
    weights = surrogate_weights(next(iter(params.values())), data_dir)
    wanted = scenario_replications(n_replications, scenarios)
    tmp = None
    if cache_root is None:
        tmp = tempfile.TemporaryDirectory(prefix="mindpain-endtoend-")
        cache_root = tmp.name
    key = content_key(preset, seed, n_replications, scenarios)
    cache = replication_cache(cache_root, key)
    check_cache(cache, params, seed, scenarios, weights)
    # replication r of a scenario with share s is due at r / s: a budgeted run keeps the
    # scenarios' replications in proportion to their shares
    tasks = sorted(((name, r) for name in scenarios for r in range(wanted[name])),
                   key=lambda t: (t[1] / scenarios[t[0]][2], list(scenarios).index(t[0])))
    todo = [t for t in tasks if not cache.has(t[1], t[0])]
    walls, cpus = [], []
    start = time.perf_counter()
    batch = max(2 * int(n_jobs), 2)
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), unit="replication",
               desc="end-to-end replications", disable=not progress)
    with Parallel(n_jobs=n_jobs) as parallel:
        for i in range(0, len(todo), batch):
            if budget_s is not None and time.perf_counter() - start > budget_s:
                break
            chunk = todo[i:i + batch]
            out = parallel(delayed(_run_one)(params[scenarios[name][0]], seed, name,
                                             scenarios[name], r, weights, cache)
                           for name, r in chunk)
            for wall, cpu in out:
                walls.append(wall)
                cpus.append(cpu)
            bar.update(len(chunk))
    bar.close()
    scores, done = {}, {}
    for name in scenarios:
        reps = [r for r in range(wanted[name]) if cache.has(r, name)]
        if len(reps) < 3:
            raise MindpainError(f"only {len(reps)} replication(s) of scenario {name} finished;"
                                " at least 3 are needed", cache.folder)
        scores[name] = cache.read(reps, name)
        done[name] = len(reps)
    in_mask = pd.concat([mask_effects(p, seed) for p in params.values()], ignore_index=True)
    # the same measurement on the book's grid, for comparison (two sessions suffice: the
    # mask is the same in every session of the ideal world)
    book = (mask_effects(load_parameters(BOOK_GRID_PRESET, "ideal"), seed, n_sessions=2)
            if book_grid else None)
    table = coverage_table(scores, params, scenarios, in_mask)
    digests = {name: [scores_digest(s[s["replication"] == r].reset_index(drop=True))
                      for r in range(min(2, done[name]))] for name, s in scores.items()}
    tasks_computed = len(walls)
    walls, cpus = [], []
    for name in scenarios:
        w, c = cache.timing(range(wanted[name]), name)
        walls, cpus = walls + w, cpus + c
    timing = {"replications": done, "requested_replications": wanted,
              "wall_s": round(time.perf_counter() - start, 1), "n_jobs": int(n_jobs),
              "tasks_computed": tasks_computed, "tasks_timed": len(walls),
              "task_wall_s_mean": round(float(np.mean(walls)), 2) if walls else None,
              "task_cpu_s_mean": round(float(np.mean(cpus)), 2) if walls else None,
              "check_digests": digests,
              "analysis_mask": _mask_summary(in_mask, book)}
    all_scores = pd.concat([s.assign(scenario=n) for n, s in scores.items()],
                           ignore_index=True)
    if tmp is not None:
        tmp.cleanup()
    return table, all_scores, timing


def _mask_summary(in_mask: pd.DataFrame, book_grid: pd.DataFrame | None) -> dict:
    """Summarise the analysis mask: voxels kept per world and on the book's grid.

    Counts are ``[kept, twin's mask]``; for the book's grid (if measured) also the largest
    change the mask makes to a planted effect there.
    """
    def kept(g):
        return [int(g["analysis_mask_voxels"].iloc[0]), int(g["twin_mask_voxels"].iloc[0])]

    out = {"worlds": {w: kept(g) for w, g in in_mask.groupby("world", sort=False)}}
    if book_grid is not None:
        shift = (book_grid["planted_d_paper_in_mask"] - book_grid["planted_d_paper"]).abs()
        out["book_grid"] = {"preset": BOOK_GRID_PRESET, "voxels": kept(book_grid),
                            "max_abs_change_d_paper": float(shift.max())}
    return out
