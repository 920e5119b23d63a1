"""First level: hot>warm contrast maps per run and per session, from a BIDS dataset.

Every run is fitted with nilearn's single-run GLM (:mod:`mindpain.glm` runs the steps of
:class:`~nilearn.glm.first_level.FirstLevelModel` with its AR(1) step vectorised; the maps
are byte for byte ``FirstLevelModel``'s): canonical Glover HRF, cosine drift with a
1/128 Hz high-pass, AR(1) noise, voxel-wise mean scaling so effects are in percent signal
change. Three contrasts are estimated:
``hotVsWarm`` (``hot - warm``), ``hot`` and ``warm`` (each against the implicit baseline).
The runs of a session are combined by fixed effects (nilearn
:func:`~nilearn.glm.compute_fixed_effects`, equal weights) within the voxels every run's
mask covers.

Inputs
    Raw BIDS (``sub-*/ses-*/func/*_task-heat_run-*_bold.nii.gz`` with ``*_events.tsv``), or,
    with ``fmriprep``, BOLD from ``*_space-*_desc-preproc_bold.nii.gz`` in the fMRIPrep folder
    and events from the raw BIDS. ``RepetitionTime`` comes from the JSON sidecars by BIDS
    inheritance (``task-heat_bold.json`` at the top, down to the one beside the file).
Confounds
    With fMRIPrep, :data:`DEFAULT_CONFOUNDS` from ``*_desc-confounds_timeseries.tsv``: the six
    rigid-body motion parameters and framewise displacement (a conservative set that does
    not depend on fMRIPrep's CompCor settings), read and checked by
    :func:`mindpain.dataset.load_confounds` (the ``n/a`` first row of derivative columns is
    set to 0; any other ``n/a``, text, Inf or absurd value is an error). The twin's raw BOLD
    takes its confounds from ``derivatives/twin-confounds`` (``confounds_dir``; realistic
    world) with :data:`MOTION_CONFOUNDS`: six motion parameters, their derivatives and one
    scrubbing regressor per volume with framewise displacement above 0.5 mm
    (``motion_outlier*``). The ideal-world twin has no confounds and is fitted without.
Checks
    Every input is read by :mod:`mindpain.dataset` (one reader, one TR rule: the sidecar's
    ``RepetitionTime``, which must agree with the NIfTI header). A run whose BOLD has no
    voxel varying in time (all zero, all NaN, constant) is **excluded** with a warning and
    listed under ``ExcludedRuns`` in its session's sidecars; a session with no run left
    fails. Two BOLD files that would write the same outputs are refused.
Space
    The ``space-`` entity of the BOLD file name; when absent (the twin's raw BOLD, already in
    MNI space) :data:`DEFAULT_SPACE`.
Mask
    A given mask image, else nilearn's default (an EPI mask computed per run).
Outputs
    BIDS-derivative names (see :func:`session_map_path`; run outputs carry every entity of
    the BOLD file name, e.g. ``acq-``), a JSON sidecar per output with the model settings,
    the sha256 of every input and of the output itself, ``dataset_description.json`` and the
    ownership marker ``.mindpain.json``. The folder must be new, empty or made by this
    command, and outside the raw dataset (or under its ``derivatives/``). A run's or a
    session's outputs are written as a unit: staged under temporary names, old sidecars
    removed, then renamed into place, so a crash leaves outputs without a valid sidecar
    (recomputed next time), never a valid-looking mix. An output whose inputs and settings
    are unchanged is not recomputed.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain import __version__
from mindpain.dataset import (
    bids_entities,
    constant_bold,
    load_confounds,
    load_participants,
    load_run_events,
    read_sidecar,
    sidecar_chain,
)
from mindpain.dataset import load_bold as _load_bold
from mindpain.dataset import repetition_time as _repetition_time
from mindpain.errors import MindpainError
from mindpain.glm import ImageFit, fit_image
from mindpain.io import (
    check_writable_dir,
    folder_lock,
    os_error_message,
    read_marker,
    sha256,
    stage_file,
    write_json,
    write_marker,
    write_tsv,
    write_unit,
)
from mindpain.vocabulary import FRAMEWISE_DISPLACEMENT, MOTION_CONFOUNDS, MOTION_PARAMETERS, TASK
from mindpain.vocabulary import MAP_CONTRASTS as CONTRASTS
from mindpain.vocabulary import TWIN_CONFOUNDS_DIR as _TWIN_CONFOUNDS_DIR

DEFAULT_SPACE = "MNI152NLin6Asym"
#: Confound columns used from fMRIPrep's ``desc-confounds_timeseries.tsv``.
DEFAULT_CONFOUNDS = (*MOTION_PARAMETERS, FRAMEWISE_DISPLACEMENT)
# MOTION_CONFOUNDS (vocabulary): the set used with the twin's confounds: the six rigid-body
# parameters, their backward differences, and one spike regressor per volume with framewise
# displacement above the outlier threshold (scrubbing; Power et al. 2014).
#: Folder (inside a raw BIDS dataset) where the simulated twin keeps its confounds tables.
TWIN_CONFOUNDS_DIR = Path(_TWIN_CONFOUNDS_DIR)
STATS = ("effect", "variance", "z")
DASK_ENV = "MINDPAIN_DASK_SCHEDULER"
#: Seconds to wait for a Dask scheduler before giving up with a one-line error.
DASK_TIMEOUT_S = 10
#: Raw BIDS entities after ``task`` that identify a run, in BIDS order (kept in output names).
RUN_ENTITIES = ("acq", "ce", "rec", "dir", "run", "echo", "part", "chunk")
#: Kind recorded in the ownership marker of a first-level derivatives folder.
KIND = "first-level"
#: Fewest volumes a run needs for the GLM.
MIN_VOLUMES = 10


@dataclass(frozen=True)
class ModelSettings:
    """Settings of the first-level model (written into every sidecar).

    Attributes
    ----------
    hrf_model, drift_model, high_pass, noise_model, signal_scaling
        Passed to :class:`~nilearn.glm.first_level.FirstLevelModel`.
    smoothing_fwhm : float or None
        Gaussian smoothing (mm) before fitting; ``None`` for none.
    confounds : tuple of str
        Confound columns taken from fMRIPrep's confounds table (ignored without fMRIPrep).
    mask_sha256 : str or None
        Checksum of the mask image, ``None`` for nilearn's default mask.
    """

    hrf_model: str = "glover"
    drift_model: str = "cosine"
    high_pass: float = 1.0 / 128
    noise_model: str = "ar1"
    signal_scaling: int = 0
    smoothing_fwhm: float | None = None
    confounds: tuple = DEFAULT_CONFOUNDS
    mask_sha256: str | None = None

    def as_dict(self) -> dict:
        """Return JSON-ready settings including package versions."""
        import nilearn

        out = asdict(self)
        out["confounds"] = list(self.confounds)
        out["contrasts"] = dict(CONTRASTS)
        out["mindpain_version"] = __version__
        out["nilearn_version"] = nilearn.__version__
        return out


@dataclass(frozen=True)
class RunSpec:
    """The input files of one run."""

    subject: str
    session: str | None
    run: int | None
    bold: Path
    events: Path
    bids_dir: Path
    space: str = DEFAULT_SPACE
    confounds: Path | None = None
    entities: tuple = ()

    @property
    def session_key(self) -> tuple:
        """``(subject, session)``."""
        return (self.subject, self.session)

    @property
    def label(self) -> str:
        """The run's name: ``sub-X[_ses-Y]_task-heat`` and every other raw entity."""
        ents = self.entities or ((("run", str(self.run)),) if self.run is not None else ())
        return "_".join([_prefix(self.subject, self.session)]
                        + [f"{k}-{v}" for k, v in ents])


