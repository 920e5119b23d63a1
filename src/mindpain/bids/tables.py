"""Read the tables of a BIDS dataset: participants, events, confounds, practice, truth.

Part of :mod:`mindpain.bids`, the package's one BIDS reader. One policy for missing values
(``n/a``, ``N/A``, ``NA`` and empty cells are missing); a missing file or column, or a value
that would silently give wrong numbers, raises :class:`mindpain.core.errors.MindpainError`
naming the file and what was expected.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.bids.datamap import MEDITATORS, check_conditions, resolve_map
from mindpain.bids.query import check_dir, list_runs
from mindpain.core.errors import MindpainError
from mindpain.core.io import read_tsv
from mindpain.core.vocabulary import (
    FRAMEWISE_DISPLACEMENT,
    GROUPS,
    TRIAL_TYPES,
    TWIN_TRUTH_DIR,
)

#: Columns ``participants.tsv`` must have.
PARTICIPANT_COLUMNS = ("participant_id", "group")
#: Columns every events file must have (BIDS).
EVENT_COLUMNS = ("onset", "duration", "trial_type")
#: Rating columns of the events files (hot and warm rows).
RATING_COLUMNS = ("intensity_rating", "unpleasantness_rating")
#: Where the twin keeps its planted truth.
TRUTH_TSV = Path(TWIN_TRUTH_DIR) / "truth.tsv"

_NA = ["n/a", "N/A", "NA", ""]


def read_bids_table(path, required=(), what: str = "a BIDS table") -> pd.DataFrame:
    """Read a BIDS TSV (``n/a`` = missing) and check it has the ``required`` columns.

    Parameters
    ----------
    path : path-like
        The ``.tsv`` file.
    required : sequence of str
        Columns it must have.
    what : str
        What the file should be, for the error message (e.g. ``"a BIDS events file"``).

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the file is missing or unreadable, or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError(f"file not found; expected {what} with columns "
                            f"{', '.join(required)}", path)
    try:
        table = read_tsv(path, na_values=_NA)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError,
            OSError) as err:
        raise MindpainError(f"cannot be read as a tab-separated table ({err}); expected {what} "
                            f"with columns {', '.join(required)}", path) from None
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise MindpainError(f"missing column(s) {', '.join(missing)}; expected {what} with "
                            f"columns {', '.join(required)} (found: "
                            f"{', '.join(map(str, table.columns))})", path)
    return table


def check_columns(table: pd.DataFrame, required, what: str) -> None:
    """Raise a one-line error unless ``table`` is a DataFrame with the ``required`` columns."""
    if not isinstance(table, pd.DataFrame):
        raise MindpainError(f"expected {what} as a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise MindpainError(f"{what} lacks column(s) {', '.join(missing)}; expected columns "
                            f"{', '.join(required)}")


def _as_bool(series: pd.Series, path: Path) -> pd.Series:
    text = series.astype(str).str.strip().str.lower()
    mapping = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    bad = sorted(set(text[~text.isin(mapping)]))
    if bad:
        raise MindpainError(f"column completed_post has values {bad}; expected True or False",
                            path)
    return text.map(mapping).astype(bool)


