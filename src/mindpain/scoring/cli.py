"""The ``mindpain score`` command: which maps to score (lists, BIDS derivatives) and the run.

:func:`read_map_list` reads paths from a file or standard input,
:func:`parse_entity_filters` and :func:`find_statmaps` select the statistical maps of a
BIDS derivatives folder, and :func:`score_cli` scores them into a table
(:func:`~mindpain.scoring.outputs.score_to_file`).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from mindpain.bids import bids_entities
from mindpain.core.config import worker_count
from mindpain.core.errors import MindpainError
from mindpain.scoring.maps import map_stem
from mindpain.scoring.outputs import check_output, score_to_file
from mindpain.signatures import get_signature


def read_map_list(source) -> list[str]:
    """Paths listed one per line in a file, or on standard input for ``"-"``.

    Blank lines are skipped and surrounding whitespace is removed; relative paths are
    relative to the current folder (as on the command line). The file is UTF-8; a leading
    byte-order mark (written by some editors) is not part of the first path.
    """
    if str(source) == "-":
        lines = sys.stdin.read().removeprefix("\ufeff").splitlines()
    else:
        path = Path(source)
        if path.is_dir():
            raise MindpainError("is a folder; expected a text file listing map paths, one per "
                                "line (for a folder of maps use --bids-derivatives)", path)
        if not path.is_file():
            raise MindpainError("file not found; expected a list of map paths, one per line",
                                path)
        try:
            lines = path.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise MindpainError(f"cannot be read as text ({err}); expected a list of map "
                                "paths, one per line", path) from None
    return [line.strip() for line in lines if line.strip()]


def parse_entity_filters(pairs) -> dict[str, set[str]]:
    """``["contrast=hotVsWarm", "stat=effect,z"]`` -> ``{"contrast": {...}, "stat": {...}}``.

    Examples
    --------
    >>> parse_entity_filters(["sub=sub-01,02", "stat=effect"]) == {"sub": {"01", "02"},
    ...                                                            "stat": {"effect"}}
    True
    """
    filters: dict[str, set[str]] = {}
    for pair in pairs or ():
        key, sep, values = str(pair).partition("=")
        vals = {v.strip().removeprefix(f"{key}-") for v in values.split(",") if v.strip()}
        if not sep or not key.isalnum() or not vals or not all(v.isalnum() for v in vals):
            raise MindpainError(f"entity filter {pair!r} is not KEY=VALUE[,VALUE...] with "
                                "letters and digits (e.g. contrast=hotVsWarm stat=effect); "
                                "map paths go before --entities")
        filters.setdefault(key, set()).update(vals)
    return filters


def find_statmaps(root, entities=None, suffix: str = "statmap") -> list[Path]:
    """Statistical maps under a BIDS derivatives folder whose entities match ``entities``.

    Files ``*_<suffix>.nii[.gz]`` anywhere below ``root`` (hidden folders skipped), sorted;
    ``entities`` maps a key to its accepted values (all keys must match).

    Examples
    --------
    Illustration (needs a folder)::

        find_statmaps("derivatives/mindpain", {"contrast": {"hotVsWarm"}, "stat": {"effect"}})
    """
    root = Path(root)
    if not root.is_dir():
        raise MindpainError("is not a folder; expected a BIDS derivatives folder", root)
    entities = entities or {}
    found, other = [], 0
    ends = (f"_{suffix}.nii.gz", f"_{suffix}.nii")
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if not name.endswith(ends) or name.startswith("."):
                continue
            ents = bids_entities(map_stem(name))
            if all(ents.get(k) in vals for k, vals in entities.items()):
                found.append(Path(folder) / name)
            else:
                other += 1
    if not found:
        want = " ".join(f"{k}={','.join(sorted(v))}" for k, v in entities.items()) or "(any)"
        raise MindpainError(f"no *_{suffix}.nii[.gz] map matches the entities {want} "
                            f"({other} other {suffix} map(s) found); check --entities", root)
    return found


def _one_line_warning(message, category, filename, lineno, file=None, line=None):
    text = " ".join(str(message).split())
    print(f"mindpain score: warning: {text}", file=sys.stderr)


def score_cli(args, cfg) -> int:
    """Run ``mindpain score`` from parsed arguments: write TSV + JSON sidecar; return 0.

    ``cfg`` (:class:`mindpain.core.config.Config`, resolved by the command line) gives the
    data directory where official signatures are looked up, the surrogates' cache and the
    workers when ``--n-jobs`` is not given.
    """
    out = check_output(args.out)  # before anything slow
    maps = [str(m) for m in (args.maps or [])]
    if args.from_file:
        maps += read_map_list(args.from_file)
    if args.bids_derivatives:
        maps += [str(p) for p in find_statmaps(args.bids_derivatives,
                                               parse_entity_filters(args.entities),
                                               args.suffix)]
    elif args.entities:
        raise MindpainError("--entities selects maps of --bids-derivatives; give that folder")
    if not maps:
        raise MindpainError("no map given; pass map files, --from-file LIST or "
                            "--bids-derivatives DIR")
    n_jobs = (worker_count(args.n_jobs, "--n-jobs") if args.n_jobs is not None
              else worker_count(cfg.n_jobs, "MINDPAIN_N_JOBS"))
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = _one_line_warning
        sigs = [get_signature(s, cfg.data_dir, cfg.surrogate_cache_dir) for s in args.signature]
        try:
            score_to_file(maps, sigs, out,
                          metrics=tuple(dict.fromkeys(args.metric or ["dot"])),
                          subregions=args.subregions, resample=args.resample, n_jobs=n_jobs,
                          progress=not args.quiet and sys.stderr.isatty())
        except OSError as err:  # disk full, folder removed or made read-only meanwhile
            raise MindpainError(f"cannot be written ({err.strerror or err}); nothing was "
                                "written (finished blocks, if any, are kept for a re-run)",
                                err.filename or out) from None
    return 0
