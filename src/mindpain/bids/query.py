"""Find what a BIDS dataset holds: its runs, their sidecars and repetition time.

Part of :mod:`mindpain.bids`, the package's one BIDS reader. Runs are listed by
:func:`find_runs` (a :class:`RunSpec` per run, for the first level) and :func:`list_runs`
(the same runs as a table, for the chapters), in one order, :data:`RUN_ORDER`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.bids.datamap import check_sessions, resolve_map
from mindpain.bids.images import header_repetition_time
from mindpain.core.errors import MindpainError
from mindpain.core.io import read_json
from mindpain.core.vocabulary import SESSIONS, TASK

_ENTITY = re.compile(r"(?:^|_)([a-zA-Z0-9]+)-([a-zA-Z0-9]+)")
#: Space of BOLD whose file name has no ``space-`` entity (the twin's raw BOLD is in MNI space).
DEFAULT_SPACE = "MNI152NLin6Asym"
#: The template family the pain signatures are defined in: the NPS and SIIPS1 weights are
#: maps in MNI152 space, so only maps normalised to an MNI152 template can be scored.
MNI_FAMILY = "MNI152"
#: Raw BIDS entities after ``task`` that identify a run, in BIDS order (kept in output names).
RUN_ENTITIES = ("acq", "ce", "rec", "dir", "run", "echo", "part", "chunk")
#: The one order of runs, everywhere in the package (first level, chapters, tables).
RUN_ORDER = ("participant label; then session in the study's order (no session, then "
             f"{', '.join(SESSIONS)}, then other labels alphabetically); then the run's "
             f"entities in BIDS order ({', '.join(RUN_ENTITIES)}), numbers compared as "
             "numbers; then the file path")


def bids_entities(path) -> dict:
    """Return the BIDS entities of a file name (``key-value`` pairs before the suffix).

    Examples
    --------
    >>> bids_entities("sub-01_ses-pre_task-heat_run-1_bold.nii.gz")
    {'sub': '01', 'ses': 'pre', 'task': 'heat', 'run': '1'}
    """
    return dict(_ENTITY.findall(Path(path).name.split(".")[0]))


def space_of(entities: dict) -> str:
    """Return a file's space in fMRIPrep's notation, ``NAME`` or ``NAME:res-R``.

    A file without a ``space-`` entity is in :data:`DEFAULT_SPACE` (the twin's raw BOLD).

    Examples
    --------
    >>> space_of(bids_entities("sub-1_task-heat_space-MNI152NLin2009cAsym_res-2_bold.nii.gz"))
    'MNI152NLin2009cAsym:res-2'
    >>> space_of({"space": "T1w"}), space_of({})
    ('T1w', 'MNI152NLin6Asym')
    """
    name = entities.get("space", DEFAULT_SPACE)
    return f"{name}:res-{entities['res']}" if "res" in entities else name


def is_mni_space(space: str) -> bool:
    """Whether ``space`` (``NAME`` or ``NAME:res-R``) is an MNI152 template space.

    Examples
    --------
    >>> is_mni_space("MNI152NLin2009cAsym:res-2"), is_mni_space("T1w"), is_mni_space("fsnative")
    (True, False, False)
    """
    return space.split(":")[0].startswith(MNI_FAMILY)


def space_entities(space: str) -> str:
    """Return the entities that name ``space`` in a file name: ``space-NAME[_res-R]``.

    Examples
    --------
    >>> space_entities("MNI152NLin2009cAsym:res-2"), space_entities("MNI152NLin6Asym")
    ('space-MNI152NLin2009cAsym_res-2', 'space-MNI152NLin6Asym')
    """
    name, _, res = space.partition(":")
    return f"space-{name}" + (f"_{res}" if res else "")


def select_space(present, wanted: str | None = None, where=None) -> str:
    """Choose one of the spaces ``present``: ``wanted``, else the first MNI152 space.

    Parameters
    ----------
    present : iterable of str
        The spaces found (:func:`space_of`).
    wanted : str, optional
        ``NAME`` (matches ``NAME`` and ``NAME:res-R``) or ``NAME:res-R``; ``None``: the first
        MNI152 space in sorted order (the signatures are defined in MNI152 space).
    where : path-like, optional
        The folder named in an error.

    Raises
    ------
    mindpain.core.errors.MindpainError
        ``wanted`` is not present, or matches several resolutions; or, without ``wanted``,
        no MNI152 space is present.

    Examples
    --------
    >>> select_space(["T1w", "MNI152NLin2009cAsym:res-2"])
    'MNI152NLin2009cAsym:res-2'
    >>> select_space(["T1w", "MNI152NLin2009cAsym:res-2"], "T1w")
    'T1w'
    """
    present = sorted(set(present))
    listed = ", ".join(present)
    if wanted is None:
        mni = [s for s in present if is_mni_space(s)]
        if not mni:
            raise MindpainError(f"no {MNI_FAMILY} space among the spaces found ({listed}); the "
                                f"signatures are defined in {MNI_FAMILY} space: run fMRIPrep "
                                "with --output-spaces MNI152NLin2009cAsym, or pass --space to "
                                "choose another space explicitly", where)
        return mni[0]
    match = [s for s in present if s == wanted or s.split(":")[0] == wanted]
    if not match:
        raise MindpainError(f"no file in space {wanted!r}; spaces found: {listed}", where)
    if len(match) > 1:
        raise MindpainError(f"space {wanted!r} is there at several resolutions "
                            f"({', '.join(match)}); pass one of them to --space", where)
    return match[0]


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
        raise MindpainError(f"unreadable JSON ({err}); expected a JSON object, e.g. "
                            '{"RepetitionTime": 2.0}', path) from None
    if not isinstance(data, dict):
        raise MindpainError("JSON sidecar is not an object", path)
    return data


def check_dir(bids_dir) -> Path:
    """Return ``bids_dir`` as a path; raise a one-line error when it is not a folder."""
    path = Path(bids_dir)
    if not path.is_dir():
        raise MindpainError("not a folder; expected a BIDS dataset folder with participants.tsv",
                            path)
    return path




def check_dataset_description(bids_dir) -> dict:
    """Read a dataset's ``dataset_description.json`` and check it as BIDS requires.

    BIDS requires a JSON object with ``Name`` (a non-empty string) and ``BIDSVersion`` (a
    string); ``DatasetType``, when given, is ``raw`` or ``derivative``.

    Parameters
    ----------
    bids_dir : path-like
        The dataset folder.

    Returns
    -------
    dict
        The description.

    Raises
    ------
    mindpain.core.errors.MindpainError
        Missing, not JSON, not an object, or a required field missing or of the wrong type,
        naming the file.
    """
    path = Path(bids_dir) / "dataset_description.json"
    if not path.is_file():
        raise MindpainError("not a BIDS dataset (no dataset_description.json)", bids_dir)
    try:
        desc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        why = " ".join(str(err).split())[:120] or "empty file"
        raise MindpainError(f"cannot be read as JSON ({why}); BIDS requires an object with "
                            "Name and BIDSVersion, e.g. {\"Name\": \"my study\", "
                            "\"BIDSVersion\": \"1.10.0\"}", path) from None
    if not isinstance(desc, dict):
        raise MindpainError(f"holds a JSON {type(desc).__name__}; BIDS requires an object with "
                            "Name and BIDSVersion", path)
    bad = [k for k in ("Name", "BIDSVersion")
           if not isinstance(desc.get(k), str) or not desc[k].strip()]
    if bad:
        raise MindpainError(f"has no valid {' or '.join(bad)} (a non-empty string); BIDS "
                            "requires both, e.g. {\"Name\": \"my study\", \"BIDSVersion\": "
                            "\"1.10.0\"}", path)
    if desc.get("DatasetType", "raw") not in ("raw", "derivative"):
        raise MindpainError(f"has DatasetType {desc['DatasetType']!r}; BIDS allows 'raw' or "
                            "'derivative'", path)
    return desc


def name_prefix(subject, session=None, task: str = TASK) -> str:
    """``sub-X[_ses-Y]_task-heat``: the start of every file name of a run or session.

    Examples
    --------
    >>> name_prefix("001", "pre")
    'sub-001_ses-pre_task-heat'
    """
    return "_".join([f"sub-{subject}"] + ([f"ses-{session}"] if session else [])
                    + [f"task-{task}"])


@dataclass(frozen=True)
class RunSpec:
    """The input files of one run.

    ``session`` is the book's session (``pre``/``post``, translated by the dataset map,
    :mod:`mindpain.bids.datamap`); ``trial_types`` holds ``(dataset value, book trial type)``
    pairs for reading its events (empty: the book's own names).
    """

    subject: str
    session: str | None
    run: int | None
    bold: Path
    events: Path
    bids_dir: Path
    space: str = DEFAULT_SPACE
    confounds: Path | None = None
    entities: tuple = ()
    trial_types: tuple = ()

    @property
    def session_key(self) -> tuple:
        """``(subject, session)``."""
        return (self.subject, self.session)

    @property
    def label(self) -> str:
        """The run's name: ``sub-X[_ses-Y]_task-heat`` and every other raw entity."""
        ents = self.entities or ((("run", str(self.run)),) if self.run is not None else ())
        return "_".join([name_prefix(self.subject, self.session)]
                        + [f"{k}-{v}" for k, v in ents])

    @property
    def order(self) -> tuple:
        """Sort key of :data:`RUN_ORDER`."""
        rank = {s: i for i, s in enumerate(SESSIONS)}
        session = (-1, "") if self.session is None else (rank.get(self.session, len(rank)),
                                                          self.session)
        ents = tuple((k, (0, int(v), "") if v.isdigit() else (1, 0, v))
                     for k, v in self.entities)
        return (self.subject, session, ents, str(self.bold))


def find_runs(bids_dir, fmriprep=None, participant_label=None, confounds_dir=None,
              task: str | None = None, space: str | None = None,
              dataset_map=None) -> list[RunSpec]:
    """List the runs of ``task`` in a BIDS dataset: the package's one run finder.

    Parameters
    ----------
    bids_dir : path-like
        Raw BIDS dataset (events, sidecars; BOLD too unless ``fmriprep``).
    fmriprep : path-like, optional
        fMRIPrep derivatives: BOLD (``*_space-*_desc-preproc_bold.nii.gz``) and confounds.
    participant_label : list of str, optional
        Subjects to keep (``"001"`` or ``"sub-001"``).
    confounds_dir : path-like, optional
        A derivatives folder holding only ``*_desc-confounds_timeseries.tsv`` tables, laid out
        like the raw dataset (the twin's ``derivatives/twin-confounds``), for BOLD taken from
        the raw dataset. Ignored with ``fmriprep`` (its confounds sit beside its BOLD).
    task : str, optional
        BIDS task label (default: the dataset map's, ``heat`` without a map).
    space : str, optional
        The space whose runs are listed (:func:`select_space`: ``NAME`` or ``NAME:res-R``);
        default: the first MNI152 space present. fMRIPrep writes one BOLD per output space;
        only one space is ever fitted.
    dataset_map : mindpain.bids.datamap.DatasetMap or path-like, optional
        How the dataset's names map onto the book's (:func:`mindpain.bids.datamap.resolve_map`:
        default the map file beside the dataset, else the book's names). Each run's session
        is the book's; a map (other than the book's own names) whose sessions are not
        ``ses-`` folders of the dataset is refused.

    Returns
    -------
    list of RunSpec
        In :data:`RUN_ORDER`: by subject, session (pre before post), then run; all in one
        space (:attr:`RunSpec.space`).

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the folder is not a BIDS dataset, a participant label has no folder, no run is
        found, no space can be chosen (:func:`select_space`), or two BOLD files would write
        the same outputs.
    """
    bids_dir = Path(bids_dir)
    check_dataset_description(bids_dir)
    return _scan_runs(bids_dir, fmriprep, participant_label, confounds_dir, task, space,
                      dataset_map)


def _scan_runs(bids_dir: Path, fmriprep, participant_label, confounds_dir,
               task: str | None, space: str | None = None,
               dataset_map=None) -> list[RunSpec]:
    names = resolve_map(bids_dir, dataset_map)
    task = names.task if task is None else task
    renamed = () if names.is_book else tuple(names.trial_types().items())
    keep = None if not participant_label else {p.removeprefix("sub-") for p in participant_label}
    if keep is not None:
        absent = sorted(k for k in keep if not (bids_dir / f"sub-{k}").is_dir())
        if absent:
            raise MindpainError(f"no subject folder for participant label(s) "
                                f"{', '.join(absent)}; expected sub-<label>/ folders", bids_dir)
    specs = []
    if fmriprep is None:
        pattern, root = f"sub-*/**/func/*_task-{task}*_bold.nii*", bids_dir
    else:
        root = Path(fmriprep)
        if not root.is_dir():
            raise MindpainError("fMRIPrep folder not found", root)
        pattern = f"sub-*/**/func/*_task-{task}*_space-*_desc-preproc_bold.nii*"
    for bold in root.glob(pattern):
        ent = bids_entities(bold.name)
        if ent.get("task") != task or "sub" not in ent or (
                keep is not None and ent["sub"] not in keep):
            continue
        run_ents = tuple((k, ent[k]) for k in RUN_ENTITIES if k in ent)
        stem = "_".join(f"{k}-{ent[k]}" for k in ("sub", "ses", "task") if k in ent)
        stem = "_".join([stem] + [f"{k}-{v}" for k, v in run_ents if k != "echo"])
        rel = Path(f"sub-{ent['sub']}") / (f"ses-{ent['ses']}" if "ses" in ent else "") / "func"
        confounds = None
        if fmriprep is not None:
            confounds = bold.parent / f"{stem}_desc-confounds_timeseries.tsv"
        elif confounds_dir is not None:
            confounds = Path(confounds_dir) / rel / f"{stem}_desc-confounds_timeseries.tsv"
        run = int(ent["run"]) if ent.get("run", "").isdigit() else None
        specs.append(RunSpec(subject=ent["sub"], session=names.book_session(ent.get("ses")),
                             run=run, bold=bold,
                             events=bids_dir / rel / f"{stem}_events.tsv", bids_dir=bids_dir,
                             space=space_of(ent), confounds=confounds,
                             entities=run_ents, trial_types=renamed))
    if not specs:
        expected = (f"sub-*/ses-*/func/sub-*_ses-*_task-{task}_run-*_bold.nii.gz"
                    if fmriprep is None else
                    f"sub-*/ses-*/func/*_task-{task}_*_space-*_desc-preproc_bold.nii.gz")
        raise MindpainError(f"no task-{task} BOLD runs found; expected files {expected}", root)
    if not names.is_book:
        # against the dataset's session folders (a subset of runs may hold one session)
        check_sessions(names, (p.name.removeprefix("ses-") for p in bids_dir.glob("sub-*/ses-*")
                               if p.is_dir()), bids_dir)
    chosen = select_space((s.space for s in specs), space, root)
    specs = [s for s in specs if s.space == chosen]
    specs.sort(key=lambda s: s.order)
    seen = {}
    for spec in specs:
        other = seen.setdefault((spec.label, spec.space), spec.bold)
        if other != spec.bold:
            raise MindpainError(f"and {other.name} would write the same outputs ({spec.label}, "
                                f"space {spec.space}); keep one of them or select subjects "
                                "with --participant-label", spec.bold)
    return specs


def list_runs(bids_dir, task: str | None = None, dataset_map=None) -> pd.DataFrame:
    """List the BOLD runs of ``task`` with their events files, as a table.

    The runs of :func:`find_runs` that belong to a session (the chapters compare sessions),
    in the same order (:data:`RUN_ORDER`).

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder.
    task : str, optional
        BIDS task label (default: the dataset map's).
    dataset_map : mindpain.bids.datamap.DatasetMap or path-like, optional
        As in :func:`find_runs`; ``session`` is the book's.

    Returns
    -------
    pandas.DataFrame
        One row per run: ``participant_id, session, run, bold_path, events_path``
        (``events_path`` is ``None`` when the run has no events file; ``run`` is 1 for a
        file without a run number).

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        runs = list_runs(twin_dir)
        runs.columns.tolist()
        # ['participant_id', 'session', 'run', 'bold_path', 'events_path']
    """
    root = check_dir(bids_dir)
    specs = [s for s in _scan_runs(root, None, None, None, task, dataset_map=dataset_map)
             if s.session is not None]
    if not specs:
        raise MindpainError("no BOLD runs found in a session; expected files "
                            "sub-*/ses-*/func/sub-*_ses-*_task-<task>_run-*_bold.nii.gz", root)
    rows = [{"participant_id": f"sub-{s.subject}", "session": s.session,
             "run": 1 if s.run is None else s.run, "bold_path": s.bold,
             "events_path": s.events if s.events.is_file() else None} for s in specs]
    return pd.DataFrame(rows, columns=["participant_id", "session", "run", "bold_path",
                                       "events_path"])


def bold_sidecars(spec: RunSpec) -> list[Path]:
    """Return the JSON sidecars that apply to a run's BOLD, least specific first.

    The raw dataset's inheritance chain (:func:`sidecar_chain`) for the run, then (for
    fMRIPrep BOLD) the sidecar beside the preprocessed file.
    """
    raw_like = spec.bids_dir / f"sub-{spec.subject}" / (
        f"ses-{spec.session}" if spec.session else "") / "func" / spec.bold.name
    found = sidecar_chain(spec.bids_dir, raw_like)
    beside = sidecar_path(spec.bold)
    if beside.is_file() and beside not in found:
        found.append(beside)
    return found


def sidecar_path(path) -> Path:
    """Return the JSON sidecar path of a ``.nii.gz`` or ``.tsv`` file (same name, ``.json``)."""
    path = Path(path)
    name = path.name
    for ext in (".nii.gz", ".tsv"):
        if name.endswith(ext):
            return path.with_name(name[: -len(ext)] + ".json")
    return path.with_suffix(".json")


#: A ``RepetitionTime`` at or above this many seconds is taken for milliseconds.
TR_MAX_SECONDS = 100.0
#: Sidecar and header repetition times agree when within this many seconds.
TR_TOLERANCE_S = 1e-3


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
    root = check_dir(bids_dir)
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


def run_repetition_time(spec: RunSpec) -> float:
    """Return a run's ``RepetitionTime`` by the package's one rule (:func:`repetition_time`).

    The sidecars of :func:`bold_sidecars` (the deepest wins) must give it in seconds, and it
    must agree with the NIfTI header.
    """
    return repetition_time(spec.bids_dir, spec.bold, sidecars=bold_sidecars(spec))


def twin_world(bids_dir) -> str | None:
    """Return the world of the simulated twin at ``bids_dir`` from its description.

    ``"realistic"`` or ``"ideal"`` as recorded in ``dataset_description.json``
    (``GeneratedBy[0].Description``, ``world=...``); ``"ideal"`` for a twin made before
    worlds existed; ``None`` for a dataset mindpain did not generate (real data).
    """
    try:
        made = json.loads((Path(bids_dir) / "dataset_description.json").read_text())
        generated = made["GeneratedBy"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    if not isinstance(generated, dict) or generated.get("Name") != "mindpain":
        return None
    match = re.search(r"world=(\w+)", str(generated.get("Description", "")))
    return match.group(1) if match else "ideal"
