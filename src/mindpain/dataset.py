"""Load a BIDS dataset of the heat task: the simulated twin or a user's own data.

Every function takes the dataset folder (or a table a loader returned) and works the same
on the twin and on real data with the same layout::

    participants.tsv                      participant_id, group [, cohort, completed_post, age, sex]
    phenotype/practice.tsv                optional: participant_id, lifetime_hours, retreat_hours
    sub-<id>/ses-<pre|post>/func/sub-<id>_ses-<s>_task-heat_run-<n>_bold.nii.gz
    sub-<id>/ses-<pre|post>/func/sub-<id>_ses-<s>_task-heat_run-<n>_events.tsv
    derivatives/twin-truth/truth.tsv      twin only: the planted truth

This is the package's one BIDS reader: every read of runs, events, confounds, participants
and sidecars goes through it, with one policy for missing values (``n/a``, ``N/A``, ``NA``
and empty cells are missing) and one rule for the repetition time (see
:func:`repetition_time`). Inputs are checked once, here: a missing file or column, or a value
that would silently give wrong numbers, raises :class:`mindpain.errors.MindpainError` naming
the file and what was expected.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.errors import MindpainError
from mindpain.io import read_json
from mindpain.io import read_tsv as read_tsv_file
from mindpain.vocabulary import ARMS, GROUPS, SESSIONS, TASK, TRIAL_TYPES

#: Columns ``participants.tsv`` must have.
PARTICIPANT_COLUMNS = ("participant_id", "group")
#: Columns every events file must have (BIDS).
EVENT_COLUMNS = ("onset", "duration", "trial_type")
#: Rating columns of the events files (hot and warm rows).
RATING_COLUMNS = ("intensity_rating", "unpleasantness_rating")
#: Where the twin keeps its planted truth.
TRUTH_TSV = Path("derivatives") / "twin-truth" / "truth.tsv"

_NA = ["n/a", "N/A", "NA", ""]
_ENTITY = re.compile(r"(?:^|_)([a-zA-Z0-9]+)-([a-zA-Z0-9]+)")


def bids_entities(path) -> dict:
    """Return the BIDS entities of a file name (``key-value`` pairs before the suffix).

    Examples
    --------
    >>> bids_entities("sub-01_ses-pre_task-heat_run-1_bold.nii.gz")
    {'sub': '01', 'ses': 'pre', 'task': 'heat', 'run': '1'}
    """
    return dict(_ENTITY.findall(Path(path).name.split(".")[0]))


def sidecar_chain(bids_dir, data_path, suffix: str = "bold") -> list[Path]:
    """JSON sidecars that apply to ``data_path`` by BIDS inheritance, least specific first.

    Sidecars ``*_<suffix>.json`` from the dataset's top folder down to the file's folder
    apply when all their entities match the file's; the deepest wins on conflicts.
    """
    root, data_path = Path(bids_dir), Path(data_path)
    ents = bids_entities(data_path)
    folders = [root]
    if "sub" in ents:
        folders.append(root / f"sub-{ents['sub']}")
        if "ses" in ents:
            folders.append(folders[-1] / f"ses-{ents['ses']}")
        folders.append(folders[-1] / data_path.parent.name)
    found = []
    for folder in folders:
        for js in sorted(folder.glob(f"*_{suffix}.json"), key=lambda p: len(bids_entities(p))):
            if all(ents.get(k) == v for k, v in bids_entities(js).items()):
                found.append(js)
    return found


def read_sidecar(path) -> dict:
    """Read a JSON sidecar; raise a one-line error naming it when it is not a JSON object."""
    path = Path(path)
    try:
        data = read_json(path)
    except (OSError, ValueError) as err:
        raise MindpainError(f"unreadable JSON ({err})", path) from None
    if not isinstance(data, dict):
        raise MindpainError("JSON sidecar is not an object", path)
    return data


def _check_dir(bids_dir) -> Path:
    path = Path(bids_dir)
    if not path.is_dir():
        raise MindpainError("not a folder; expected a BIDS dataset folder with participants.tsv",
                            path)
    return path


def read_tsv(path, required=(), what: str = "a BIDS table") -> pd.DataFrame:
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
    mindpain.errors.MindpainError
        If the file is missing or unreadable, or lacks a required column.
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError(f"file not found; expected {what} with columns "
                            f"{', '.join(required)}", path)
    try:
        table = read_tsv_file(path, na_values=_NA)
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


def _check_columns(table: pd.DataFrame, required, what: str) -> None:
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


def list_runs(bids_dir, task: str = TASK) -> pd.DataFrame:
    """List the BOLD runs of ``task`` with their events files.

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder.
    task : str
        BIDS task label.

    Returns
    -------
    pandas.DataFrame
        One row per run, sorted: ``participant_id, session, run, bold_path,
        events_path`` (``events_path`` is ``None`` when the run has no events file).

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        runs = list_runs(twin_dir)
        runs.columns.tolist()
        # ['participant_id', 'session', 'run', 'bold_path', 'events_path']
    """
    root = _check_dir(bids_dir)
    rows = []
    for bold in root.glob(f"sub-*/ses-*/func/sub-*_task-{task}_*bold.nii*"):
        stem = bold.name.split("_bold.nii")[0]
        entities = bids_entities(stem)
        if entities.get("task") != task or "sub" not in entities:
            continue
        events = bold.with_name(f"{stem}_events.tsv")
        rows.append({"participant_id": f"sub-{entities['sub']}",
                     "session": entities.get("ses", bold.parts[-3].removeprefix("ses-")),
                     "run": int(entities.get("run", 1)),
                     "bold_path": bold, "events_path": events if events.is_file() else None})
    columns = ["participant_id", "session", "run", "bold_path", "events_path"]
    if not rows:
        raise MindpainError(f"no BOLD runs found; expected files sub-*/ses-*/func/"
                            f"sub-*_ses-*_task-{task}_run-*_bold.nii.gz", root)
    table = pd.DataFrame(rows, columns=columns)
    order = {s: i for i, s in enumerate(SESSIONS)}
    table["_ses"] = table["session"].map(order).fillna(len(order))
    table = table.sort_values(["participant_id", "_ses", "session", "run"])
    return table.drop(columns="_ses").reset_index(drop=True)


def load_participants(bids_dir) -> pd.DataFrame:
    """Load ``participants.tsv`` (and ``phenotype/practice.tsv`` when present).

    Required columns are ``participant_id`` and ``group`` (one of MBSR, HEP, WL, LTM).
    Missing optional columns are filled in: ``cohort`` (``meditator`` for LTM, else
    ``naive``) and ``completed_post`` (whether the participant has a ``ses-post`` folder).

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder.

    Returns
    -------
    pandas.DataFrame
        One row per participant, with ``completed_post`` as bool and, if the practice
        table exists, ``lifetime_hours`` and ``retreat_hours`` (NaN for naive participants).

    Raises
    ------
    mindpain.errors.MindpainError
        If ``participants.tsv`` is missing, lacks a required column, or has an unknown group.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        participants = load_participants(twin_dir)
        participants["group"].unique().tolist()
        # ['HEP', 'WL', 'MBSR', 'LTM']
    """
    root = _check_dir(bids_dir)
    path = root / "participants.tsv"
    table = read_tsv(path, PARTICIPANT_COLUMNS, "a participants table")
    ids = table["participant_id"].astype(str).str.strip()
    table["participant_id"] = ids.where(ids.str.startswith("sub-"), "sub-" + ids)
    if table["participant_id"].duplicated().any():
        dup = table.loc[table["participant_id"].duplicated(), "participant_id"].tolist()
        raise MindpainError(f"participant_id repeated: {', '.join(dup)}; expected one row per "
                            "participant", path)
    by_upper = {g.upper(): g for g in GROUPS}
    group = table["group"].astype(str).str.strip().str.upper()
    unknown = sorted(set(group[~group.isin(by_upper)]))
    if unknown:
        raise MindpainError(f"column group has values {unknown}; expected one of "
                            f"{', '.join(GROUPS)}", path)
    table["group"] = group.map(by_upper)
    if "cohort" not in table.columns:
        table["cohort"] = np.where(table["group"].eq("LTM"), "meditator", "naive")
    if "completed_post" in table.columns:
        table["completed_post"] = _as_bool(table["completed_post"], path)
    else:
        table["completed_post"] = [(root / pid / "ses-post").is_dir()
                                   for pid in table["participant_id"]]
    practice = root / "phenotype" / "practice.tsv"
    if practice.is_file():
        hours = read_tsv(practice, ("participant_id", "lifetime_hours", "retreat_hours"),
                          "a practice table")
        table = table.merge(hours[["participant_id", "lifetime_hours", "retreat_hours"]],
                            on="participant_id", how="left")
    return table


def load_events(bids_dir, task: str = TASK) -> pd.DataFrame:
    """Load the events of every run into one long table (pandas only, no images opened).

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder.
    task : str
        BIDS task label.

    Returns
    -------
    pandas.DataFrame
        ``participant_id, session, run`` followed by the events columns (``onset,
        duration, trial_type`` and, in this task, ``temperature, intensity_rating,
        unpleasantness_rating``).

    Raises
    ------
    mindpain.errors.MindpainError
        If a run has no events file or an events file lacks a BIDS column.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        events = load_events(twin_dir)
        events["trial_type"].unique().tolist()
        # ['warm', 'rating', 'hot']
    """
    runs = list_runs(bids_dir, task)
    frames = []
    for rec in runs.itertuples(index=False):
        if rec.events_path is None:
            raise MindpainError("this run has no events file; expected "
                                f"{rec.bold_path.name.split('_bold.nii')[0]}_events.tsv beside it",
                                rec.bold_path)
        events = read_tsv(rec.events_path, EVENT_COLUMNS, "a BIDS events file")
        events.insert(0, "run", rec.run)
        events.insert(0, "session", rec.session)
        events.insert(0, "participant_id", rec.participant_id)
        frames.append(events)
    return pd.concat(frames, ignore_index=True)


def session_ratings(events: pd.DataFrame, trial_type: str = "hot") -> pd.DataFrame:
    """Mean intensity and unpleasantness ratings per participant and session.

    Parameters
    ----------
    events : pandas.DataFrame
        Long events table from :func:`load_events`.
    trial_type : str
        Which stimuli to average (``"hot"`` by default).

    Returns
    -------
    pandas.DataFrame
        ``participant_id, session, intensity, unpleasantness, n_trials``; the ratings are
        means over the rated trials of all runs of the session (0-100 scale).

    Examples
    --------
    >>> events = pd.DataFrame({"participant_id": "sub-01", "session": "pre", "run": 1,
    ...                        "onset": [0.0, 20.0], "duration": 10.0,
    ...                        "trial_type": ["hot", "hot"], "intensity_rating": [40.0, 60.0],
    ...                        "unpleasantness_rating": [30.0, 50.0]})
    >>> row = session_ratings(events).iloc[0]
    >>> float(row["intensity"]), float(row["unpleasantness"]), int(row["n_trials"])
    (50.0, 40.0, 2)
    """
    _check_columns(events, ("participant_id", "session", "trial_type", *RATING_COLUMNS),
                   "the events table")
    rows = events[events["trial_type"] == trial_type]
    if rows.empty:
        raise MindpainError(f"the events table has no {trial_type!r} trials; expected "
                            f"trial_type values such as hot, warm, rating")
    out = (rows.groupby(["participant_id", "session"], sort=False)
           .agg(intensity=("intensity_rating", "mean"),
                unpleasantness=("unpleasantness_rating", "mean"),
                n_trials=("intensity_rating", "count"))
           .reset_index())
    order = {s: i for i, s in enumerate(SESSIONS)}
    out = out.sort_values(["participant_id", "session"],
                          key=lambda s: s.map(order).fillna(len(order)) if s.name == "session"
                          else s)
    return out.reset_index(drop=True)


def select_run(events: pd.DataFrame, participant_id: str, session: str, run: int) -> pd.DataFrame:
    """Return the events of one run from the long table of :func:`load_events`.

    Raises
    ------
    mindpain.errors.MindpainError
        If the table has no events for that run.
    """
    _check_columns(events, ("participant_id", "session", "run"), "the events table")
    sel = ((events["participant_id"] == participant_id) & (events["session"] == session)
           & (events["run"] == int(run)))
    if not sel.any():
        raise MindpainError(f"no events for {participant_id}, session {session}, run {run}")
    return events.loc[sel].drop(columns=["participant_id", "session", "run"]).reset_index(
        drop=True)


def run_summary(events_one_run: pd.DataFrame, tr: float, n_volumes: int) -> dict:
    """Describe one run's design in numbers (Python ints and floats, ready to glue).

    Parameters
    ----------
    events_one_run : pandas.DataFrame
        Events of one run (from :func:`select_run`).
    tr : float
        Repetition time (s).
    n_volumes : int
        Number of volumes of the run.

    Returns
    -------
    dict
        ``tr, n_volumes, minutes, n_hot, n_warm, stimulus_s, rating_s`` and, when the events
        have a ``temperature`` column, ``hot_temperature`` and ``warm_temperature`` (means).

    Examples
    --------
    >>> ev = pd.DataFrame({"onset": [0.0, 12.0], "duration": [10.0, 6.0],
    ...                    "trial_type": ["hot", "rating"]})
    >>> run_summary(ev, tr=2.0, n_volumes=30)["minutes"]
    1.0
    """
    _check_columns(events_one_run, EVENT_COLUMNS, "the events of one run")
    kind = events_one_run["trial_type"]
    stim = events_one_run.loc[kind.isin(["hot", "warm"]), "duration"]
    rate = events_one_run.loc[kind == "rating", "duration"]
    out = {"tr": float(tr), "n_volumes": int(n_volumes), "minutes": float(n_volumes * tr / 60),
           "n_hot": int((kind == "hot").sum()), "n_warm": int((kind == "warm").sum()),
           "stimulus_s": float(stim.mean()) if len(stim) else float("nan"),
           "rating_s": float(rate.mean()) if len(rate) else float("nan")}
    if "temperature" in events_one_run:
        for name in ("hot", "warm"):
            out[f"{name}_temperature"] = float(events_one_run.loc[kind == name,
                                                                  "temperature"].mean())
    return out


def load_bold(bold_path, min_volumes: int = 1):
    """Load one 4D BOLD run into memory (float32), so it is read from disk once.

    Parameters
    ----------
    bold_path : str or path-like
        A ``*_bold.nii[.gz]`` file.
    min_volumes : int
        Fewest volumes accepted (the first level needs 10).

    Returns
    -------
    nibabel.Nifti1Image
        The run, with its data held in memory.

    Raises
    ------
    mindpain.errors.MindpainError
        If the file is missing, unreadable, not a 4D image or too short.
    """
    import nibabel as nib

    path = Path(bold_path)
    if not path.is_file():
        raise MindpainError("file not found; expected a 4D BOLD NIfTI image", path)
    try:
        img = nib.load(path)
        shape = img.shape
        if len(shape) == 4 and shape[3] >= min_volumes:
            data = np.asarray(img.dataobj, dtype=np.float32)
    except Exception as err:  # nibabel raises many types for broken files
        raise MindpainError(f"unreadable NIfTI ({type(err).__name__}); expected a 4D BOLD "
                            "image", path) from None
    if len(shape) != 4:
        raise MindpainError(f"BOLD is {len(shape)}D {tuple(shape)}; expected a 4D series", path)
    if shape[3] < min_volumes:
        raise MindpainError(f"BOLD has {shape[3]} volumes; expected at least {min_volumes}",
                            path)
    out = nib.Nifti1Image(data, img.affine, img.header)
    out.header.set_data_dtype(np.float32)
    return out


def constant_bold(data: np.ndarray) -> str | None:
    """Return why a BOLD series carries no signal (``"all NaN"``, ...), or ``None``.

    A run with no voxel whose finite values vary over time (all zero, all NaN or Inf, one
    constant value) cannot be fitted; nilearn would still return maps, of noise or zeros.

    Examples
    --------
    >>> constant_bold(np.zeros((2, 2, 2, 5)))
    'all zero'
    >>> constant_bold(np.arange(40.0).reshape(2, 2, 2, 5)) is None
    True
    """
    import warnings

    if np.isfinite(np.sum(data, dtype=np.float64)):
        high, low = np.max(data, axis=-1), np.min(data, axis=-1)
    else:
        finite = np.isfinite(data)
        if not finite.any():
            return "all NaN or infinite"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            high = np.nanmax(np.where(finite, data, np.nan), axis=-1)
            low = np.nanmin(np.where(finite, data, np.nan), axis=-1)
    varies = np.nan_to_num(high - low) > 0
    if varies.any():
        return None
    values = high[np.isfinite(high)]
    if values.size and np.all(values == 0):
        return "all zero"
    return "constant in time in every voxel"


#: A ``RepetitionTime`` at or above this many seconds is taken for milliseconds.
TR_MAX_SECONDS = 100.0
#: Sidecar and header repetition times agree when within this many seconds.
TR_TOLERANCE_S = 1e-3


def header_repetition_time(bold_path) -> float | None:
    """Return the NIfTI header's repetition time in seconds, or ``None`` when unset.

    ``pixdim[4]`` in the header's time unit (ms and us converted); ``None`` when it is 0 or
    negative, or the file is not 4D.
    """
    import nibabel as nib

    try:
        header = nib.load(bold_path).header
        zooms = header.get_zooms()
        unit = header.get_xyzt_units()[1]
    except Exception:  # unreadable files are reported by load_bold
        return None
    if len(zooms) < 4 or not np.isfinite(zooms[3]) or zooms[3] <= 0:
        return None
    return float(zooms[3]) * {"msec": 1e-3, "usec": 1e-6}.get(unit, 1.0)


def repetition_time(bids_dir, bold_path=None, task: str = TASK, *, sidecars=None) -> float:
    """Return the repetition time (s) of the task's BOLD runs: the package's one TR rule.

    * ``RepetitionTime`` comes from the JSON sidecars by BIDS inheritance
      (:func:`sidecar_chain`; the deepest wins). Without ``bold_path``, the dataset-level
      ``task-<task>_bold.json``. It is required (as in BIDS): missing there is an error,
      even when the NIfTI header has a value.
    * It must be a positive number of seconds; a value of :data:`TR_MAX_SECONDS` or more is
      taken for milliseconds and refused.
    * With ``bold_path``, the NIfTI header's value (when set, :func:`header_repetition_time`)
      must agree within :data:`TR_TOLERANCE_S`; a disagreement is an error naming both.

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder.
    bold_path : str or path-like, optional
        A run whose sidecars and header are checked.
    task : str
        BIDS task label.
    sidecars : list of path-like, optional
        The sidecars to read instead of the inheritance chain (least specific first).

    Returns
    -------
    float
        Repetition time in seconds.
    """
    root = _check_dir(bids_dir)
    if sidecars is not None:
        chain = [Path(p) for p in sidecars]
    elif bold_path is not None:
        chain = sidecar_chain(root, bold_path)
    else:
        chain = [root / f"task-{task}_bold.json"]
    meta = {}
    for sidecar in chain:
        if sidecar.is_file():
            meta.update(read_sidecar(sidecar))
    where = Path(bold_path) if bold_path is not None else root
    header = header_repetition_time(bold_path) if bold_path is not None else None
    tr = meta.get("RepetitionTime")
    if tr is None:
        seen = f" (the NIfTI header says {header:g} s)" if header else ""
        raise MindpainError(f"no RepetitionTime in task-{task}_bold.json nor in a sidecar "
                            f"beside the run{seen}; BIDS requires it, in seconds", where)
    if isinstance(tr, bool) or not isinstance(tr, (int, float, str)):
        raise MindpainError(f"RepetitionTime {tr!r} is not a number of seconds", where)
    try:
        tr = float(tr)
    except ValueError:
        raise MindpainError(f"RepetitionTime {tr!r} is not a number of seconds", where) from None
    if not np.isfinite(tr) or tr <= 0:
        raise MindpainError(f"RepetitionTime {tr!r} must be a positive number of seconds", where)
    if tr >= TR_MAX_SECONDS:
        raise MindpainError(f"RepetitionTime {tr:g} looks like milliseconds; BIDS expects "
                            f"seconds (e.g. {tr / 1000:g})", where)
    if header is not None and abs(header - tr) > TR_TOLERANCE_S:
        raise MindpainError(f"RepetitionTime {tr:g} s in the JSON sidecar disagrees with "
                            f"{header:g} s in the NIfTI header; fix the one that is wrong",
                            where)
    return tr


def load_run_events(path, run_length: float | None = None,
                    trial_types=TRIAL_TYPES) -> pd.DataFrame:
    """Read and check one run's events for the GLM (onset, duration, trial_type).

    Parameters
    ----------
    path : path-like
        ``*_events.tsv``.
    run_length : float, optional
        Length of the run in seconds (volumes x TR); events ending after it are an error.
    trial_types : sequence of str
        The trial types allowed; ``hot`` and ``warm`` must both occur.

    Returns
    -------
    pandas.DataFrame
        Columns ``onset``, ``duration``, ``trial_type``.
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError("events file missing; expected onset/duration/trial_type TSV", path)
    ev = read_tsv(path, EVENT_COLUMNS, "a BIDS events file")
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
    unknown = sorted(set(types) - set(trial_types))
    if unknown:
        raise MindpainError(f"unknown trial type(s) {', '.join(unknown)}; expected only "
                            f"{', '.join(trial_types)}", path)
    for needed in ("hot", "warm"):
        if needed not in set(types):
            raise MindpainError(f"no {needed!r} events; the hot>warm contrast needs both", path)
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
    from fnmatch import fnmatchcase

    out = []
    for col in columns:
        if any(ch in col for ch in "*?["):
            out += [c for c in available if fnmatchcase(c, col) and c not in out]
        elif col not in out:
            out.append(col)
    return out