def load_participants(bids_dir, dataset_map=None) -> pd.DataFrame:
    """Load ``participants.tsv`` (and the practice table when present).

    Required columns are ``participant_id`` and ``group`` (one of MBSR, HEP, WL, LTM).
    Missing optional columns are filled in: ``cohort`` (``meditator`` for LTM, else
    ``naive``) and ``completed_post`` (whether the participant has a ``ses-post`` folder).
    With a dataset map (:mod:`mindpain.bids.datamap`) the group column, its values, the
    after session's folder and the practice table are the map's; the table returned uses the
    book's names.

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder (its ``participants.tsv`` and ``phenotype/practice.tsv``).
    dataset_map : mindpain.bids.datamap.DatasetMap or path-like, optional
        :func:`mindpain.bids.datamap.resolve_map` (default: the map beside the dataset).

    Returns
    -------
    pandas.DataFrame
        One row per participant, with ``completed_post`` as bool and, if the practice
        table exists, ``lifetime_hours`` and ``retreat_hours`` (NaN for naive participants).

    Raises
    ------
    mindpain.core.errors.MindpainError
        If ``participants.tsv`` is missing, lacks a required column, or has an unknown group.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        participants = load_participants(twin_dir)
        participants["group"].unique().tolist()
        # ['HEP', 'WL', 'MBSR', 'LTM']
    """
    root = check_dir(bids_dir)
    names = resolve_map(root, dataset_map)
    path = root / "participants.tsv"
    column = names.group_column
    table = read_bids_table(path, ("participant_id", column), "a participants table")
    if column != "group":
        table = table.drop(columns=["group"], errors="ignore").rename(columns={column: "group"})
    ids = table["participant_id"].astype(str).str.strip()
    table["participant_id"] = ids.where(ids.str.startswith("sub-"), "sub-" + ids)
    if table["participant_id"].duplicated().any():
        dup = table.loc[table["participant_id"].duplicated(), "participant_id"].tolist()
        raise MindpainError(f"participant_id repeated: {', '.join(dup)}; expected one row per "
                            "participant", path)
    if names.is_book:
        by_value = {g.upper(): g for g in GROUPS}
        group = table["group"].astype(str).str.strip().str.upper()
        expected = ", ".join(GROUPS)
    else:
        by_value = names.book_group()
        group = table["group"].astype(str).str.strip()
        expected = (", ".join(by_value) + f" (the groups of {names.where})")
    unknown = sorted(set(group[~group.isin(by_value)]))
    if unknown:
        raise MindpainError(f"column {column} has values {unknown}; expected one of "
                            f"{expected}", path)
    table["group"] = group.map(by_value)
    if "cohort" not in table.columns:
        table["cohort"] = np.where(table["group"].eq(MEDITATORS), "meditator", "naive")
    if "completed_post" in table.columns:
        table["completed_post"] = _as_bool(table["completed_post"], path)
    else:
        post = f"ses-{names.sessions['post']}"
        table["completed_post"] = [(root / pid / post).is_dir()
                                   for pid in table["participant_id"]]
    practice = root / names.practice["file"]
    if practice.is_file():
        columns = names.practice_columns()
        hours = read_bids_table(practice, ("participant_id", *columns),
                                "a practice table").rename(columns=columns)
        table = table.merge(hours[["participant_id", "lifetime_hours", "retreat_hours"]],
                            on="participant_id", how="left")
    return table


def load_events(bids_dir, task: str | None = None, dataset_map=None) -> pd.DataFrame:
    """Load the events of every run into one long table (pandas only, no images opened).

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder; the ``*_events.tsv`` beside each run of :func:`find_runs`
        are read.
    task : str, optional
        BIDS task label of the runs whose events are read (default: the dataset map's).
    dataset_map : mindpain.bids.datamap.DatasetMap or path-like, optional
        :func:`mindpain.bids.datamap.resolve_map`: sessions, trial types and rating columns
        come out in the book's names.

    Returns
    -------
    pandas.DataFrame
        ``participant_id, session, run`` followed by the events columns (``onset,
        duration, trial_type`` and, in this task, ``temperature, intensity_rating,
        unpleasantness_rating``).

    Raises
    ------
    mindpain.core.errors.MindpainError
        If a run has no events file or an events file lacks a BIDS column.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        events = load_events(twin_dir)
        events["trial_type"].unique().tolist()
        # ['warm', 'rating', 'hot']
    """
    names = resolve_map(bids_dir, dataset_map)
    runs = list_runs(bids_dir, task, names)
    frames = []
    for rec in runs.itertuples(index=False):
        if rec.events_path is None:
            raise MindpainError("this run has no events file; expected "
                                f"{rec.bold_path.name.split('_bold.nii')[0]}_events.tsv beside it",
                                rec.bold_path)
        events = read_bids_table(rec.events_path, EVENT_COLUMNS, "a BIDS events file")
        if not names.is_book:
            check_conditions(names, events["trial_type"].dropna(), rec.events_path)
            events = _book_events(events, names)
        events.insert(0, "run", rec.run)
        events.insert(0, "session", rec.session)
        events.insert(0, "participant_id", rec.participant_id)
        frames.append(events)
    return pd.concat(frames, ignore_index=True)


def _book_events(events: pd.DataFrame, names) -> pd.DataFrame:
    """``events`` with the book's trial types and rating columns (a dataset map's)."""
    renamed = names.trial_types()
    types = events["trial_type"]
    out = events.assign(trial_type=types.where(types.isna(), types.astype(str).map(
        lambda t: renamed.get(t, t))))
    columns = names.rating_columns()
    out = out.drop(columns=[c for c in columns.values() if c in out and c not in columns])
    return out.rename(columns=columns)


def check_run_conditions(specs, dataset_map=None) -> None:
    """Refuse a dataset map whose hot or warm condition the first run's events do not hold.

    ``specs``: :func:`mindpain.bids.query.find_runs` of the dataset; checked before any run
    is fitted, so a misspelt condition is one error, not one per run.
    """
    if not specs:
        return
    first = min(specs, key=lambda s: s.order)
    names = resolve_map(first.bids_dir, dataset_map)
    if not names.is_book and first.events.is_file():
        events = read_bids_table(first.events, ("trial_type",), "a BIDS events file")
        check_conditions(names, events["trial_type"].dropna(), first.events)


