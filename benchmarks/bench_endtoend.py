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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", type=int, default=0,
                        help="also time this many replications per world here")
    args = parser.parse_args()
    from mindpain import endtoend
    from mindpain.config import get_config

    lines = ["### End-to-end calibration (`make calibrate`, `benchmarks/bench_endtoend.py`)", ""]
    meta_path = endtoend.PRECOMPUTED_DIR / "trial_coverage_endtoend.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        timing, key = meta.get("timing", {}), meta.get("key", {})
        reps = timing.get("replications", 0)
        wall = timing.get("wall_s", float("nan"))
        worlds = len(key.get("worlds", endtoend.WORLDS))
        lines += [f"`make calibrate` (preset {key.get('preset')}, seed {key.get('seed')}, "
                  f"{timing.get('n_jobs')} workers, both worlds), from "
                  f"`book/precomputed/trial_coverage_endtoend.json`; measured on a shared "
                  f"2-core machine with other jobs running (load average about 6):", "",
                  BUDGET_HEADER,
                  budget_row("replications finished per world", reps,
                             endtoend.DEFAULT_REPLICATIONS, ".0f", above=True),
                  budget_row("total wall time, both worlds (min)", wall / 60, 30, ".1f"),
                  budget_row("one replication of one world, worker wall (s)",
                             timing.get("task_wall_s_mean", float("nan")), None, ".0f"),
                  budget_row("one replication of one world, worker CPU (s)",
                             timing.get("task_cpu_s_mean", float("nan")), None, ".0f"),
                  budget_row("wall per replication, both worlds (s)",
                             wall / max(reps, 1), None, ".0f"),
                  budget_row(f"projected CPU for {endtoend.DEFAULT_REPLICATIONS} replications"
                             f" x {worlds} worlds (h)",
                             timing.get("task_cpu_s_mean", float("nan"))
                             * endtoend.DEFAULT_REPLICATIONS * worlds / 3600, None, ".1f")]
    if args.measure:
        cfg = get_config(preset=endtoend.ENDTOEND_PRESET)
        weights = endtoend.surrogate_weights(cfg.preset, cfg.data_dir)
        rows = []
        for world in endtoend.WORLDS:
            start, cpu = time.perf_counter(), time.process_time()
            for r in range(args.measure):
                endtoend.replicate(cfg.preset, cfg.seed, world, r, weights)
            rows.append(budget_row(f"one replication, {world} world, here (s wall / CPU "
                                   f"{(time.process_time() - cpu) / args.measure:.0f})",
                                   (time.perf_counter() - start) / args.measure, None, ".0f"))
        lines += ["", machine_line(), "", BUDGET_HEADER, *rows]
    else:
        lines += ["", machine_line()]
    replace_section(HERE / "results.md", "endtoend", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
