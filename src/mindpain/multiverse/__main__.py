"""``python -m mindpain.multiverse``: compute and write the committed multiverse.

``make multiverse`` runs it: the one-dataset specification curve through the file-based
pipeline on the preset's twin (``--part curve``), and the multiverse replicated in memory on
independently drawn twins of the calibration grid (``--part replications``); both by
default. ``make multiverse-rekey`` (``--rekey``) renews the committed replications' key after
a change to code that cannot alter them. The world is the configuration's
(``MINDPAIN_WORLD``; default realistic). The options shared with the other stage
commands, and the one-line error policy, are :func:`mindpain.cli.stage_parser` and
:func:`mindpain.cli.run_stage`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mindpain.cli import run_stage, stage_parser
from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.core.vocabulary import PRESETS
from mindpain.multiverse.curve import N_PERMUTATIONS
from mindpain.multiverse.grid import GRIDS
from mindpain.multiverse.replications import (
    DEFAULT_REPLICATIONS,
    REPLICATION_PRESET,
    rekey,
    run_replications,
    write_replications,
)
from mindpain.multiverse.replications import content_key as replications_key
from mindpain.multiverse.results import PRECOMPUTED_PRESET, content_key, write_result
from mindpain.multiverse.runner import run_multiverse


def main(argv=None) -> int:
    """Compute and write the committed multiverse; return the exit status."""
    parser = stage_parser("multiverse", __doc__.splitlines()[0], PRECOMPUTED_PRESET,
                          PRECOMPUTED_DIR)
    parser.add_argument("--n-permutations", type=int, default=N_PERMUTATIONS,
                        help="permutations of the arm labels in the null")
    parser.add_argument("--grid", default="book", choices=sorted(GRIDS),
                        help="first-level axes that vary")
    parser.add_argument("--part", default="both", choices=("both", "curve", "replications"),
                        help="what to compute")
    parser.add_argument("--replications", type=int, default=DEFAULT_REPLICATIONS,
                        help="independently drawn twins the multiverse is replicated on")
    parser.add_argument("--replication-preset", default=REPLICATION_PRESET,
                        choices=sorted(PRESETS), help="twin preset of the replications")
    parser.add_argument("--cache", default=None,
                        help="folder of the per-replication files (resume; default "
                             "<work dir>/multiverse-cache)")
    parser.add_argument("--rekey", action="store_true",
                        help="renew the committed replications' key if the current code "
                             "reproduces their first two replications (no recomputation)")
    args = parser.parse_args(argv)

    def work(cfg) -> str:
        from mindpain.core.errors import MindpainError

        if args.rekey:
            key = rekey(args.out, data_dir=cfg.data_dir)
            return f"renewed the key of the committed replications (code {key['code'][:12]})"
        if args.part != "curve" and args.replications < 2:
            raise MindpainError(f"--replications {args.replications}: at least 2 are needed "
                                "for a sampling spread")
        lines = []
        if args.part in ("both", "curve"):
            key = content_key(cfg.preset, cfg.seed, args.n_permutations, grid=args.grid,
                              world=cfg.world)
            result = run_multiverse(cfg, n_permutations=args.n_permutations, progress=True,
                                    grid=args.grid)
            path = write_result(result, args.out, key)
            lines.append(f"wrote {path} ({len(result.specs)} specifications)")
        if args.part in ("both", "replications"):
            key = replications_key(args.replication_preset, cfg.seed, cfg.world,
                                   args.replications, args.grid)
            cache = Path(args.cache) if args.cache else Path(cfg.work_dir) / "multiverse-cache"
            table, timing = run_replications(cfg.seed, args.replications,
                                             preset=args.replication_preset, world=cfg.world,
                                             grid=args.grid, n_jobs=cfg.n_jobs, progress=True,
                                             cache_root=cache, data_dir=cfg.data_dir)
            path = write_replications(table, args.out, key, timing)
            lines.append(f"wrote {path} ({args.replications} replications, "
                         f"{timing['wall_s']:.0f} s)")
        return "; ".join(lines)

    return run_stage("multiverse", args, work)


if __name__ == "__main__":
    sys.exit(main())
