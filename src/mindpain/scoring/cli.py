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

from mindpain.bids import MNI_FAMILY, bids_entities, is_mni_space, select_space, space_of
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


def find_statmaps(root, entities=None, suffix: str = "statmap",
                  space: str | None = None) -> list[Path]:
    """Statistical maps under a BIDS derivatives folder whose entities match ``entities``.

    Files ``*_<suffix>.nii[.gz]`` anywhere below ``root`` (hidden folders skipped), sorted;
    ``entities`` maps a key to its accepted values (all keys must match). When the maps are
    in several spaces (fMRIPrep writes one per output space), or ``space`` is given, only
    the maps of one space are kept (:func:`mindpain.bids.query.select_space`: ``space``, else the
    first MNI152 space present).

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
    spaces = {p: _map_space(p) for p in found}
    present = {s for s in spaces.values() if s is not None}
    if space is not None or len(present) > 1:
        chosen = select_space(present, space, root)
        found = [p for p in found if spaces[p] == chosen]
    return found


def _map_space(path) -> str | None:
    """Return a map's space from its ``space-``/``res-`` entities; ``None`` without them."""
    ents = bids_entities(map_stem(Path(path).name))
    return space_of(ents) if "space" in ents else None


def check_map_spaces(maps, any_space: bool = False) -> None:
    """Refuse maps whose ``space-`` entity is not an MNI152 space (one line; exit 2).

    The signatures are weight maps in MNI152 space: a map in a participant's native space
    (``space-T1w``) or on a surface, scored against them, gives numbers with no meaning, so
    it is refused unless ``any_space`` (the user knows the map is aligned to the weights).
    A map without a ``space-`` entity is accepted (its grid is checked when it is scored).
    """
    if any_space:
        return
    other = [(m, s) for m in maps if (s := _map_space(m)) is not None and not is_mni_space(s)]
    if other:
        path, space = other[0]
        raise MindpainError(f"is in space {space}, not an {MNI_FAMILY} space the signatures "
                            f"are defined in ({len(other)} of {len(maps)} map(s) so): its "
                            f"scores would mean nothing; score maps normalised to {MNI_FAMILY} "
                            "(fMRIPrep --output-spaces MNI152NLin2009cAsym), or pass "
                            "--any-space if you know they are aligned to the signatures",
                            path)


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
                                               args.suffix, getattr(args, "space", None))]
    elif args.entities:
        raise MindpainError("--entities selects maps of --bids-derivatives; give that folder")
    if not maps:
        raise MindpainError("no map given; pass map files, --from-file LIST or "
                            "--bids-derivatives DIR")
    check_map_spaces(maps, getattr(args, "any_space", False))
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