def load_run_events(path, run_length: float | None = None,
                    trial_types=TRIAL_TYPES, renamed=()) -> pd.DataFrame:
    """Read and check one run's events for the GLM (onset, duration, trial_type).

    Parameters
    ----------
    path : path-like
        ``*_events.tsv``.
    run_length : float, optional
        Length of the run in seconds (volumes x TR); events ending after it are an error.
    trial_types : sequence of str
        The trial types allowed (the book's); ``hot`` and ``warm`` must both occur.
    renamed : sequence of (str, str), optional
        ``(dataset value, book trial type)`` pairs of a dataset map
        (:attr:`mindpain.bids.query.RunSpec.trial_types`), applied before the checks.

    Returns
    -------
    pandas.DataFrame
        Columns ``onset``, ``duration``, ``trial_type``.
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError("events file missing; expected onset/duration/trial_type TSV", path)
    ev = read_bids_table(path, EVENT_COLUMNS, "a BIDS events file")
    if ev.empty:
        raise MindpainError("events table is empty", path)
    for col in ("onset", "duration"):
        values = pd.to_numeric(ev[col], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.fillna(0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0]) + 2
            raise MindpainError(f"events column {col} has a non-numeric value on line {row}",
                                path)
        ev[col] = values.astype(float)
    if (ev["duration"] < 0).any() or (ev["onset"] < 0).any():
        raise MindpainError("events have a negative onset or duration", path)
    if ev["trial_type"].isna().any():
        row = int(np.flatnonzero(ev["trial_type"].isna())[0]) + 2
        raise MindpainError(f"trial_type is n/a (missing) on line {row}; every event needs one "
                            f"of {', '.join(trial_types)}", path)
    types = ev["trial_type"].astype(str)
    book = dict(renamed)
    if book:
        types = types.map(lambda t: book.get(t, t))
    unknown = sorted(set(types) - set(trial_types))
    if unknown:
        hidden = [t for t in unknown if t != t.strip() or not t.isprintable()]
        shown = ", ".join(repr(t) if t in hidden else t for t in unknown)
        note = (" (quoted: a space or an invisible character is part of the value)"
                if hidden else "")
        raise MindpainError(f"unknown trial type(s) {shown}{note}; expected only "
                            f"{', '.join(trial_types)}", path)
    for needed in ("hot", "warm"):
        if needed not in set(types):
            mapped = [u for u, b in book.items() if b == needed]
            named = f" (trial_type {', '.join(mapped)} by the dataset map)" if mapped else ""
            raise MindpainError(f"no {needed!r} events{named}; the hot>warm contrast needs "
                                "both", path)
    ends = ev["onset"] + ev["duration"]
    if run_length is not None and (ends > run_length + 1e-6).any():
        raise MindpainError(f"event ending at {ends.max():.1f} s is beyond the run's end "
                            f"({run_length:.1f} s = volumes x RepetitionTime)", path)
    return ev[["onset", "duration", "trial_type"]].assign(trial_type=types)


#: Confound values beyond this magnitude are taken for a corrupted file.
CONFOUND_MAX = 1e6
#: fMRIPrep confound columns whose first row(s) are n/a by construction (no previous volume).
_LEADING_NA = re.compile(r".*_derivative1(_power2)?|framewise_displacement|(std_)?dvars"
                         r"|rmsd")


def expand_confound_columns(columns, available) -> list:
    """Expand shell-style patterns in ``columns`` (e.g. ``motion_outlier*``) over ``available``.

    A name without a wildcard is kept as it is; a pattern becomes every available column it
    matches, in the table's order (none is fine: a run without outlier volumes has no
    ``motion_outlierNN`` column).

    Examples
    --------
    >>> expand_confound_columns(["trans_x", "motion_outlier*"],
    ...                         ["trans_x", "motion_outlier00", "motion_outlier01"])
    ['trans_x', 'motion_outlier00', 'motion_outlier01']
    """
    out = []
    for col in columns:
        if any(ch in col for ch in "*?["):
            out += [c for c in available if fnmatchcase(c, col) and c not in out]
        elif col not in out:
            out.append(col)
    return out


def read_confounds(path) -> pd.DataFrame:
    """Read a whole fMRIPrep confounds table as written (``n/a`` = missing), unchecked.

    For showing and summarising head motion; the GLM reads its columns with
    :func:`load_confounds`, which checks them.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the file is missing or unreadable, or has no ``framewise_displacement`` column.
    """
    return read_bids_table(path, (FRAMEWISE_DISPLACEMENT,), "an fMRIPrep confounds table")


def load_confounds(path, columns, n_scans: int) -> pd.DataFrame:
    """Read the chosen fMRIPrep confound columns, checked.

    ``columns`` may hold shell-style patterns (``motion_outlier*``: fMRIPrep's one-column-per-
    outlier-volume scrubbing regressors), expanded by :func:`expand_confound_columns`.

    fMRIPrep leaves ``n/a`` in the first row(s) of derivative columns
    (``*_derivative1``, ``*_derivative1_power2``, ``framewise_displacement``, ``dvars``,
    ``std_dvars``, ``rmsd``) because there is no previous volume; those leading values
    become 0, as fMRIPrep's documentation advises. Any other ``n/a``, text, an infinite
    value or a value beyond :data:`CONFOUND_MAX` is an error naming the file, column and
    line.

    Parameters
    ----------
    path : path-like
        ``*_desc-confounds_timeseries.tsv``.
    columns : sequence of str
        Columns to use.
    n_scans : int
        Volumes of the BOLD run (the table must have as many rows).
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError("fMRIPrep confounds file missing; expected "
                            "*_desc-confounds_timeseries.tsv beside the BOLD", path)
    patterns = [c for c in columns if any(ch in c for ch in "*?[")]
    conf = read_bids_table(path, [c for c in columns if c not in patterns],
                    "an fMRIPrep confounds table")
    columns = expand_confound_columns(columns, conf.columns)
    if len(conf) != n_scans:
        raise MindpainError(f"confounds have {len(conf)} rows; the BOLD has {n_scans} volumes",
                            path)
    out = {}
    for col in columns:
        raw = conf[col]
        values = pd.to_numeric(raw, errors="coerce")
        text = raw.notna() & values.isna()
        if text.any():
            i = int(np.flatnonzero(text)[0])
            raise MindpainError(f"confounds column {col} has a non-numeric value "
                                f"{raw.iloc[i]!r} on line {i + 2}", path)
        missing = values.isna().to_numpy()
        if missing.all():
            raise MindpainError(f"confounds column {col} is n/a in every row", path)
        leading = np.cumprod(missing).astype(bool)  # the n/a run at the top
        if (missing & ~leading).any() or (leading.any() and not _LEADING_NA.fullmatch(col)):
            i = int(np.flatnonzero(missing & ~(leading & bool(_LEADING_NA.fullmatch(col))))[0])
            raise MindpainError(f"confounds column {col} is n/a on line {i + 2}; only the first "
                                "row(s) of derivative columns may be n/a", path)
        values = values.fillna(0.0)
        bad = ~np.isfinite(values) | (values.abs() > CONFOUND_MAX)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise MindpainError(f"confounds column {col} has the value {values.iloc[i]:g} on "
                                f"line {i + 2} (infinite or beyond ±{CONFOUND_MAX:g}); the file "
                                "looks corrupted", path)
        out[col] = values.astype(float)
    return pd.DataFrame(out, index=conf.index)


