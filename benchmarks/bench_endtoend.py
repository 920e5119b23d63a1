"""Cost of the end-to-end calibration (`make calibrate`, :mod:`mindpain.endtoend`).

Reads the timing that ``make calibrate`` recorded in
``book/precomputed/trial_coverage_endtoend.json`` (replications finished per world, wall
time, mean wall and CPU time of one replication of one world in a worker) and, with
``--measure N``, also times ``N`` replications of each world here (one worker). Writes the
``endtoend`` section of ``benchmarks/results.md``.

Budget (issue #10): at least 200 replications per world; the brief for the run asked for
both worlds within about 30 min wall on 2 shared cores.

Usage::

    python bench_endtoend.py [--measure 1]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _machine import BUDGET_HEADER, budget_row, machine_line, replace_section

HERE = Path(__file__).resolve().parent
#: Where a replication's time went, before and after the fast path (measured by hand with
#: cProfile, ``/tmp/prof*.py`` in the session that made it; CPU s of one replication of one
#: world on the shared machine, load average 2 to 4).
PROFILE = "\n".join([
    "Where one replication's CPU time went (before: under cProfile, which inflates it by "
    "about a fifth; after: without profiler), replication 0, seed 20220701, one process:",
    "",
    "| setting | ideal world CPU s | realistic world CPU s | where the time went |",
    "|---|---|---|---|",
    "| before: reduced preset (10 mm), nilearn per-bin AR models, nilearn design per run "
    "| 55 (65 wall, profiled) | 82 (94 wall, profiled) | twin BOLD 36 / 39 s (ideal: smooth "
    "noise fields and nilearn's design for the generator; realistic: 44 FFT convolutions "
    "per run, 15 s), first-level fit 29 / 47 s (one nilearn ARModel and pseudo-inverse per "
    "AR bin, 18 s realistic; nilearn design 9 s; confound formatting 6 s; implicit mask "
    "4 s), truth constants 7 s |",
    "| after: calibration preset (15 mm), stacked QR AR(1) fit, design from nilearn's "
    "steps, kernel spectra shared (BOLD byte-identical) | 15 | 23 | realistic: twin BOLD "
    "about 60% (HRF regressors, confounds table, noise fields, pandas), fit about 40% (QR, "
    "design, implicit mask, confound formatting) |",
    "",
    "The committed run: `make calibrate REPLICATIONS=200` (2026-11-27, 18:05-19:20 UTC, two"
    " workers on the 2 cores, shared with a profiling run, a reduced twin and the first"
    " levels of `make multiverse` and three helpers' tests, those at the lowest priority)."
    " It reused the 62 replications of the earlier runs after reproducing replication 0 of"
    " every scenario with the merged code, and computed the other 388 in 4457 s wall (74"
    " min; its log). 394 replications recorded their time (`tasks_timed`): 18.1 CPU s and"
    " 23.2 s wall each on average. The table was then rebuilt from the cache after later"
    " code changes (the call that wrote it computed nothing, see above).",
    "",
    "The target of 8 CPU s per replication and world is not reached: what remains is "
    "spread over many small steps of the twin's generator (pandas tables, smooth fields, "
    "per-run HRF regressors), which the end-to-end run calls as the book's twin does."])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=int, default=0,
                        help="also time this many replications per world here")
    args = parser.parse_args()
    from mindpain import endtoend
    from mindpain.core.config import PRECOMPUTED_DIR, get_config
    from mindpain.core.vocabulary import WORLDS

    lines = ["### End-to-end calibration (`make calibrate`, `benchmarks/bench_endtoend.py`)", ""]
    meta_path = PRECOMPUTED_DIR / "trial_coverage_endtoend.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        timing, key = meta.get("timing", {}), meta.get("key", {})
        reps = timing.get("replications", {})
        main = min(reps.get(w, 0) for w in WORLDS)
        tasks = sum(reps.values())
        wall = timing.get("wall_s", float("nan"))
        cpu = timing.get("task_cpu_s_mean") or float("nan")
        lines += [f"`make calibrate` (preset {key.get('preset')}, seed {key.get('seed')}, "
                  f"{timing.get('n_jobs')} workers, scenarios "
                  f"{', '.join(reps)}), from `book/precomputed/trial_coverage_endtoend.json`;"
                  " measured on the shared 2-core machine while other jobs ran (see below), so"
                  " wall time includes waiting for a core:", "",
                  BUDGET_HEADER,
                  budget_row("replications finished per world", main,
                             endtoend.DEFAULT_REPLICATIONS, ".0f", above=True),
                  budget_row("replications finished, all scenarios", tasks, None, ".0f"),
                  budget_row("wall time of the call that wrote the table (min; it computed "
                             f"{timing.get('tasks_computed', 0)} replications, read the rest "
                             "from the cache)", wall / 60, None, ".1f"),
                  budget_row("one replication of one scenario, worker wall (s)",
                             timing.get("task_wall_s_mean") or float("nan"), None, ".1f"),
                  budget_row("one replication of one scenario, worker CPU (s)", cpu, 8, ".1f"),
                  budget_row(f"projected CPU for {endtoend.DEFAULT_REPLICATIONS} replications,"
                             " all scenarios (h)",
                             cpu * sum(endtoend.scenario_replications(
                                 endtoend.DEFAULT_REPLICATIONS).values()) / 3600, None, ".2f")]
    if args.measure:
        cfg = get_config(preset=endtoend.ENDTOEND_PRESET)
        from mindpain.twin.model import derive_constants
        from mindpain.twin.params import load_parameters

        params = {world: load_parameters(cfg.preset, world) for world in WORLDS}
        weights = endtoend.surrogate_weights(params[WORLDS[0]], cfg.data_dir)
        rows = []
        for world in WORLDS:
            derive_constants(params[world])  # once per process, not per replication
            start, cpu = time.perf_counter(), time.process_time()
            for r in range(args.measure):
                endtoend.replicate(params[world], cfg.seed, r, weights)
            rows.append(budget_row(f"one replication, {world} world, here: CPU s (wall "
                                   f"{(time.perf_counter() - start) / args.measure:.0f} s)",
                                   (time.process_time() - cpu) / args.measure, 8, ".1f"))
        lines += ["", machine_line(), "", BUDGET_HEADER, *rows]
    else:
        lines += ["", machine_line()]
    lines += ["", PROFILE]
    replace_section(HERE / "results.md", "endtoend", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
