"""Command-line interface: ``mindpain twin``, ``mindpain first-level``, ``mindpain score``.

Parsers live here (cheap to import); each command imports its stage lazily. The stage
commands ``python -m mindpain.endtoend`` and ``python -m mindpain.multiverse`` build their
parsers with :func:`stage_parser` and run through :func:`run_stage`. Options are
checked in the parser (types, ranges, choices). Every problem a user can meet — bad input,
a folder in the way, a full disk, an unreachable Dask scheduler — is printed as one line on
stderr with exit status 2; an interruption exits with 130. No traceback reaches the user
(``MINDPAIN_DEBUG=1`` shows one for an internal error, which exits with 1).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import sys

DESCRIPTION = ("Re-create Wielgosz et al. (2022), pain signatures in mindfulness training: "
               "generate the simulated twin (a BIDS dataset), fit first-level hot>warm maps, "
               "and score pain signatures.")
EPILOG = ("Every command exits 0 on success, 2 on bad input or a folder in the way (one line "
          "on stderr), 130 when interrupted; re-running resumes and reuses finished work.")
#: BIDS label (alphanumeric), optionally with its ``sub-`` prefix.
_LABEL = re.compile(r"(sub-)?[A-Za-z0-9]+")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Show ``(default: X)`` for options whose default is a value (not None/False)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or \
                action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """Argument parser whose errors are one line: ``mindpain CMD: error: ...`` (exit 2)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        """Print one line naming the command and the problem, then exit with status 2."""
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


# --------------------------------------------------------------------------- value types


def _seed(text: str) -> int:
    if not re.fullmatch(r"\s*\d+\s*", str(text)):
        raise argparse.ArgumentTypeError(f"seed must be a non-negative integer, got {text!r}")
    return int(text)


def _n_jobs(text: str) -> int:
    from mindpain.core.config import check_n_jobs
    from mindpain.core.errors import MindpainError

    try:
        return check_n_jobs(text, "--n-jobs")
    except MindpainError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _add_n_jobs(parser, what: str) -> None:
    """Add ``--n-jobs`` (checked in the parser; default: the configuration's) to ``parser``."""
    parser.add_argument("--n-jobs", type=_n_jobs, default=None, metavar="N",
                        help=f"{what} (-1 = every core; default: MINDPAIN_N_JOBS, else 1)")


def _fwhm(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"smoothing FWHM must be a finite number of mm >= 0 "
                                         f"(0 = none), got {text!r}")
    return value


# --------------------------------------------------------------------------- commands


def _twin(args) -> int:
    from mindpain.core.config import get_config
    from mindpain.twin.generate import generate_twin

    cfg = get_config()  # the environment's seed and n_jobs where the options are not given
    generate_twin(args.out, preset=args.preset,
                  seed=cfg.seed if args.seed is None else args.seed, world=args.world,
                  overwrite=args.overwrite, if_current=args.if_current,
                  n_jobs=cfg.n_jobs if args.n_jobs is None else args.n_jobs,
                  progress=not args.quiet)
    return 0


def _first_level(args) -> int:
    from mindpain.core.config import get_config
    from mindpain.first_level.runs import run_first_level

    cfg = get_config()
    n_jobs = args.n_jobs if args.n_jobs is not None else cfg.n_jobs
    summary = run_first_level(args.bids_dir, args.out, fmriprep=args.fmriprep,
                              confounds_dir=args.confounds_dir,
                              participant_label=args.participant_label,
                              smoothing_fwhm=args.smoothing_fwhm or None, n_jobs=n_jobs,
                              dask_scheduler=args.dask_scheduler or cfg.dask_scheduler,
                              space=args.space, dataset_map=args.dataset_map,
                              progress=not args.quiet)
    for path, reason in [*summary.excluded, *summary.warnings]:
        print(f"mindpain first-level: warning: {path}: {reason}", file=sys.stderr)
    stream = sys.stderr if summary.failed else sys.stdout
    if summary.failed or not args.quiet:
        print(summary.report(), file=stream)
    return 0 if summary.ok else 2