class ExcludedRun(MindpainError):
    """A run that cannot contribute (no signal); excluded with a warning, not a failure."""


@dataclass
class FirstLevelSummary:
    """What a call of :func:`run_first_level` did.

    Attributes
    ----------
    computed, skipped : list of str
        Output groups (runs as ``sub-X_ses-Y_run-N``, sessions as ``sub-X_ses-Y``) that were
        computed, or left as they were because inputs and settings are unchanged.
    excluded : list of (str, str)
        ``(file, reason)`` of every run left out of its session (e.g. constant BOLD).
    failed : list of (str, str)
        ``(file, reason)`` of every run or session that failed.
    session_maps : dict
        ``(subject, session) -> {contrast: {stat: path}}`` of the session maps present.
    """

    computed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    excluded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    session_maps: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """``True`` when nothing failed."""
        return not self.failed

    def report(self) -> str:
        """Return a text summary, one line per failure."""
        lines = [f"first level: {len(self.computed)} computed, {len(self.skipped)} unchanged, "
                 f"{len(self.excluded)} run(s) excluded, {len(self.failed)} failed"]
        lines += [f"FAILED {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


# --------------------------------------------------------------------------- file names


_entities = bids_entities


def _prefix(subject, session=None) -> str:
    """``sub-X[_ses-Y]_task-heat``: the start of every output name."""
    return "_".join([f"sub-{subject}"] + ([f"ses-{session}"] if session else [])
                    + [f"task-{TASK}"])


def _func_dir(out_dir, subject, session) -> Path:
    out = Path(out_dir) / f"sub-{subject}"
    return (out / f"ses-{session}" if session else out) / "func"


def session_map_path(out_dir, subject, session, contrast="hotVsWarm", stat="effect",
                     space=DEFAULT_SPACE) -> Path:
    """Path of a session (fixed-effects) map.

    Examples
    --------
    >>> session_map_path("d", "001", "pre").name
    'sub-001_ses-pre_task-heat_space-MNI152NLin6Asym_contrast-hotVsWarm_stat-effect_statmap.nii.gz'
    """
    return _func_dir(out_dir, subject, session) / (
        f"{_prefix(subject, session)}_space-{space}_contrast-{contrast}_stat-{stat}_statmap.nii.gz")


def run_map_path(out_dir, spec: RunSpec, contrast: str, stat: str) -> Path:
    """Path of a per-run map (effect or variance) used by the fixed-effects step."""
    return _func_dir(out_dir, spec.subject, spec.session) / (
        f"{spec.label}_space-{spec.space}_contrast-{contrast}_stat-{stat}_statmap.nii.gz")


def design_matrix_path(out_dir, spec: RunSpec) -> Path:
    """Path of a run's design matrix table."""
    return _func_dir(out_dir, spec.subject, spec.session) / f"{spec.label}_desc-design_matrix.tsv"


def session_mask_path(out_dir, subject, session, space=DEFAULT_SPACE) -> Path:
    """Path of the mask of a session's maps (voxels every run covers)."""
    return _func_dir(out_dir, subject, session) / (
        f"{_prefix(subject, session)}_space-{space}_desc-brain_mask.nii.gz")


def _sidecar(path: Path) -> Path:
    name = path.name
    for ext in (".nii.gz", ".tsv"):
        if name.endswith(ext):
            return path.with_name(name[: -len(ext)] + ".json")
    return path.with_suffix(".json")


# --------------------------------------------------------------------------- finding runs


def find_runs(bids_dir, fmriprep=None, participant_label=None,
              confounds_dir=None) -> list[RunSpec]:
    """List the runs of task ``heat`` in a BIDS dataset.

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

    Returns
    -------
    list of RunSpec
        Sorted by subject, session and run.
    """
    bids_dir = Path(bids_dir)
    if not (bids_dir / "dataset_description.json").is_file():
        raise MindpainError("not a BIDS dataset (no dataset_description.json)", bids_dir)
    keep = None if not participant_label else {p.removeprefix("sub-") for p in participant_label}
    if keep is not None:
        absent = sorted(k for k in keep if not (bids_dir / f"sub-{k}").is_dir())
        if absent:
            raise MindpainError(f"no subject folder for participant label(s) "
                                f"{', '.join(absent)}; expected sub-<label>/ folders", bids_dir)
    specs = []
    if fmriprep is None:
        pattern, root = f"sub-*/**/func/*_task-{TASK}*_bold.nii*", bids_dir
    else:
        root = Path(fmriprep)
        if not root.is_dir():
            raise MindpainError("fMRIPrep folder not found", root)
        pattern = f"sub-*/**/func/*_task-{TASK}*_space-*_desc-preproc_bold.nii*"
    for bold in sorted(root.glob(pattern)):
        ent = _entities(bold.name)
        if keep is not None and ent.get("sub") not in keep:
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
        specs.append(RunSpec(subject=ent["sub"], session=ent.get("ses"), run=run, bold=bold,
                             events=bids_dir / rel / f"{stem}_events.tsv", bids_dir=bids_dir,
                             space=ent.get("space", DEFAULT_SPACE), confounds=confounds,
                             entities=run_ents))
    if not specs:
        raise MindpainError(f"no task-{TASK} BOLD runs found", root)
    seen = {}
    for spec in specs:
        other = seen.setdefault((spec.label, spec.space), spec.bold)
        if other != spec.bold:
            raise MindpainError(f"and {other.name} would write the same outputs ({spec.label}, "
                                f"space {spec.space}); keep one of them or select subjects "
                                "with --participant-label", spec.bold)
    return specs


# --------------------------------------------------------------------------- reading inputs


def bold_sidecars(spec: RunSpec) -> list[Path]:
    """Return the JSON sidecars that apply to a run's BOLD, least specific first.

    The raw dataset's inheritance chain (:func:`mindpain.dataset.sidecar_chain`) for the
    run, then (for fMRIPrep BOLD) the sidecar beside the preprocessed file.
    """
    raw_like = spec.bids_dir / f"sub-{spec.subject}" / (
        f"ses-{spec.session}" if spec.session else "") / "func" / spec.bold.name
    found = sidecar_chain(spec.bids_dir, raw_like)
    beside = _sidecar(spec.bold)
    if beside.is_file() and beside not in found:
        found.append(beside)
    return found


def repetition_time(spec: RunSpec) -> float:
    """Return a run's ``RepetitionTime`` by the package's one rule.

    See :func:`mindpain.dataset.repetition_time`: the sidecars of :func:`bold_sidecars` (the
    deepest wins) must give it in seconds, and it must agree with the NIfTI header.
    """
    return _repetition_time(spec.bids_dir, spec.bold, sidecars=bold_sidecars(spec))


_read_json = read_sidecar


def load_bold(path):
    """Load a BOLD series (in memory, float32); it must be 4D with at least 10 volumes."""
    return _load_bold(path, min_volumes=MIN_VOLUMES)


#: A run's events for the GLM (see :func:`mindpain.dataset.load_run_events`).
load_events = load_run_events


# --------------------------------------------------------------------------- fitting


def run_inputs(spec: RunSpec, mask_img=None) -> dict:
    """Return ``{relative path: sha256}`` of a run's inputs."""
    paths = [spec.bold, spec.events] + ([spec.confounds] if spec.confounds else [])
    paths += bold_sidecars(spec)
    out = {}
    for p in paths:
        try:
            out[_rel(p, spec)] = sha256(p)
        except OSError:
            out[_rel(p, spec)] = None
    return out


def _rel(p: Path, spec: RunSpec) -> str:
    for root in (spec.bids_dir, spec.bold.parents[3] if len(spec.bold.parents) > 3 else None):
        if root is not None:
            try:
                return str(Path(p).relative_to(root))
            except ValueError:
                pass
    return str(p)


def _is_current(outputs, key: dict) -> bool:
    """Whether every output exists with a sidecar of this key and of its own checksum."""
    for path in outputs:
        side = _sidecar(path)
        if not path.is_file() or not side.is_file():
            return False
        try:
            meta = json.loads(side.read_text())
        except (OSError, ValueError):
            return False
        if not isinstance(meta, dict) or meta.get("MindpainKey") != key:
            return False
        if meta.get("DataSha256") != sha256(path):
            return False
    return True


def _write_outputs(items, key: dict, description: dict) -> None:
    """Write ``[(path, obj)]`` and a sidecar for each, as one unit.

    Every file is staged under a temporary name first; then the old sidecars are removed
    and the staged files renamed into place, data before sidecars. Each sidecar records the
    sha256 of its data file, so a crash at any point leaves no output whose sidecar looks
    valid for other data.
    """
    staged = []
    try:
        for path, obj in items:
            if isinstance(obj, pd.DataFrame):
                tmp = stage_file(path, lambda t, obj=obj: write_tsv(t, obj))
            else:
                tmp = stage_file(path, lambda t, obj=obj: nib.save(obj, t))
            staged.append((tmp, path))
        for (tmp, path), (_, obj) in zip(list(staged), items, strict=True):
            meta = dict(description)
            if isinstance(obj, pd.DataFrame):
                meta["Columns"] = list(obj.columns)
            meta["MindpainKey"] = key
            meta["DataSha256"] = sha256(tmp)
            staged.append((stage_file(_sidecar(path), lambda t, m=meta: write_json(t, m)),
                           _sidecar(path)))
        write_unit(staged, invalidate=[_sidecar(path) for path, _ in items])
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def fit_run_model(spec: RunSpec, settings: ModelSettings = ModelSettings(),
                  mask_img=None) -> ImageFit:
    """Fit one run's GLM (see :mod:`mindpain.glm`); return the fitted run.

    The fit equals nilearn's ``FirstLevelModel`` with the same settings (a test checks
    it); its ``design``, ``dof`` and ``contrast_maps(expression)`` are used here.

    Raises
    ------
    MindpainError
        For any input problem, naming the file.
    """
    img = load_bold(spec.bold)
    tr = repetition_time(spec)
    n_scans = img.shape[3]
    why = constant_bold(np.asarray(img.dataobj))
    if why is not None:
        raise ExcludedRun(f"excluded: BOLD has no voxel that varies in time ({why}); the run "
                          "is left out of its session", spec.bold)
    events = load_events(spec.events, run_length=n_scans * tr)
    confounds = None
    if spec.confounds is not None:
        confounds = load_confounds(spec.confounds, settings.confounds, n_scans)
    data = nib.Nifti1Image(np.asarray(img.dataobj, dtype=np.float32), img.affine)
    return fit_image(data, events, tr, hrf_model=settings.hrf_model,
                     drift_model=settings.drift_model, high_pass=settings.high_pass,
                     noise_model=settings.noise_model, signal_scaling=settings.signal_scaling,
                     smoothing_fwhm=settings.smoothing_fwhm, confounds=confounds,
                     mask_img=mask_img)


def _fit_run(spec: RunSpec, out_dir: Path, settings: ModelSettings, mask_img) -> dict:
    """Joblib task: fit one run and write its design matrix and effect/variance maps."""
    label = spec.label
    try:
        inputs = run_inputs(spec)
        key = {"inputs": inputs, "settings": settings.as_dict()}
        outputs = [design_matrix_path(out_dir, spec)] + [
            run_map_path(out_dir, spec, c, s) for c in CONTRASTS for s in ("effect", "variance")]
        if _is_current(outputs, key):
            return {"label": label, "status": "skipped", "dof": _read_dof(outputs[1])}
        fit = fit_run_model(spec, settings, mask_img)
        dof = fit.dof
        items = [(outputs[0], fit.design)]
        for contrast, expr in CONTRASTS.items():
            effect, variance = fit.contrast_maps(expr)
            items.append((run_map_path(out_dir, spec, contrast, "effect"), effect))
            items.append((run_map_path(out_dir, spec, contrast, "variance"), variance))
        desc = {"Description": f"First-level GLM of one run ({label})",
                "Sources": sorted(inputs), "RepetitionTime": repetition_time(spec),
                "DegreesOfFreedom": dof, "ModelSettings": settings.as_dict(),
                "Space": spec.space}
        _write_outputs(items, key, desc)
        return {"label": label, "status": "computed", "dof": dof}
    except ExcludedRun as err:
        return {"label": label, "status": "excluded", "path": err.path or str(spec.bold),
                "reason": str(err).removeprefix(f"{err.path}: ")}
    except MindpainError as err:
        return {"label": label, "status": "failed", "path": err.path or str(spec.bold),
                "reason": str(err).removeprefix(f"{err.path}: ")}
    except Exception as err:  # a run must never take the others down
        return {"label": label, "status": "failed", "path": str(spec.bold),
                "reason": _reason(err)}


def _read_dof(path: Path):
    try:
        return json.loads(_sidecar(path).read_text()).get("DegreesOfFreedom")
    except (OSError, ValueError):
        return None


def _combine_session(group: tuple, specs: list, dofs: list, out_dir: Path,
                     settings: ModelSettings, excluded: list = ()) -> dict:
    """Joblib task: fixed effects over a session's runs; writes effect, variance, z, mask.

    ``group`` is ``(subject, session, space)``; ``excluded`` lists ``(file, reason)`` of the
    session's runs left out, recorded in the sidecars. With no run left the session fails.
    """
    from nilearn.glm import compute_fixed_effects

    subject, session, space = group
    label = _prefix(subject, session)
    excluded = [{"File": f, "Reason": r} for f, r in excluded]
    try:
        if not specs:
            raise MindpainError(f"no usable run left in this session ({len(excluded)} "
                                "excluded); no session maps written",
                                _func_dir(out_dir, subject, session))
        run_maps = {c: [(run_map_path(out_dir, s, c, "effect"),
                         run_map_path(out_dir, s, c, "variance")) for s in specs]
                    for c in CONTRASTS}
        inputs = {str(p.relative_to(out_dir)): sha256(p)
                  for pairs in run_maps.values() for pair in pairs for p in pair}
        key = {"inputs": inputs, "settings": settings.as_dict(), "dofs": dofs,
               "excluded": excluded}
        mask_path = session_mask_path(out_dir, subject, session, space)
        outputs = [mask_path] + [session_map_path(out_dir, subject, session, c, s, space)
                                 for c in CONTRASTS for s in STATS]
        if _is_current(outputs, key):
            return {"label": label, "status": "skipped"}
        # each map read once, into memory (nilearn re-reads a file given by its path)
        loaded = {p: _in_memory(nib.load(p)) for pairs in run_maps.values()
                  for pair in pairs for p in pair}
        ref = loaded[run_maps["hotVsWarm"][0][1]]
        covered = np.ones(ref.shape, bool)
        for _, var in run_maps["hotVsWarm"]:
            v = np.asarray(loaded[var].dataobj)
            covered &= np.isfinite(v) & (v > 0)
        if not covered.any():
            raise MindpainError("the runs' masks do not overlap", run_maps["hotVsWarm"][0][1])
        mask = nib.Nifti1Image(covered.astype(np.uint8), ref.affine)
        items = [(mask_path, mask)]
        for contrast, pairs in run_maps.items():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                eff, var, _, z = compute_fixed_effects(
                    [loaded[e] for e, _ in pairs], [loaded[v] for _, v in pairs], mask=mask,
                    precision_weighted=False, dofs=dofs)
            for stat, img in zip(STATS, (eff, var, z), strict=True):
                items.append((session_map_path(out_dir, subject, session, contrast, stat, space),
                              _float32(img)))
        desc = {"Description": f"Fixed effects over {len(specs)} run(s) of {label}",
                "Sources": sorted(inputs), "DegreesOfFreedom": int(sum(dofs)),
                "ModelSettings": settings.as_dict(), "Space": space,
                "Runs": [s.run for s in specs], "ExcludedRuns": excluded}
        _write_outputs(items, key, desc)
        return {"label": label, "status": "computed"}
    except MindpainError as err:
        return {"label": label, "status": "failed", "path": err.path or label,
                "reason": str(err).removeprefix(f"{err.path}: ")}
    except Exception as err:
        return {"label": label, "status": "failed", "path": str(_func_dir(out_dir, subject,
                                                                          session)),
                "reason": _reason(err)}


def _reason(err: Exception) -> str:
    """One line for an unexpected error in a run or session (OS errors say what to do)."""
    if isinstance(err, OSError):
        return os_error_message(err)
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


def _float32(img):
    return nib.Nifti1Image(np.asarray(img.dataobj, dtype=np.float32), img.affine)


def _parallel(func, tasks, n_jobs, progress, desc):
    from joblib import Parallel, delayed
    from tqdm.auto import tqdm

    gen = Parallel(n_jobs=n_jobs, return_as="generator")(delayed(func)(*t) for t in tasks)
    return list(tqdm(gen, total=len(tasks), desc=desc, disable=not progress, unit="item"))


def write_dataset_description(out_dir, bids_dir, fmriprep=None) -> Path:
    """Write the derivative's ``dataset_description.json``."""
    sources = [str(Path(bids_dir).resolve())] + ([str(Path(fmriprep).resolve())]
                                                  if fmriprep else [])
    path = Path(out_dir) / "dataset_description.json"
    data = {
        "Name": DESCRIPTION_NAME,
        "BIDSVersion": "1.10.0", "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "mindpain", "Version": __version__,
                         "Description": "nilearn single-run GLM per run (FirstLevelModel's steps; "
                                        "glover HRF, cosine drift 1/128 Hz, AR(1)); fixed "
                                        "effects per session"}],
        "SourceDatasets": [{"URL": f"file://{s}"} for s in sources],
    }
    try:
        if json.loads(path.read_text()) == data:
            return path
    except (OSError, ValueError):
        pass
    return write_json(path, data)