def load_truth(bids_dir) -> pd.DataFrame | None:
    """Load the twin's planted truth, or ``None`` for a dataset without it (real data).

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder; the truth is its ``derivatives/twin-truth`` table
        (:data:`TRUTH_TSV`).

    Returns
    -------
    pandas.DataFrame or None
        One row per participant and session: ``participant_id, session, group`` and the
        planted latent responses ``nociceptive, modulatory, intensity, unpleasantness``
        (the generator's scale; signature scores are read out of the BOLD, not planted).
    """
    path = check_dir(bids_dir) / TRUTH_TSV
    if not path.is_file():
        return None
    return read_bids_table(path, ("participant_id", "session"), "the twin's truth table")


def practice_from_bids(bids_dir, dataset_map=None) -> tuple[pd.DataFrame, Path]:
    """Read the practice table of a BIDS dataset (``n/a`` = missing).

    ``phenotype/practice.tsv`` with ``participant_id, lifetime_hours, retreat_hours``, or
    the file and columns a dataset map names (``[practice]``,
    :mod:`mindpain.bids.datamap`), returned with the book's column names.

    Returns
    -------
    tuple
        The table and its path (for error messages).
    """
    names = resolve_map(bids_dir, dataset_map)
    path = Path(bids_dir) / names.practice["file"]
    hours = names.practice_columns()
    if not path.is_file():
        raise MindpainError(f"no practice table; expected {names.practice['file']} with "
                            f"participant_id, {', '.join(hours)}", path)
    return read_tsv(path).rename(columns=hours), path
