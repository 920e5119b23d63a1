"""A dataset map: how a study's own names map onto the book's vocabulary.

Thermal-pain studies name their task, conditions, sessions, arms and rating columns in
their own way (a task ``pain``, conditions ``high``/``low``, sessions ``1``/``2``, arms in
lower case, ratings in columns of their own). A small TOML file, :data:`MAP_FILE`, beside
the dataset (or passed with ``--dataset-map`` / ``MINDPAIN_DATASET_MAP``) declares them; the
readers of :mod:`mindpain.bids` translate on read, so everything downstream sees only the
book's names (:mod:`mindpain.core.vocabulary`): task ``heat``, trial types ``hot``, ``warm``
and ``rating``, sessions ``pre`` and ``post``, groups ``MBSR``, ``HEP``, ``WL`` and ``LTM``,
ratings ``intensity_rating`` and ``unpleasantness_rating``, practice hours
``lifetime_hours`` and ``retreat_hours``. The first level writes its outputs under the
book's names too. A dataset without a map is read with the book's own names (the twin
writes its map all the same, so the default path goes through this module).

An example, for a study laid out as it came out of the scanner::

    task = "pain"

    [conditions]            # events.tsv trial_type values
    hot = ["high"]
    warm = ["low"]
    rating = ["rate"]       # optional: the rating periods (modelled, not contrasted)

    [sessions]              # BIDS session labels
    pre = "1"
    post = "2"

    [groups]                # values of participants.tsv's group column
    column = "arm"          # optional (default: group)
    MBSR = "mbsr"
    HEP = "hep"
    WL = "wl"
    LTM = "ltm"             # optional: the long-term meditators

    [ratings]               # optional: events.tsv columns of each trial's ratings
    intensity = "pain_intensity"
    unpleasantness = "pain_unpleasantness"

    [practice]              # optional: the meditators' practice hours
    file = "phenotype/meditation.tsv"
    lifetime_hours = "hours_total"
    retreat_hours = "hours_retreat"

Every key is checked on read: a missing required key or an unknown one is a one-line error
naming the file and the key (:class:`~mindpain.core.errors.MindpainError`, exit status 2 from
the command line), and so are a session or condition that the data do not hold
(:func:`check_sessions`, :func:`check_conditions`).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import ARMS, SESSIONS, TASK, TRIAL_TYPES

#: File name of a dataset map beside a dataset (its root folder).
MAP_FILE = "mindpain-map.toml"
#: Events columns holding each trial's ratings, in the book's names (rating -> column).
BOOK_RATINGS = {"intensity": "intensity_rating", "unpleasantness": "unpleasantness_rating"}
#: Practice table in the book's layout, and its hour columns.
BOOK_PRACTICE = {"file": "phenotype/practice.tsv", "lifetime_hours": "lifetime_hours",
                 "retreat_hours": "retreat_hours"}
#: The meditators' group.
MEDITATORS = "LTM"

#: Keys of a map file, per section: ``True`` when required.
_KEYS = {
    "": {"task": True, "conditions": True, "sessions": True, "groups": True,
         "ratings": False, "practice": False, "version": False},
    "conditions": {"hot": True, "warm": True, "rating": False},
    "sessions": {s: True for s in SESSIONS},
    "groups": {**{a: True for a in ARMS}, MEDITATORS: False, "column": False},
    "ratings": {k: False for k in BOOK_RATINGS},
    "practice": {k: False for k in BOOK_PRACTICE},
}


def _labels(values) -> tuple:
    return tuple(str(v) for v in (values if isinstance(values, list) else [values]))


@dataclass(frozen=True)
class DatasetMap:
    """How one dataset's names map onto the book's (the book's own names by default).

    Attributes
    ----------
    task : str
        BIDS task label of the thermal runs.
    conditions : dict
        Book trial type (``hot``, ``warm``, ``rating``) -> the dataset's ``trial_type``
        values read as it.
    sessions : dict
        Book session (``pre``, ``post``) -> the dataset's BIDS session label.
    groups : dict
        Book group (``MBSR``, ``HEP``, ``WL``, ``LTM``) -> the dataset's value.
    group_column : str
        Column of ``participants.tsv`` holding the groups.
    ratings : dict
        Book rating (``intensity``, ``unpleasantness``) -> the events column holding it.
    practice : dict
        ``file`` (relative to the dataset), ``lifetime_hours`` and ``retreat_hours``
        (its columns).
    source : pathlib.Path or None
        The map file read (``None``: the book's own names).
    """

    task: str = TASK
    conditions: dict = field(default_factory=lambda: {t: (t,) for t in TRIAL_TYPES})
    sessions: dict = field(default_factory=lambda: {s: s for s in SESSIONS})
    groups: dict = field(default_factory=lambda: {g: g for g in (*ARMS, MEDITATORS)})
    group_column: str = "group"
    ratings: dict = field(default_factory=lambda: dict(BOOK_RATINGS))
    practice: dict = field(default_factory=lambda: dict(BOOK_PRACTICE))
    source: Path | None = None

    def __hash__(self) -> int:
        """Hash of the map's text form (the dicts are not hashable)."""
        return hash(self.to_toml())

    @property
    def is_book(self) -> bool:
        """Whether every name is the book's own (nothing to translate)."""
        return self.to_toml() == DatasetMap().to_toml()

    @property
    def where(self) -> str:
        """Name of the map for messages."""
        return str(self.source) if self.source is not None else "the book's own names"

    def trial_types(self) -> dict:
        """Return the dataset's ``trial_type`` values -> the book's."""
        return {user: book for book, values in self.conditions.items() for user in values}

    def book_session(self, label: str | None) -> str | None:
        """Return the book's session of a BIDS session label (others kept as they are)."""
        back = {user: book for book, user in self.sessions.items()}
        return back.get(label, label) if label is not None else None

    def book_group(self) -> dict:
        """Return the dataset's group values -> the book's."""
        return {str(user): book for book, user in self.groups.items()}

    def rating_columns(self) -> dict:
        """Return the dataset's events columns -> the book's rating columns."""
        return {self.ratings[k]: BOOK_RATINGS[k] for k in BOOK_RATINGS if k in self.ratings}

    def practice_columns(self) -> dict:
        """Return the practice table's hour columns -> the book's."""
        return {self.practice[k]: k for k in BOOK_PRACTICE if k != "file"}

    def to_toml(self) -> str:
        """Return the map as a file (:data:`MAP_FILE`), every value stated."""
        def q(v):
            return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

        lines = ["# How this dataset's names map onto the book's (mindpain.bids.datamap)",
                 f"task = {q(self.task)}", "", "[conditions]"]
        lines += [f"{k} = [{', '.join(q(v) for v in vals)}]"
                  for k, vals in self.conditions.items()]
        lines += ["", "[sessions]"] + [f"{k} = {q(v)}" for k, v in self.sessions.items()]
        lines += ["", "[groups]", f"column = {q(self.group_column)}"]
        lines += [f"{k} = {q(v)}" for k, v in self.groups.items()]
        lines += ["", "[ratings]"] + [f"{k} = {q(v)}" for k, v in self.ratings.items()]
        lines += ["", "[practice]"] + [f"{k} = {q(v)}" for k, v in self.practice.items()]
        return "\n".join(lines) + "\n"


def _check_keys(raw: dict, section: str, path: Path) -> None:
    allowed = _KEYS[section]
    prefix = f"{section}." if section else ""
    for key in raw:
        if key not in allowed:
            raise MindpainError(f"unknown key {prefix}{key}; expected one of "
                                f"{', '.join(allowed)}", path)
    for key, required in allowed.items():
        if required and key not in raw:
            raise MindpainError(f"missing key {prefix}{key}", path)
    for key, value in raw.items():
        sub = f"{prefix}{key}"
        if key in _KEYS and key != "" and section == "":
            if not isinstance(value, dict):
                raise MindpainError(f"{sub} must be a table ([{key}])", path)
            _check_keys(value, key, path)
        elif isinstance(value, list):
            if not value or not all(isinstance(v, (str, int)) for v in value):
                raise MindpainError(f"{sub} must be a label or a non-empty list of labels",
                                    path)
        elif key == "version":
            if value != 1:
                raise MindpainError(f"version {value!r} is not known; expected 1", path)
        elif not isinstance(value, (str, int)) or str(value).strip() == "":
            raise MindpainError(f"{sub} must be a non-empty label", path)


def read_map(path) -> DatasetMap:
    r"""Read and check a dataset map file.

    Parameters
    ----------
    path : path-like
        The TOML file (:data:`MAP_FILE` or any name).

    Returns
    -------
    mindpain.bids.datamap.DatasetMap

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the file is missing or not TOML, a required key is missing, a key is unknown, a
        value is not a label, or two book names are given the same label.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "mindpain-map.toml"
    >>> _ = p.write_text('task = "pain"\n[conditions]\nhot = ["high"]\nwarm = "low"\n'
    ...                  '[sessions]\npre = "1"\npost = "2"\n'
    ...                  '[groups]\nMBSR = "mbsr"\nHEP = "hep"\nWL = "wl"\n')
    >>> m = read_map(p)
    >>> m.trial_types(), m.book_session("2"), m.book_group()["hep"]
    ({'high': 'hot', 'low': 'warm'}, 'post', 'HEP')
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError("dataset map not found; expected a TOML file (see "
                            "mindpain.bids.datamap)", path)
    try:
        raw = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise MindpainError(f"not a TOML file ({err})", path) from None
    _check_keys(raw, "", path)
    conditions = {k: _labels(v) for k, v in raw["conditions"].items()}
    seen: dict = {}
    for book, values in conditions.items():
        for v in values:
            if seen.setdefault(v, book) != book:
                raise MindpainError(f"trial_type {v!r} is given to both conditions.{seen[v]} "
                                    f"and conditions.{book}", path)
    sessions = {k: str(v) for k, v in raw["sessions"].items()}
    if len(set(sessions.values())) < len(sessions):
        raise MindpainError("sessions.pre and sessions.post name the same session", path)
    groups = {k: str(v) for k, v in raw["groups"].items() if k != "column"}
    if len(set(groups.values())) < len(groups):
        raise MindpainError("two groups are given the same value in [groups]", path)
    practice = {**BOOK_PRACTICE, **{k: str(v) for k, v in raw.get("practice", {}).items()}}
    return DatasetMap(task=str(raw["task"]), conditions=conditions, sessions=sessions,
                      groups=groups, group_column=str(raw["groups"].get("column", "group")),
                      ratings={**BOOK_RATINGS,
                               **{k: str(v) for k, v in raw.get("ratings", {}).items()}},
                      practice=practice, source=path)


def resolve_map(bids_dir, dataset_map=None) -> DatasetMap:
    """Return the dataset map that applies to ``bids_dir``.

    ``dataset_map``: a :class:`DatasetMap`, or the path of a map file (a flag or setting);
    ``None``: the :data:`MAP_FILE` beside the dataset when there is one, else the book's
    own names.
    """
    if isinstance(dataset_map, DatasetMap):
        return dataset_map
    if dataset_map is not None:
        return read_map(dataset_map)
    beside = Path(bids_dir) / MAP_FILE
    return read_map(beside) if beside.is_file() else DatasetMap()


def write_map(dataset_map: DatasetMap, path) -> Path:
    """Write ``dataset_map`` to ``path`` atomically (the twin writes its own)."""
    from mindpain.core.io import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(dataset_map.to_toml())
    return path


def check_sessions(dataset_map: DatasetMap, present, where) -> None:
    """Refuse a map whose before/after sessions are not among the ``present`` labels.

    ``present``: the BIDS session labels found in the dataset (``None`` for runs without a
    session folder); ``where``: the dataset folder, for the message.
    """
    present = sorted({p for p in present if p is not None})
    for book, label in dataset_map.sessions.items():
        if label not in present:
            found = ", ".join(f"ses-{p}" for p in present) or "no session folders"
            raise MindpainError(f"{dataset_map.where}: sessions.{book} = {label!r} is not a "
                                f"session of this dataset (found: {found})", where)


def check_conditions(dataset_map: DatasetMap, trial_types, events_path) -> None:
    """Refuse a map whose hot or warm condition matches no ``trial_type`` of a run.

    ``trial_types``: the values in one run's events file (``events_path``).
    """
    present = sorted({str(t) for t in trial_types})
    for book in ("hot", "warm"):
        wanted = dataset_map.conditions.get(book, ())
        if not set(wanted) & set(present):
            raise MindpainError(f"{dataset_map.where}: conditions.{book} = {list(wanted)} "
                                f"matches no trial_type of this run (found: "
                                f"{', '.join(present)})", events_path)
