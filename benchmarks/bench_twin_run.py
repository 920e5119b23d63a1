"""Benchmark: cost of one twin run (make + write), per world, single core.

Times :func:`mindpain.twin.generate._write_run` (BOLD, events and, in the realistic world,
confounds, written to a temporary folder) for a few runs of the full preset, after one
warm-up run, on one BLAS thread; reports wall and CPU seconds per run for each world and
writes them into the ``twin_run`` section of ``benchmarks/results.md``. Budget (issue #10):
the realistic world <= 0.6 s per run on one core.

Usage: ``python benchmarks/bench_twin_run.py [--preset full] [--runs 6]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from _machine import BUDGET_HEADER, budget_row, machine_line, replace_section  # noqa: E402

from mindpain.core.vocabulary import DEFAULT_SEED, WORLDS  # noqa: E402

HERE = Path(__file__).resolve().parent
BUDGET_S = 0.6


def time_world(preset: str, seed: int, world: str, n_runs: int) -> tuple[float, float]:
    """Return (wall, cpu) seconds per run of ``world``."""
    from mindpain.twin import generate as gen
    from mindpain.twin.params import load_parameters
    from mindpain.twin.participants import draw_participants, draw_truth

    params = load_parameters(preset, world)
    participants = draw_participants(params, seed)
    truth = draw_truth(participants, params, seed)
    hot = participants.set_index("participant_id")["hot_temperature"]
    recs = [r._asdict() for r in truth.itertuples(index=False)][:n_runs + 1]
    with tempfile.TemporaryDirectory() as tmp:
        gen._write_run(tmp, params, seed, recs[0], 1, hot[recs[0]["participant_id"]])
        wall, cpu = time.perf_counter(), time.process_time()
        for rec in recs[1:]:
            gen._write_run(tmp, params, seed, rec, 1, hot[rec["participant_id"]])
        return ((time.perf_counter() - wall) / n_runs, (time.process_time() - cpu) / n_runs)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--preset", default="full")
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    rows = [BUDGET_HEADER]
    for world in WORLDS:
        wall, cpu = time_world(args.preset, args.seed, world, args.runs)
        budget = BUDGET_S if world == "realistic" else None
        rows.append(budget_row(f"{world} world: CPU s per run", cpu, budget, ".3f"))
        rows.append(budget_row(f"{world} world: wall s per run", wall, None, ".3f"))
    text = (f"### One twin run, make + write (`--preset {args.preset}`, one core)\n\n"
            f"{machine_line()} Load average at the start: {load:.1f} (wall time grows with "
            "other work on the machine; CPU time much less).\n\nThe ideal world is the "
            "generator before issue #10 (same code path, byte-identical BOLD).\n\n"
            + "\n".join(rows) + "\n")
    replace_section(HERE / "results.md", "twin_run", text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