def prepare_out_dir(out_dir, bids_dir, fmriprep=None) -> Path:
    """Check that ``out_dir`` may receive first-level derivatives; create and mark it.

    Refused, with a one-line error and nothing written: a file; a folder inside the raw
    dataset other than under its ``derivatives/``; the raw or fMRIPrep folder itself or a
    folder inside fMRIPrep's; a non-empty folder without this command's ownership marker
    (:data:`mindpain.io.MARKER`, kind ``first-level``) or an older mindpain
    ``dataset_description.json``.

    Returns
    -------
    pathlib.Path
        The folder (absolute).
    """
    out = Path(os.path.abspath(out_dir))
    real = out.resolve()
    raw = Path(bids_dir).resolve()
    if real == raw or raw in real.parents and raw / "derivatives" not in real.parents:
        raise MindpainError(f"is inside the raw BIDS dataset {bids_dir}; write derivatives "
                            "outside it, or under its derivatives/ folder (e.g. "
                            f"{Path(bids_dir) / 'derivatives' / 'mindpain'})", out_dir)
    if real in raw.parents:
        raise MindpainError(f"contains the raw BIDS dataset {bids_dir}; choose a new folder "
                            "for the derivatives", out_dir)
    if fmriprep is not None:
        prep = Path(fmriprep).resolve()
        if real == prep or prep in real.parents or real in prep.parents:
            raise MindpainError(f"overlaps the fMRIPrep folder {fmriprep}; choose a separate "
                                "folder for the derivatives", out_dir)
    if out.exists() and not out.is_dir():
        raise MindpainError("exists and is not a folder; expected a derivatives folder",
                            out_dir)
    marker = read_marker(out) if out.is_dir() else None
    if marker is not None and marker["kind"] != KIND:
        raise MindpainError(f"holds a mindpain {marker['kind']}, not first-level derivatives; "
                            "choose another folder", out_dir)
    if marker is None and out.is_dir() and any(out.iterdir()) and not _legacy_derivatives(out):
        raise MindpainError("folder is not empty and was not made by mindpain first-level (no "
                            ".mindpain.json marker); mindpain never writes into a folder it "
                            "did not make; choose a new or empty folder", out_dir)
    check_writable_dir(out, overwrite=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if marker is None:
            write_marker(out, KIND)
    except OSError as err:
        raise MindpainError(f"cannot create the derivatives folder ({err.strerror})",
                            out_dir) from None
    return out


def _legacy_derivatives(out: Path) -> bool:
    """Whether ``out`` holds first-level derivatives written before ownership markers."""
    try:
        desc = json.loads((out / "dataset_description.json").read_text())
        return desc["Name"] == DESCRIPTION_NAME and desc["GeneratedBy"][0]["Name"] == "mindpain"
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return False


DESCRIPTION_NAME = "mindpain first level: hot>warm contrast maps"


def run_first_level(bids_dir, out_dir, *, fmriprep=None, participant_label=None,
                    smoothing_fwhm=None, mask_img=None, n_jobs=1, dask_scheduler=None,
                    progress=True, confounds_dir=None,
                    confounds=None) -> FirstLevelSummary:
    """Fit every run, combine each session by fixed effects, write BIDS derivatives.

    Parameters
    ----------
    bids_dir : path-like
        Raw BIDS dataset.
    out_dir : path-like
        Derivatives folder: new, empty, or made by this function (see
        :func:`prepare_out_dir`); existing up-to-date outputs are kept as they are.
    fmriprep : path-like, optional
        fMRIPrep derivatives to take BOLD and confounds from.
    participant_label : list of str, optional
        Subjects to process (default all).
    smoothing_fwhm : float, optional
        Smoothing in mm before the fit (finite, >= 0; ``None`` or 0 for none).
    mask_img : path-like, optional
        Analysis mask (default nilearn's EPI mask per run).
    n_jobs : int
        Parallel joblib workers for runs and sessions (ignored with Dask).
    dask_scheduler : str, optional
        Address of a Dask distributed scheduler; default env ``MINDPAIN_DASK_SCHEDULER``.
    progress : bool
        Show tqdm progress bars.
    confounds_dir : path-like, optional
        Confounds-only derivatives for raw BOLD (see :func:`find_runs`), e.g. the twin's
        ``derivatives/twin-confounds``.
    confounds : sequence of str, optional
        Confound columns (shell patterns allowed, e.g. ``motion_outlier*``). Default:
        :data:`DEFAULT_CONFOUNDS` with ``fmriprep``, :data:`MOTION_CONFOUNDS` with
        ``confounds_dir``, none otherwise.

    Returns
    -------
    FirstLevelSummary

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        summary = run_first_level("twin-small", "deriv/first-level")
        summary.ok
        # True
    """
    from mindpain.config import check_n_jobs

    n_jobs = check_n_jobs(n_jobs)
    if smoothing_fwhm is not None:
        try:
            smoothing_fwhm = float(smoothing_fwhm)
        except (TypeError, ValueError):
            smoothing_fwhm = float("nan")
        if not np.isfinite(smoothing_fwhm) or smoothing_fwhm < 0:
            raise MindpainError(f"smoothing FWHM must be a finite number of mm >= 0, got "
                                f"{smoothing_fwhm!r}")
        smoothing_fwhm = smoothing_fwhm or None
    if not Path(bids_dir).is_dir():
        raise MindpainError("not a folder; expected a BIDS dataset", bids_dir)
    specs = find_runs(bids_dir, fmriprep, participant_label,
                      None if fmriprep else confounds_dir)
    mask_sha = None
    if mask_img is not None:
        mask_img = Path(mask_img)
        if not mask_img.is_file():
            raise MindpainError("mask image not found", mask_img)
        mask_sha = sha256(mask_img)
        mask_img = str(mask_img)
    if confounds is None:
        confounds = (DEFAULT_CONFOUNDS if fmriprep else
                     MOTION_CONFOUNDS if confounds_dir is not None else ())
    settings = ModelSettings(smoothing_fwhm=smoothing_fwhm, mask_sha256=mask_sha,
                             confounds=tuple(confounds))
    dask_scheduler = dask_scheduler or os.environ.get(DASK_ENV) or None
    client = _dask_client(dask_scheduler) if dask_scheduler else None
    out_dir = prepare_out_dir(out_dir, bids_dir, fmriprep)  # refusals come before the lock
    with folder_lock(out_dir):  # a second process waits, then finds the outputs current
        write_dataset_description(out_dir, bids_dir, fmriprep)
        if client is not None:
            from joblib import parallel_config

            with client, parallel_config(backend="dask"):
                return _run_all(specs, out_dir, settings, mask_img, -1, progress)
        return _run_all(specs, out_dir, settings, mask_img, n_jobs, progress)


def _dask_client(address: str):
    """Connect to a Dask scheduler within :data:`DASK_TIMEOUT_S`, or raise a one-line error."""
    import logging

    from distributed import Client

    logger = logging.getLogger("distributed")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # its own retry messages would bury the one line
    try:
        return Client(address, timeout=f"{DASK_TIMEOUT_S}s")
    except (OSError, TimeoutError, ValueError, TypeError) as err:
        why = " ".join(str(err).split())[:160] or type(err).__name__
        raise MindpainError(f"cannot reach the Dask scheduler at {address!r} within "
                            f"{DASK_TIMEOUT_S} s ({why}); check the address (e.g. "
                            "tcp://host:8786) or run without --dask-scheduler") from None
    finally:
        logger.setLevel(level)


def _run_all(specs, out_dir, settings, mask_img, n_jobs, progress) -> FirstLevelSummary:
    summary = FirstLevelSummary()
    results = _parallel(_fit_run, [(s, out_dir, settings, mask_img) for s in specs], n_jobs,
                        progress, "runs")
    groups, dofs, excluded, failed_groups = {}, {}, {}, set()
    for spec, res in zip(specs, results, strict=True):
        group = (spec.subject, spec.session, spec.space)
        groups.setdefault(group, [])
        if res["status"] == "failed":
            summary.failed.append((res["path"], res["reason"]))
            failed_groups.add(group)
            _remove_stale(out_dir, spec)
        elif res["status"] == "excluded":
            summary.excluded.append((res["path"], res["reason"]))
            excluded.setdefault(group, []).append((_rel(Path(res["path"]), spec),
                                                   res["reason"]))
            _remove_stale(out_dir, spec, session=False)
        else:
            groups[group].append(spec)
            dofs[spec] = res.get("dof")
            getattr(summary, res["status"]).append(res["label"])
    sessions = [(group, runs, [dofs[s] for s in runs], out_dir, settings,
                 excluded.get(group, [])) for group, runs in groups.items()
                if group not in failed_groups]
    results = _parallel(_combine_session, sessions, n_jobs, progress, "sessions")
    for (group, *_), res in zip(sessions, results, strict=True):
        subject, session, space = group
        if res["status"] == "failed":
            summary.failed.append((res["path"], res["reason"]))
            for path in _session_outputs(out_dir, subject, session, space):
                for p in (path, _sidecar(path)):
                    p.unlink(missing_ok=True)
            continue
        getattr(summary, res["status"]).append(res["label"])
        summary.session_maps[(subject, session)] = {
            c: {s: session_map_path(out_dir, subject, session, c, s, space)
                for s in STATS} for c in CONTRASTS}
    return summary


def _session_outputs(out_dir, subject, session, space) -> list:
    return [session_mask_path(out_dir, subject, session, space)] + [
        session_map_path(out_dir, subject, session, c, s, space) for c in CONTRASTS
        for s in STATS]


def _remove_stale(out_dir: Path, spec: RunSpec, session: bool = True) -> None:
    """Delete outputs (and sidecars) left from an earlier run of a failed run and its session."""
    stale = [design_matrix_path(out_dir, spec)]
    for contrast in CONTRASTS:
        stale += [run_map_path(out_dir, spec, contrast, s) for s in ("effect", "variance")]
    if session:
        stale += _session_outputs(out_dir, spec.subject, spec.session, spec.space)
    for path in stale:
        for p in (path, _sidecar(path)):
            p.unlink(missing_ok=True)


# --------------------------------------------------------------------------- group level


def load_session_maps(out_dir, contrast="hotVsWarm", stat="effect", session="pre",
                      subjects=None, space=DEFAULT_SPACE) -> dict:
    """Return ``{subject: path}`` of existing session maps (``sub-`` labels without prefix)."""
    out = {}
    for path in sorted(Path(out_dir).glob(f"sub-*/ses-{session}/func/*_task-{TASK}_space-{space}"
                                          f"_contrast-{contrast}_stat-{stat}_statmap.nii.gz")):
        sub = _entities(path.name)["sub"]
        if subjects is None or sub in subjects:
            out[sub] = path
    return out


def naive_subjects(bids_dir) -> list[str]:
    """Labels (without ``sub-``) of meditation-naive participants (group is not LTM)."""
    table = load_participants(bids_dir)
    keep = table[table["group"] != "LTM"]["participant_id"]
    return [p.removeprefix("sub-") for p in keep]


def group_map(out_dir, subjects, mask_img=None, contrast="hotVsWarm", session="pre",
              alpha=0.05) -> dict:
    """One-sample second-level model of session maps; FDR-thresholded z map.

    Parameters
    ----------
    out_dir : path-like
        First-level derivatives.
    subjects : list of str
        Subject labels to include.
    mask_img : path-like or image, optional
        Group mask (default: voxels covered in every participant's session mask).
    contrast, session : str
        Which session maps.
    alpha : float
        False discovery rate of the voxel-wise threshold (Benjamini-Hochberg).

    Returns
    -------
    dict
        ``effect``, ``z``, ``thresholded`` (images), ``threshold`` (z), ``n`` and ``mask``.
    """
    from nilearn.glm import threshold_stats_img
    from nilearn.glm.second_level import SecondLevelModel

    maps = load_session_maps(out_dir, contrast, "effect", session, set(subjects))
    if len(maps) < 3:
        raise MindpainError(f"only {len(maps)} session maps found; a group map needs 3",
                            out_dir)
    if mask_img is None:
        masks = [nib.load(session_mask_path(out_dir, s, session)) for s in maps]
        covered = np.logical_and.reduce([np.asarray(m.dataobj) > 0 for m in masks])
        mask_img = nib.Nifti1Image(covered.astype(np.uint8), masks[0].affine)
    # In memory: given paths, nilearn re-reads every file's header many times over (a
    # minute for 115 maps); the fitted maps are the same to the bit.
    imgs = [_in_memory(nib.load(p)) for p in maps.values()]
    model = SecondLevelModel(mask_img=mask_img, minimize_memory=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(imgs, design_matrix=pd.DataFrame({"intercept": np.ones(len(imgs))}))
        res = model.compute_contrast("intercept", output_type="all")
        thr_img, thr = threshold_stats_img(res["z_score"], mask_img=model.masker_.mask_img_,
                                           alpha=alpha, height_control="fdr",
                                           two_sided=True)
    return {"effect": res["effect_size"], "z": res["z_score"], "thresholded": thr_img,
            "threshold": float(thr), "n": len(imgs), "mask": model.masker_.mask_img_}


def _in_memory(img):
    """Return the image with its data read into memory (header and affine kept)."""
    return nib.Nifti1Image(np.asarray(img.dataobj), img.affine, img.header)


def spatial_correlation(img_a, img_b, mask_img) -> float:
    """Pearson correlation of two images over the voxels of ``mask_img``."""
    from nilearn.image import load_img, resample_to_img

    mask = load_img(mask_img)
    a, b = load_img(img_a), load_img(img_b)
    b = resample_to_img(b, a, interpolation="continuous", force_resample=True,
                        copy_header=True) if b.shape[:3] != a.shape[:3] else b
    m = np.asarray(mask.dataobj) > 0
    x, y = np.asarray(a.dataobj, float)[m], np.asarray(b.dataobj, float)[m]
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.corrcoef(x[ok], y[ok])[0, 1])
