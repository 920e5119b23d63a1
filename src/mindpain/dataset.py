"""Load a BIDS dataset of the heat task: the simulated twin or a user's own data.

Every function takes the dataset folder (or a table a loader returned) and works the same
on the twin and on real data with the same layout::

    participants.tsv                      participant_id, group [, cohort, completed_post, age, sex]
    phenotype/practice.tsv                optional: participant_id, lifetime_hours, retreat_hours
    sub-<id>/ses-<pre|post>/func/sub-<id>_ses-<s>_task-heat_run-<n>_bold.nii.gz
    sub-<id>/ses-<pre|post>/func/sub-<id>_ses-<s>_task-heat_run-<n>_events.tsv
    derivatives/twin-truth/truth.tsv      twin only: the planted truth

Inputs are checked once, here: a missing file or column raises
:class:`mindpain.errors.MindpainError` naming the file and what was expected.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.errors import MindpainError

#: Groups of the study, in the order every table and figure uses.
GROUPS = ("MBSR", "HEP", "WL", "LTM")
#: Randomized arms (meditation-naive participants).
ARMS = ("MBSR", "HEP", "WL")
#: Session labels, in time order.
SESSIONS = ("pre", "post")
#: BIDS task label of the heat paradigm.
TASK = "heat"
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
        data = json.loads(path.read_text())
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


def _read_tsv(path: Path, required, what: str) -> pd.DataFrame:
    """Read a BIDS TSV (``n/a`` = missing) and check it has the ``required`` columns."""
    if not path.is_file():
        raise MindpainError(f"file not found; expected {what} with columns "
                            f"{', '.join(required)}", path)
    try:
        table = pd.read_csv(path, sep="\t", na_values=_NA, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
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
    table = _read_tsv(path, PARTICIPANT_COLUMNS, "a participants table")
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
        hours = _read_tsv(practice, ("participant_id", "lifetime_hours", "retreat_hours"),
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
        events = _read_tsv(rec.events_path, EVENT_COLUMNS, "a BIDS events file")
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


def load_bold(bold_path):
    """Load one 4D BOLD run into memory (float32), so it is read from disk once.

    Parameters
    ----------
    bold_path : str or path-like
        A ``*_bold.nii[.gz]`` file.

    Returns
    -------
    nibabel.Nifti1Image
        The run, with its data held in memory.

    Raises
    ------
    mindpain.errors.MindpainError
        If the file is missing or not a 4D image.
    """
    import nibabel as nib

    path = Path(bold_path)
    if not path.is_file():
        raise MindpainError("file not found; expected a 4D BOLD NIfTI image", path)
    img = nib.load(path)
    if img.ndim != 4:
        raise MindpainError(f"image is {img.ndim}D with shape {img.shape}; expected a 4D BOLD "
                            "run", path)
    data = np.asarray(img.dataobj, dtype=np.float32)
    out = nib.Nifti1Image(data, img.affine, img.header)
    out.header.set_data_dtype(np.float32)
    return out


def repetition_time(bids_dir, bold_path=None, task: str = TASK) -> float:
    """Return the repetition time (s) of the task's BOLD runs.

    Looks at the JSON sidecars by BIDS inheritance (:func:`sidecar_chain`; without
    ``bold_path``, the dataset-level ``task-<task>_bold.json``), and finally at the NIfTI
    header of ``bold_path``.

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder.
    bold_path : str or path-like, optional
        A run whose own sidecar and header are checked.
    task : str
        BIDS task label.

    Returns
    -------
    float
        Repetition time in seconds.
    """
    root = _check_dir(bids_dir)
    if bold_path is not None:
        chain = sidecar_chain(root, bold_path)
    else:
        chain = [root / f"task-{task}_bold.json"]
    meta = {}
    for sidecar in chain:
        if sidecar.is_file():
            meta.update(read_sidecar(sidecar))
    if meta.get("RepetitionTime") is not None:
        return float(meta["RepetitionTime"])
    if bold_path is not None:
        import nibabel as nib

        zooms = nib.load(bold_path).header.get_zooms()
        if len(zooms) > 3 and zooms[3] > 0:
            return float(zooms[3])
    raise MindpainError(f"no RepetitionTime found; expected it in task-{task}_bold.json",
                        root)


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
        planted ``nps, siips1, nps_pos, nps_neg, intensity, unpleasantness``.
    """
    path = _check_dir(bids_dir) / TRUTH_TSV
    if not path.is_file():
        return None
    return _read_tsv(path, ("participant_id", "session"), "the twin's truth table")


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
