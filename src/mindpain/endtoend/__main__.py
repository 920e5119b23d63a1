"""``python -m mindpain.endtoend``: compute and write the end-to-end calibration.

``make calibrate`` runs it (``make calibrate-rekey`` with ``--rekey``). The options shared
with the other stage commands, and the one-line error policy, are
:func:`mindpain.cli.stage_parser` and :func:`mindpain.cli.run_stage`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mindpain.cli import run_stage, stage_parser
from mindpain.config import PRECOMPUTED_DIR
from mindpain.endtoend.results import rekey, write_result
from mindpain.endtoend.runner import content_key, run_endtoend
from mindpain.endtoend.settings import DEFAULT_REPLICATIONS, ENDTOEND_PRESET, TABLE_NAME


def main(argv=None) -> int:
    """Compute and write the end-to-end calibration; return the exit status."""
    parser = stage_parser("endtoend", __doc__.splitlines()[0], ENDTOEND_PRESET,
                          PRECOMPUTED_DIR)
    parser.add_argument("--replications", type=int, default=DEFAULT_REPLICATIONS,
                        help="replications per world (the MAR scenario: a quarter)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no new batch after this many minutes")
    parser.add_argument("--cache", default=None,
                        help="folder of the per-replication files (resume; default "
                             "<work dir>/endtoend-cache)")
    parser.add_argument("--rekey", action="store_true",
                        help="check the committed result against the current code on its "
                             "check replications and, if they match, give it the new key")
    args = parser.parse_args(argv)

    def work(cfg) -> str:
        if args.rekey:
            key = rekey(args.out, cfg.data_dir)
            return f"{Path(args.out) / TABLE_NAME}: re-keyed (code {key['code'][:12]})"
        budget = None if args.budget_minutes is None else 60 * args.budget_minutes
        # the key of the code that runs (taken before, so a later edit makes the result stale)
        key = content_key(cfg.preset, cfg.seed, args.replications)
        cache = Path(args.cache) if args.cache else Path(cfg.work_dir) / "endtoend-cache"
        table, _, timing = run_endtoend(cfg.seed, args.replications, preset=cfg.preset,
                                        n_jobs=cfg.n_jobs, progress=True, budget_s=budget,
                                        data_dir=cfg.data_dir, cache_root=cache,
                                        book_grid=True)
        path = write_result(table, args.out, key, timing)
        from mindpain.trial import tables_dir

        write_result(table, tables_dir(cfg), key, timing)
        return (f"wrote {path} (replications {timing['replications']}, "
                f"{timing['wall_s']:.0f} s)")

    return run_stage("endtoend", args, work)


if __name__ == "__main__":
    sys.exit(main())
