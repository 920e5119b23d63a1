"""Command-line interface: ``mindpain twin``, ``mindpain first-level``, ``mindpain score``.

Parsers live here (cheap to import); each command imports its stage lazily. Input
problems raise :class:`mindpain.errors.MindpainError`, printed as one line on stderr with
exit status 2; no partial output is left behind.
"""

from __future__ import annotations

import argparse
import sys


def _twin(args) -> int:
    from mindpain.twin.generate import generate_twin

    generate_twin(args.out, preset=args.preset, seed=args.seed, overwrite=args.overwrite,
                  if_current=args.if_current, n_jobs=args.n_jobs, progress=not args.quiet)
    return 0


def _first_level(args) -> int:
    from mindpain.first_level import first_level_cli

    return first_level_cli(args)


def _score(args) -> int:
    from mindpain.scoring import score_cli

    return score_cli(args)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``mindpain`` command."""
    parser = argparse.ArgumentParser(prog="mindpain", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("twin", help="generate the simulated twin of the trial as a BIDS dataset")
    p.add_argument("--out", required=True, help="output folder (must be new or empty)")
    p.add_argument("--preset", default="full",
                   help="small (tests), full (the book) or reduced (full design, coarse grid)")
    p.add_argument("--seed", default=None, help="master seed (non-negative integer)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out")
    p.add_argument("--if-current", action="store_true",
                   help="do nothing when --out already holds this preset and seed")
    p.add_argument("--n-jobs", type=int, default=None, help="parallel workers")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_twin)

    p = sub.add_parser("first-level", help="hot>warm contrast maps from a BIDS dataset")
    p.add_argument("bids_dir")
    p.add_argument("--out", required=True, help="derivatives folder")
    p.add_argument("--fmriprep", default=None, help="fMRIPrep derivatives (BOLD + confounds)")
    p.add_argument("--n-jobs", type=int, default=None)
    p.add_argument("--participant-label", nargs="*", default=None)
    p.add_argument("--smoothing-fwhm", type=float, default=None)
    p.add_argument("--dask-scheduler", default=None, help="address of a Dask scheduler")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_first_level)

    p = sub.add_parser("score", help="signature responses of contrast maps")
    p.add_argument("maps", nargs="+")
    p.add_argument("--signature", action="append", required=True,
                   help="registered name (nps, siips1, nps-surrogate, ...) or a NIfTI path")
    p.add_argument("--metric", default="dot", choices=("dot", "cosine", "correlation"))
    p.add_argument("--subregions", action="store_true")
    p.add_argument("--out", required=True, help="output table (.tsv)")
    p.set_defaults(func=_score)
    return parser


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    from mindpain.errors import MindpainError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MindpainError as err:
        print(f"mindpain {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"mindpain {args.command}: interrupted; re-run to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
