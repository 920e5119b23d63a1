"""``python -m mindpain.multiverse``: compute and write the committed multiverse.

``make multiverse`` runs it. The options shared with the other stage commands, and the
one-line error policy, are :func:`mindpain.cli.stage_parser` and
:func:`mindpain.cli.run_stage`.
"""

from __future__ import annotations

import sys

from mindpain.cli import run_stage, stage_parser
from mindpain.config import PRECOMPUTED_DIR
from mindpain.multiverse.curve import N_PERMUTATIONS
from mindpain.multiverse.grid import GRIDS
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
    args = parser.parse_args(argv)

    def work(cfg) -> str:
        key = content_key(cfg.preset, cfg.seed, args.n_permutations, grid=args.grid)
        result = run_multiverse(cfg, n_permutations=args.n_permutations, progress=True,
                                grid=args.grid)
        path = write_result(result, args.out, key)
        return f"wrote {path} ({len(result.specs)} specifications)"

    return run_stage("multiverse", args, work)


if __name__ == "__main__":
    sys.exit(main())