def _score(args) -> int:
    from mindpain.core.config import get_config
    from mindpain.scoring import score_cli

    return score_cli(args, get_config())


def _version() -> str:
    from mindpain import __version__

    return f"mindpain {__version__}"


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``mindpain`` command."""
    from mindpain.core.vocabulary import DEFAULT_SEED, DEFAULT_WORLD, METRICS, PRESETS, WORLDS

    parser = _Parser(prog="mindpain", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser(
        "twin", help="generate the simulated twin of the trial as a BIDS dataset",
        description="Generate the simulated twin of the trial as a BIDS dataset (deterministic: "
                    "one seed, byte-identical output). The full preset writes about 1.8 GB and "
                    "takes minutes; small (for tests) about 26 MB. The folder is built beside "
                    "--out and moved into place when complete; an interrupted run resumes.",
        epilog="An existing --out is replaced only when it holds a twin made by mindpain "
               "(its .mindpain.json marker) and no file mindpain did not write.")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: new, empty, or a twin made by mindpain")
    p.add_argument("--preset", default="full", choices=PRESETS,
                   help="twin size: full (the book, about 1.8 GB), small (tests, about 26 MB) "
                        "or reduced (the full design on the small twin's coarse grid)")
    p.add_argument("--seed", type=_seed, default=None, metavar="N",
                   help=f"master seed, a non-negative integer (default: MINDPAIN_SEED, else "
                        f"{DEFAULT_SEED})")
    p.add_argument("--world", default=DEFAULT_WORLD, choices=WORLDS,
                   help="realistic (default): BOLD with head motion and its signal, "
                        "physiological noise, noise that is not AR(1), HRFs that differ between "
                        "people and regions, session misregistration and trial temperatures, "
                        "with fMRIPrep-named confounds in derivatives/twin-confounds; ideal: "
                        "BOLD made by the analysis model itself (canonical HRF, AR(1) noise)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace a twin of another preset, seed or world at --out (never a folder "
                        "mindpain did not make, nor a twin holding your files)")
    p.add_argument("--if-current", action="store_true",
                   help="do nothing when --out holds this preset and seed with every file as "
                        "written (sizes and sha256 checked); regenerate it when stale or "
                        "damaged")
    _add_n_jobs(p, "parallel workers (joblib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or status line")
    p.set_defaults(func=_twin)

    p = sub.add_parser(
        "first-level", help="hot>warm contrast maps from a BIDS dataset",
        usage="%(prog)s BIDS_DIR --out DIR [--participant-label LABEL ...] [options]",
        description="Fit a first-level GLM to every task-heat run of a BIDS dataset and combine "
                    "each session's runs by fixed effects; write BIDS derivatives with a JSON "
                    "sidecar per map. Finished outputs whose inputs are unchanged are kept.",
        epilog="Examples: mindpain first-level BIDS --out DERIV; mindpain first-level "
               "--participant-label 01 02 BIDS --out DERIV (the dataset may follow the labels). "
               "--out must be outside the raw dataset or under its derivatives/ folder, and new, "
               "empty or made by mindpain first-level.")
    p.add_argument("bids_dir", nargs="?", metavar="BIDS_DIR",
                   help="raw BIDS dataset (events, sidecars; BOLD too unless --fmriprep)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="derivatives folder: new, empty, or made by mindpain first-level")
    p.add_argument("--fmriprep", default=None, metavar="DIR",
                   help="fMRIPrep derivatives to take preprocessed BOLD and confounds from "
                        "(default: the raw BOLD, no confounds)")
    p.add_argument("--confounds-dir", default=None, metavar="DIR",
                   help="derivatives holding only *_desc-confounds_timeseries.tsv tables for "
                        "the raw BOLD (e.g. the twin's derivatives/twin-confounds); fitted "
                        "with six motion parameters, their derivatives and the tables' "
                        "motion_outlier columns (ignored with --fmriprep)")
    _add_n_jobs(p, "parallel workers for runs (joblib)")
    p.add_argument("--participant-label", nargs="+", default=None, metavar="LABEL",
                   help="subjects to process, e.g. 01 02 or sub-01 (default: all)")
    p.add_argument("--smoothing-fwhm", type=_fwhm, default=0.0, metavar="MM",
                   help="Gaussian smoothing before the fit, in mm (0 = none)")
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS",
                   help="run on a Dask cluster, e.g. tcp://host:8786 (default: "
                        "MINDPAIN_DASK_SCHEDULER, else local joblib workers)")
    p.add_argument("--space", default=None, metavar="NAME",
                   help="the one output space to fit, e.g. MNI152NLin2009cAsym or "
                        "MNI152NLin2009cAsym:res-2 (default: the first MNI152 space present; "
                        "the signatures are defined in MNI152 space)")
    p.add_argument("--dataset-map", default=None, metavar="TOML",
                   help="how the dataset names its task, conditions and sessions "
                        "(mindpain.bids.datamap; default: mindpain-map.toml beside the "
                        "dataset, else the book's names: task heat, hot/warm, pre/post)")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary line")
    p.set_defaults(func=_first_level, parser=p)

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
    p.add_argument("--space", default=None, metavar="NAME",
                   help="the space whose maps --bids-derivatives scores, e.g. "
                        "MNI152NLin2009cAsym or MNI152NLin2009cAsym:res-2 (default: the first "
                        "MNI152 space present)")
    p.add_argument("--any-space", action="store_true",
                   help="also score maps whose space- entity is not an MNI152 space (the "
                        "signatures are defined in MNI152 space: only for maps you know are "
                        "aligned to them)")
    p.add_argument("--signature", action="append", required=True, metavar="NAME_OR_PATH",
                   help="signature to score; repeat the option for several (e.g. "
                        "--signature nps-surrogate --signature siips1-surrogate): a "
                        "registered name (nps, nps-pos, nps-neg, siips1, nps-surrogate, "
                        "nps-surrogate-pos, nps-surrogate-neg, siips1-surrogate) or a NIfTI "
                        "weight map")
    p.add_argument("--metric", action="append", choices=METRICS,
                   default=None,
                   help="response metric; repeat for several (default: dot)")
    p.add_argument("--subregions", action="store_true",
                   help="also score each region of the signatures (local scores)")
    p.add_argument("--resample", choices=("weights-to-data", "data-to-weights"),
                   default="weights-to-data",
                   help="when a map's grid differs from a signature's, resample the weights "
                        "to the map (CANlab) or the map to the weights (default: "
                        "%(default)s)")
    _add_n_jobs(p, "threads reading maps")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, metavar="SCORES.tsv",
                   help="output table (.tsv); its JSON sidecar is written beside it")
    p.set_defaults(func=_score)
    return parser


def _fix_first_level(args) -> None:
    """Let the dataset follow ``--participant-label`` (nargs="+" would swallow it)."""
    labels = list(args.participant_label or [])
    if args.bids_dir is None and labels and (not _LABEL.fullmatch(labels[-1])
                                             or os.path.isdir(labels[-1])):
        args.bids_dir = labels.pop()
    sub = args.parser
    if args.bids_dir is None:
        sub.error("the BIDS dataset folder is required (mindpain first-level BIDS_DIR --out "
                  "DIR)")
    bad = [lab for lab in labels if not _LABEL.fullmatch(lab)]
    if bad:
        sub.error(f"argument --participant-label: {bad[0]!r} is not a BIDS label (letters and "
                  "digits, optionally prefixed sub-)")
    if args.participant_label is not None:
        args.participant_label = labels


def _fail(line: str, code: int) -> int:
    """Print one line on stderr and return the exit status ``code``."""
    print(line, file=sys.stderr)
    return code


# --------------------------------------------------------------------------- stage commands


def stage_parser(stage: str, description: str, preset: str, out) -> argparse.ArgumentParser:
    """Return the parser of ``python -m mindpain.<stage>`` with the options every stage has.

    The options are ``--preset`` (default ``preset``), ``--seed`` and ``--n-jobs`` (default:
    the configuration's, :func:`mindpain.core.config.get_config`) and ``--out`` (default ``out``);
    the stage adds its own. Parser errors are one line (exit 2).

    Parameters
    ----------
    stage : str
        Module name under :mod:`mindpain` (``endtoend``, ``multiverse``).
    description : str
        What the command does (shown by ``--help``).
    preset : str
        Default twin preset.
    out : str or pathlib.Path
        Default output folder.

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> parser = stage_parser("multiverse", "Compute the multiverse.", "reduced", "out")
    >>> parser.parse_args(["--seed", "3"]).preset
    'reduced'
    """
    from mindpain.core.vocabulary import PRESETS

    parser = _Parser(prog=f"python -m mindpain.{stage}", description=description)
    parser.add_argument("--preset", default=preset, choices=PRESETS,
                        help="twin preset (default: %(default)s)")
    parser.add_argument("--seed", type=_seed, default=None, metavar="N",
                        help="master seed (default: MINDPAIN_SEED, else the book's)")
    _add_n_jobs(parser, "parallel workers (joblib)")
    parser.add_argument("--out", default=str(out), help="output folder")
    return parser


def run_stage(stage: str, args: argparse.Namespace, work) -> int:
    """Run a stage command whose options :func:`stage_parser` parsed; return the exit status.

    The configuration is resolved once, here, from ``args.preset``, ``args.seed`` and
    ``args.n_jobs`` (those left ``None`` come from the environment; the dataset is the
    preset's twin); ``work(cfg)`` does the stage's work with it and returns the line to print
    (exit 0). A problem (bad input, a stale or malformed file, an unwritable folder) is one
    line on stderr, ``mindpain <stage>: <problem>``, with exit 2.

    Parameters
    ----------
    stage : str
        Module name under :mod:`mindpain`, used in the error line.
    args : argparse.Namespace
        Parsed options.
    work : callable
        ``work(cfg) -> str``.

    Returns
    -------
    int
        0, or 2 after a one-line error.
    """
    from mindpain.core.config import get_config
    from mindpain.core.errors import MindpainError

    overrides = {"preset": args.preset, "bids_dir": None}
    if args.seed is not None:
        overrides["seed"] = args.seed
    if args.n_jobs is not None:
        overrides["n_jobs"] = args.n_jobs
    try:
        line = work(get_config(**overrides))
    except (MindpainError, OSError, KeyError, ValueError) as err:
        return _fail(f"mindpain {stage}: {err}", 2)
    print(line)
    return 0


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt


def main(argv=None) -> int:
    """Run the command line; return the exit status."""
    from mindpain.core.errors import MindpainError
    from mindpain.core.folders import os_error_message

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "first-level":
            _fix_first_level(args)
    except SystemExit as done:  # --help, --version, or a one-line parser error
        return int(done.code or 0)
    name = f"mindpain {args.command}"
    try:  # a termination request cleans up like Ctrl-C (only possible in the main thread)
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:
        previous = None
    try:
        return int(args.func(args) or 0)
    except MindpainError as err:
        return _fail(f"{name}: error: {err}", 2)
    except KeyboardInterrupt:
        return _fail(f"{name}: interrupted; finished files are kept and a re-run resumes", 130)
    except OSError as err:
        return _fail(f"{name}: error: {os_error_message(err)}", 2)
    except MemoryError:
        return _fail(f"{name}: error: out of memory; use fewer --n-jobs or a machine with more "
                     "memory", 2)
    except Exception as err:  # a bug: one line, and the traceback only on request
        if os.environ.get("MINDPAIN_DEBUG"):
            raise
        text = " ".join(str(err).split())[:300]
        return _fail(f"{name}: internal error: {type(err).__name__}: {text} (a bug in "
                     "mindpain; MINDPAIN_DEBUG=1 shows the traceback)", 1)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