def twin_world(bids_dir) -> str | None:
    """Return the world of the simulated twin at ``bids_dir`` from its description.

    ``"realistic"`` or ``"ideal"`` as recorded in ``dataset_description.json``
    (``GeneratedBy[0].Description``, ``world=...``); ``"ideal"`` for a twin made before
    worlds existed; ``None`` for a dataset mindpain did not generate (real data).
    """
    import json

    try:
        made = json.loads((Path(bids_dir) / "dataset_description.json").read_text())
        generated = made["GeneratedBy"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(generated, dict) or generated.get("Name") != "mindpain":
        return None
    match = re.search(r"world=(\w+)", str(generated.get("Description", "")))
    return match.group(1) if match else "ideal"


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
    conf = read_tsv(path, [c for c in columns if c not in patterns],
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
        BIDS dataset folder.

    Returns
    -------
    pandas.DataFrame or None
        One row per participant and session: ``participant_id, session, group`` and the
        planted latent responses ``nociceptive, modulatory, intensity, unpleasantness``
        (the generator's scale; signature scores are read out of the BOLD, not planted).
    """
    path = _check_dir(bids_dir) / TRUTH_TSV
    if not path.is_file():
        return None
    return read_tsv(path, ("participant_id", "session"), "the twin's truth table")


def practice_from_bids(bids_dir) -> tuple[pd.DataFrame, Path]:
    """Read ``phenotype/practice.tsv`` of a BIDS dataset (``n/a`` = missing).

    Returns
    -------
    tuple
        The table and its path (for error messages).
    """
    path = Path(bids_dir) / "phenotype" / "practice.tsv"
    if not path.is_file():
        raise MindpainError("no practice table; expected phenotype/practice.tsv with "
                            "participant_id, lifetime_hours, retreat_hours", path)
    return read_tsv_file(path), path


def participant_flow(participants: pd.DataFrame) -> dict:
    """Count participants for a participant-flow (CONSORT-style) diagram.

    Parameters
    ----------
    participants : pandas.DataFrame
        Table from :func:`load_participants`.

    Returns
    -------
    dict
        ``baseline`` (meditation-naive participants scanned at baseline), ``randomized``,
        ``completed`` and ``baseline_only`` (dicts arm -> count), ``n_completed`` and
        ``n_baseline_only`` (totals over arms) and ``ltm`` (long-term meditators). All
        values are Python ints.

    Examples
    --------
    >>> table = pd.DataFrame({"participant_id": ["sub-1", "sub-2", "sub-3"],
    ...                       "group": ["MBSR", "MBSR", "LTM"],
    ...                       "completed_post": [True, False, False]})
    >>> flow = participant_flow(table)
    >>> flow["baseline"], flow["completed"]["MBSR"], flow["ltm"]
    (2, 1, 1)
    """
    _check_columns(participants, ("group", "completed_post"), "the participants table")
    naive = participants[participants["group"].isin(ARMS)]
    done = naive["completed_post"].astype(bool)
    randomized = {a: int((naive["group"] == a).sum()) for a in ARMS}
    completed = {a: int(((naive["group"] == a) & done).sum()) for a in ARMS}
    baseline_only = {a: randomized[a] - completed[a] for a in ARMS}
    return {"baseline": len(naive), "randomized": randomized, "completed": completed,
            "baseline_only": baseline_only, "n_completed": sum(completed.values()),
            "n_baseline_only": sum(baseline_only.values()),
            "ltm": int((participants["group"] == "LTM").sum())}


def demographics_table(participants: pd.DataFrame, formatted: bool = True) -> pd.DataFrame:
    """Sample size, age, sex and completion per group (and all naive participants).

    Parameters
    ----------
    participants : pandas.DataFrame
        Table from :func:`load_participants`; ``age`` and ``sex`` are optional (their
        cells are then empty).
    formatted : bool
        ``True``: text cells ready to show (``age`` as mean ± SD). ``False``: numbers,
        columns ``n, age_mean, age_sd, female_percent, n_completed_post``.

    Returns
    -------
    pandas.DataFrame
        One row per group present (MBSR, HEP, WL, all naive, LTM). Long-term meditators
        have one session, so their completion cell is empty.

    Examples
    --------
    >>> table = pd.DataFrame({"participant_id": ["sub-1", "sub-2"], "group": ["HEP", "HEP"],
    ...                       "completed_post": [True, False], "age": [40, 50],
    ...                       "sex": ["F", "M"]})
    >>> demographics_table(table, formatted=False).loc["HEP", "female_percent"]
    np.float64(50.0)
    """
    _check_columns(participants, ("group", "completed_post"), "the participants table")
    age = (pd.to_numeric(participants["age"], errors="coerce") if "age" in participants
           else pd.Series(np.nan, index=participants.index))
    if "sex" in participants:
        sex = participants["sex"].astype(str).str.strip().str.upper().str[:1]
        female = sex.where(sex.isin(["F", "M"])).eq("F").where(sex.isin(["F", "M"]))
    else:
        female = pd.Series(np.nan, index=participants.index)
    subsets = {a: participants["group"] == a for a in ARMS}
    subsets["All naive"] = participants["group"].isin(ARMS)
    subsets["LTM"] = participants["group"] == "LTM"
    rows = {}
    for name, sel in subsets.items():
        if not sel.any():
            continue
        post = (int(participants.loc[sel, "completed_post"].astype(bool).sum())
                if name != "LTM" else np.nan)
        rows[name] = {"n": int(sel.sum()), "age_mean": age[sel].mean(),
                      "age_sd": age[sel].std(ddof=1), "female_percent": 100 * female[sel].mean(),
                      "n_completed_post": post}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "group"
    if not formatted:
        return table

    def fmt(value, spec):
        return "" if pd.isna(value) else format(value, spec)

    shown = pd.DataFrame(index=table.index.rename(None))
    shown["N"] = table["n"].astype(int)
    shown["Age, years (mean ± SD)"] = [
        "" if pd.isna(m) else f"{m:.1f} ± {fmt(s, '.1f') or 'n/a'}"
        for m, s in zip(table["age_mean"], table["age_sd"], strict=True)]
    shown["Female, %"] = [fmt(v, ".0f") for v in table["female_percent"]]
    shown["Pre and post scans, n"] = [fmt(v, ".0f") or "one session"
                                      for v in table["n_completed_post"]]
    return shown
