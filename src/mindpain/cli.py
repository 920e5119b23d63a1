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
    p.add_argument("--preset", default="full", help="small (tests) or full (the book)")
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

    def score_jobs(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
        return value

    score_help = """\
Signature responses (dot, cosine or correlation; CANlab semantics) of 3-D contrast maps,
written as a long TSV table (one row per map x signature x region x metric, full double
precision) with a JSON sidecar beside it (same name, .json) describing the columns and
settings. Maps come from the command line, from --from-file and/or from
--bids-derivatives; rows are keyed by the maps' BIDS entities and absolute paths.
Batches are scored in blocks kept in a hidden folder beside --out: an interrupted run
resumes when run again. An existing --out is replaced only if mindpain wrote it.

example: mindpain score --bids-derivatives derivatives/mindpain --entities
contrast=hotVsWarm stat=effect --signature nps-surrogate --signature siips1-surrogate
--out scores.tsv"""
    p = sub.add_parser("score", help="signature responses of contrast maps",
                       description=score_help,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("maps", nargs="*", metavar="MAP",
                   help="3-D NIfTI contrast maps (.nii or .nii.gz)")
    p.add_argument("--from-file", metavar="LIST", default=None,
                   help="read map paths from LIST, one per line ('-' = standard input); for "
                        "batches too long for the command line")
    p.add_argument("--bids-derivatives", metavar="DIR", default=None,
                   help="score every *_<suffix>.nii[.gz] map below this BIDS derivatives "
                        "folder that matches --entities")
    p.add_argument("--entities", nargs="+", metavar="KEY=VALUE", default=None,
                   help="entities the maps of --bids-derivatives must have, e.g. "
                        "contrast=hotVsWarm stat=effect (VALUE may list alternatives: "
                        "stat=effect,z)")
    p.add_argument("--suffix", default="statmap",
                   help="BIDS suffix of the maps searched in --bids-derivatives "
                        "(default: %(default)s)")
    p.add_argument("--signature", action="append", required=True, metavar="NAME_OR_PATH",
                   help="signature to score; repeat the option for several (e.g. "
                        "--signature nps-surrogate --signature siips1-surrogate): a "
                        "registered name (nps, nps-pos, nps-neg, siips1, nps-surrogate, "
                        "nps-surrogate-pos, nps-surrogate-neg, siips1-surrogate) or a NIfTI "
                        "weight map")
    p.add_argument("--metric", action="append", choices=("dot", "cosine", "correlation"),
                   default=None,
                   help="response metric; repeat for several (default: dot)")
    p.add_argument("--subregions", action="store_true",
                   help="also score each region of the signatures (local scores)")
    p.add_argument("--resample", choices=("weights-to-data", "data-to-weights"),
                   default="weights-to-data",
                   help="when a map's grid differs from a signature's, resample the weights "
                        "to the map (CANlab) or the map to the weights (default: "
                        "%(default)s)")
    p.add_argument("--n-jobs", type=score_jobs, default=None, metavar="N",
                   help="threads reading maps (default: $MINDPAIN_N_JOBS, else 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="SCORES.tsv",
                   help="output table (.tsv); its JSON sidecar is written beside it")
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
