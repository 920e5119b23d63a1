"""First level: hot>warm contrast maps per run and per session, from a BIDS dataset.

Every run is fitted with nilearn's single-run GLM (:mod:`mindpain.first_level.glm` runs the steps of
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
    :func:`mindpain.bids.tables.load_confounds` (the ``n/a`` first row of derivative columns is
    set to 0; any other ``n/a``, text, Inf or absurd value is an error). The twin's raw BOLD
    takes its confounds from ``derivatives/twin-confounds`` (``confounds_dir``; realistic
    world) with :data:`MOTION_CONFOUNDS`: six motion parameters, their derivatives and one
    scrubbing regressor per volume with framewise displacement above 0.5 mm
    (``motion_outlier*``). The ideal-world twin has no confounds and is fitted without.
Checks
    Every input is read by :mod:`mindpain.bids` (one reader, one TR rule: the sidecar's
    ``RepetitionTime``, which must agree with the NIfTI header). Every BOLD header passes
    the image check of :func:`mindpain.core.images.header_problem` (else the run fails); before
    anything is fitted or written, :func:`check_runs` checks that a session's runs share
    one grid and that a run in an MNI space lies in the MNI box (else that run fails), and
    that every output name fits the file system (else nothing is written). A run whose
    BOLD has no voxel varying in time (all zero, all NaN, constant) is **excluded** with a
    warning and listed under ``ExcludedRuns`` in its session's sidecars; a session with no
    run left fails. Voxels with a NaN or infinite sample are left out of their run's mask
    (warning, ``ExcludedVoxels`` in the run's sidecars), so they change no other voxel's
    estimate. Two BOLD files that would write the same outputs are refused.
Space
    The ``space-`` entity of the BOLD file name; when absent (the twin's raw BOLD, already in
    MNI space) :data:`~mindpain.bids.query.DEFAULT_SPACE`.
Mask
    A given mask image, else nilearn's default (an EPI mask computed per run).
Runs
    Found by :func:`~mindpain.bids.query.find_runs`, in
    :data:`~mindpain.bids.query.RUN_ORDER` (subject, session pre before post, run); the runs
    of a session are combined in that order.
Outputs
    Written by :mod:`mindpain.first_level.outputs`: BIDS-derivative names (see
    :func:`~mindpain.first_level.outputs.session_map_path`; run outputs carry every entity of
    the BOLD file name, e.g. ``acq-``), a JSON sidecar per output with the model settings,
    the sha256 of every input and of the output itself, ``dataset_description.json`` and the
    ownership marker ``.mindpain.json``. The folder must be new, empty or made by this
    command, and outside the raw dataset (or under its ``derivatives/``). A run's or a
    session's outputs are written as a unit: staged under temporary names, old sidecars
    removed, then renamed into place, so a crash leaves outputs without a valid sidecar
    (recomputed next time), never a valid-looking mix. An output whose inputs and settings
    are unchanged is not recomputed.
Modules
    This module fits the runs and runs the stage; :mod:`mindpain.first_level.group` combines a
    session's runs (and fits the group map); :mod:`mindpain.first_level.outputs` owns the
    derivatives folder; the runs and their inputs are read with :mod:`mindpain.bids`.
    Each name is imported from its own module.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nibabel as nib
import numpy as np

from mindpain import __version__
from mindpain.bids import (
    RunSpec,
    bold_grid,
    check_run_conditions,
    constant_bold,
    find_runs,
    is_mni_space,
    load_confounds,
    load_run_events,
    nonfinite_voxels,
    run_repetition_time,
    sidecar_path,
)
from mindpain.bids import load_bold as _load_bold
from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError
from mindpain.core.folders import folder_lock
from mindpain.core.parallel import dask_backend, dask_client, map_tasks
from mindpain.core.vocabulary import FRAMEWISE_DISPLACEMENT, MOTION_CONFOUNDS, MOTION_PARAMETERS
from mindpain.core.vocabulary import MAP_CONTRASTS as CONTRASTS
from mindpain.core.vocabulary import TWIN_CONFOUNDS_DIR as _TWIN_CONFOUNDS_DIR
from mindpain.first_level.glm import BASELINE_FLOOR, ImageFit, fit_image
from mindpain.first_level.group import (
    combine_session,
)
from mindpain.first_level.outputs import (
    STATS,
    design_matrix_path,
    failure_reason,
    is_current,
    prepare_out_dir,
    read_dof,
    relative_source,
    remove_stale,
    run_inputs,
    run_map_path,
    session_map_path,
    session_mask_path,
    session_outputs,
    write_dataset_description,
    write_outputs,
)

#: Confound columns used from fMRIPrep's ``desc-confounds_timeseries.tsv``.
DEFAULT_CONFOUNDS = (*MOTION_PARAMETERS, FRAMEWISE_DISPLACEMENT)
# MOTION_CONFOUNDS (vocabulary): the set used with the twin's confounds: the six rigid-body
# parameters, their backward differences, and one spike regressor per volume with framewise
# displacement above the outlier threshold (scrubbing; Power et al. 2014).
#: Folder (inside a raw BIDS dataset) where the simulated twin keeps its confounds tables.
TWIN_CONFOUNDS_DIR = Path(_TWIN_CONFOUNDS_DIR)
#: Fewest volumes a run needs for the GLM.
MIN_VOLUMES = 10
#: Longest file name (bytes) the common file systems accept.
NAME_MAX = 255


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
        Checksum of the mask image, ``None`` for the implicit mask.
    baseline_floor : float
        The implicit mask leaves out voxels whose mean signal is below this share of the
        run's median (:func:`mindpain.first_level.glm.signal_floor`).
    """

    hrf_model: str = "glover"
    drift_model: str = "cosine"
    high_pass: float = 1.0 / 128
    noise_model: str = "ar1"
    signal_scaling: int = 0
    smoothing_fwhm: float | None = None
    confounds: tuple = DEFAULT_CONFOUNDS
    mask_sha256: str | None = None
    baseline_floor: float = BASELINE_FLOOR

    def as_dict(self) -> dict:
        """Return JSON-ready settings including package versions."""
        import nilearn

        out = asdict(self)
        out["confounds"] = list(self.confounds)
        out["contrasts"] = dict(CONTRASTS)
        out["mindpain_version"] = __version__
        out["nilearn_version"] = nilearn.__version__
        return out


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
    warnings : list of (str, str)
        ``(file, message)`` of what a computed run left out (voxels with non-finite BOLD
        samples); also recorded in the run's sidecar.
    session_maps : dict
        ``(subject, session) -> {contrast: {stat: path}}`` of the session maps present.
    space : str
        The one space fitted (:func:`mindpain.bids.query.select_space`), e.g.
        ``MNI152NLin2009cAsym:res-2``.
    """

    computed: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    excluded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    session_maps: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    space: str = ""

    @property
    def ok(self) -> bool:
        """``True`` when nothing failed."""
        return not self.failed

    def report(self) -> str:
        """Return a text summary, one line per cause of failure.

        A cause shared by several runs (one broken sidecar above them all) is one line,
        with the number of runs it stopped.
        """
        lines = [f"first level: {len(self.computed)} computed, {len(self.skipped)} unchanged, "
                 f"{len(self.excluded)} run(s) excluded, {len(self.failed)} failed"
                 + (f"; space {self.space}" if self.space else "")]
        causes: dict = {}
        for cause in self.failed:
            causes[cause] = causes.get(cause, 0) + 1
        lines += [f"FAILED {path}: {reason}" + (f" ({n} runs or sessions)" if n > 1 else "")
                  for (path, reason), n in causes.items()]
        return "\n".join(lines)


def load_bold(path):
    """Load a BOLD series (in memory, float32); it must be 4D with at least 10 volumes."""
    return _load_bold(path, min_volumes=MIN_VOLUMES)


# --------------------------------------------------------------------------- fitting


def fit_run_model(spec: RunSpec, settings: ModelSettings = ModelSettings(),
                  mask_img=None) -> ImageFit:
    """Fit one run's GLM (see :mod:`mindpain.first_level.glm`); return the fitted run.

    The fit equals nilearn's ``FirstLevelModel`` with the same settings (a test checks
    it); its ``design``, ``dof`` and ``contrast_maps(expression)`` are used here.

    Raises
    ------
    MindpainError
        For any input problem, naming the file.
    """
    img = load_bold(spec.bold)
    tr = run_repetition_time(spec)
    n_scans = img.shape[3]
    why = constant_bold(np.asarray(img.dataobj))
    if why is not None:
        raise ExcludedRun(f"excluded: BOLD has no voxel that varies in time ({why}); the run "
                          "is left out of its session", spec.bold)
    events = load_run_events(spec.events, run_length=n_scans * tr, renamed=spec.trial_types)
    confounds = None
    if spec.confounds is not None:
        confounds = load_confounds(spec.confounds, settings.confounds, n_scans)
    array = np.asarray(img.dataobj, dtype=np.float32)
    bad = nonfinite_voxels(array)
    n_bad = int(bad.sum())
    if n_bad:
        array, mask_img = _exclude_voxels(spec, array, bad, img.affine, settings, mask_img)
    data = nib.Nifti1Image(array, img.affine)
    fit = fit_image(data, events, tr, hrf_model=settings.hrf_model,
                    drift_model=settings.drift_model, high_pass=settings.high_pass,
                    noise_model=settings.noise_model, signal_scaling=settings.signal_scaling,
                    smoothing_fwhm=settings.smoothing_fwhm, confounds=confounds,
                    mask_img=mask_img, baseline_floor=settings.baseline_floor)
    fit.nonfinite_voxels = n_bad
    return fit


def _exclude_voxels(spec, array, bad, affine, settings, mask_img):
    """Leave the voxels with a non-finite BOLD sample out of the fit; return data and mask.

    Their samples are set to the voxel's finite mean (so nilearn's implicit mask, computed
    from the mean image, is what it would be without the defect) and the voxels are taken
    out of the mask, so they enter no estimate: every other voxel's fit is the one it has
    without them. With smoothing their values would spread into their neighbours: refused.
    """
    n_bad = int(bad.sum())
    if settings.smoothing_fwhm:
        raise MindpainError(f"BOLD has {n_bad} voxel(s) with NaN or infinite samples; "
                            "smoothing would spread them into their neighbours: fix the run "
                            "or fit it without --smoothing-fwhm (the voxels are then left "
                            "out)", spec.bold)
    finite = np.isfinite(array)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(finite, array, 0).sum(-1) / finite.sum(-1)
    fill = np.nan_to_num(mean, nan=0.0, posinf=0.0, neginf=0.0).astype(array.dtype)
    array = np.where(finite, array, fill[..., None])
    if mask_img is None:
        from mindpain.first_level.glm import implicit_mask

        mask = np.asarray(implicit_mask(nib.Nifti1Image(array, affine),
                                        settings.baseline_floor).dataobj).astype(bool)
    else:
        mask_obj = nib.load(mask_img) if not isinstance(mask_img, nib.Nifti1Image) else mask_img
        if mask_obj.shape[:3] != array.shape[:3] or not np.allclose(mask_obj.affine, affine):
            raise MindpainError(f"BOLD has {n_bad} voxel(s) with NaN or infinite samples and "
                                "the mask is on another grid, so they cannot be left out; fix "
                                "the run or give a mask on its grid", spec.bold)
        mask = np.asarray(mask_obj.dataobj).astype(bool).reshape(array.shape[:3])
    return array, nib.Nifti1Image((mask & ~bad).astype(np.uint8), affine)


def check_runs(specs, out_dir) -> dict:
    """Check the runs against each other before anything is fitted or written.

    The runs of a session share one grid (they are combined voxel by voxel), a run in an
    MNI space lies in the MNI box, and every output's file name fits the file system. A run
    whose header cannot be read or checked (:func:`mindpain.bids.images.bold_grid`: nibabel's
    checks, an invertible affine with an orientation code, finite scaling, 4D) is left to
    its own fit, which fails with that message, as does every per-run problem: one bad run
    never takes the others down.

    Parameters
    ----------
    specs : sequence of mindpain.bids.query.RunSpec
        The runs (:func:`~mindpain.bids.query.find_runs`).
    out_dir : path-like
        The derivatives folder the outputs would go to.

    Returns
    -------
    dict
        ``{RunSpec: MindpainError}``: the runs that fail without being fitted (another
        grid than their session's first run, outside the MNI box), each naming its file.

    Raises
    ------
    MindpainError
        An output file name too long for the file system (a very long label), before the
        folder is made.
    """
    from mindpain.core.images import mni_grid
    from mindpain.core.io import TMP_PREFIX

    mni_box = _grid_box(*reversed(mni_grid(2.0)))
    first: dict = {}
    problems: dict = {}
    for spec in specs:
        _check_name_lengths(spec, out_dir, TMP_PREFIX)
        try:
            shape, affine = bold_grid(spec.bold, MIN_VOLUMES)
        except MindpainError:
            continue  # the run's fit reports it (the run fails, the others go on)
        if is_mni_space(spec.space):
            box = _grid_box(affine, shape)
            if not (np.all(box[0] <= mni_box[1]) and np.all(mni_box[0] <= box[1])):
                problems[spec] = MindpainError(
                    f"field of view (x,y,z {np.round(box[0], 1).tolist()} to "
                    f"{np.round(box[1], 1).tolist()} mm) lies outside the MNI brain box "
                    f"although the run is in space {spec.space}; fix the header's sform or "
                    "the space- entity", spec.bold)
                continue  # not the grid the session's other runs are held against
        group = (spec.subject, spec.session, spec.space)
        ref = first.setdefault(group, (spec.bold, shape, affine))
        if shape[:3] != ref[1][:3] or not np.allclose(affine, ref[2], atol=1e-4):
            problems[spec] = MindpainError(
                f"grid {_describe_grid(shape, affine)} differs from the grid "
                f"{_describe_grid(ref[1], ref[2])} of {ref[0].name} in the same session; its "
                "runs are combined voxel by voxel, so they must share one grid: resample the "
                "runs to one grid (e.g. fMRIPrep's --output-spaces)", spec.bold)
    return problems


def _check_name_lengths(spec, out_dir, prefix: str) -> None:
    names = [run_map_path(out_dir, spec, c, s).name for c in CONTRASTS
             for s in ("effect", "variance")]
    names += [session_map_path(out_dir, spec.subject, spec.session, c, s, spec.space).name
              for c in CONTRASTS for s in STATS]
    names += [session_mask_path(out_dir, spec.subject, spec.session, spec.space).name,
              design_matrix_path(out_dir, spec).name]
    longest = max(len(os.fsencode(n)) for n in names) + len(prefix) + 16
    if longest > NAME_MAX:
        raise MindpainError(f"its outputs' file names would be {longest} bytes long with "
                            f"their temporary prefix (at most {NAME_MAX}); shorten the "
                            "participant, session or other labels of its file name", spec.bold)


def _grid_box(affine, shape) -> np.ndarray:
    """World box (2 x 3, mm) of a grid's voxel centres, half a voxel of margin."""
    ijk = np.array([[i, j, k] for i in (0, shape[0] - 1) for j in (0, shape[1] - 1)
                    for k in (0, shape[2] - 1)], float)
    xyz = ijk @ np.asarray(affine)[:3, :3].T + np.asarray(affine)[:3, 3]
    half = np.abs(np.asarray(affine)[:3, :3]).sum(0) / 2
    return np.stack([xyz.min(0) - half, xyz.max(0) + half])


def _describe_grid(shape, affine) -> str:
    zooms = np.sqrt((np.asarray(affine)[:3, :3] ** 2).sum(0))
    fmt = ",".join(f"{v:g}" for v in np.round(np.asarray(affine)[:3, 3], 3))
    return (f"{'x'.join(str(int(n)) for n in shape[:3])} at "
            f"{'x'.join(f'{v:g}' for v in np.round(zooms, 3))} mm, origin ({fmt}) mm")


def _fit_run(spec: RunSpec, out_dir: Path, settings: ModelSettings, mask_img) -> dict:
    """Joblib task: fit one run and write its design matrix and effect/variance maps."""
    label = spec.label
    try:
        inputs = run_inputs(spec)
        key = {"inputs": inputs, "settings": settings.as_dict()}
        outputs = [design_matrix_path(out_dir, spec)] + [
            run_map_path(out_dir, spec, c, s) for c in CONTRASTS for s in ("effect", "variance")]
        if is_current(outputs, key):
            return {"label": label, "status": "skipped", "dof": read_dof(outputs[1])}
        fit = fit_run_model(spec, settings, mask_img)
        dof = fit.dof
        items = [(outputs[0], fit.design)]
        for contrast, expr in CONTRASTS.items():
            effect, variance = fit.contrast_maps(expr)
            items.append((run_map_path(out_dir, spec, contrast, "effect"), effect))
            items.append((run_map_path(out_dir, spec, contrast, "variance"), variance))
        desc = {"Description": f"First-level GLM of one run ({label})",
                "Sources": sorted(inputs), "RepetitionTime": run_repetition_time(spec),
                "DegreesOfFreedom": dof, "ModelSettings": settings.as_dict(),
                "Space": spec.space}
        warning = None
        if fit.nonfinite_voxels:
            warning = (f"{fit.nonfinite_voxels} voxel(s) with NaN or infinite BOLD samples "
                       "left out of the fit (no estimate there)")
            desc["ExcludedVoxels"] = {"Count": fit.nonfinite_voxels,
                                      "Reason": "NaN or infinite BOLD samples"}
        write_outputs(items, key, desc)
        return {"label": label, "status": "computed", "dof": dof, "warning": warning,
                "path": str(spec.bold)}
    except ExcludedRun as err:
        return {"label": label, "status": "excluded", "path": err.path or str(spec.bold),
                "reason": str(err).removeprefix(f"{err.path}: ")}
    except MindpainError as err:
        return {"label": label, "status": "failed", "path": err.path or str(spec.bold),
                "reason": str(err).removeprefix(f"{err.path}: ")}
    except Exception as err:  # a run must never take the others down
        return {"label": label, "status": "failed", "path": str(spec.bold),
                "reason": failure_reason(err)}


# --------------------------------------------------------------------------- the stage


def run_first_level(bids_dir, out_dir, *, fmriprep=None, participant_label=None,
                    smoothing_fwhm=None, mask_img=None, n_jobs=1, dask_scheduler=None,
                    progress=True, confounds_dir=None, confounds=None,
                    space=None, dataset_map=None) -> FirstLevelSummary:
    """Fit every run, combine each session by fixed effects, write BIDS derivatives.

    Parameters
    ----------
    bids_dir : path-like
        Raw BIDS dataset.
    out_dir : path-like
        Derivatives folder: new, empty, or made by this function (see
        :func:`~mindpain.first_level.outputs.prepare_out_dir`); existing up-to-date outputs
        are kept as they are.
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
        Address of a Dask distributed scheduler to run on (the command line's
        ``--dask-scheduler``, else the setting ``MINDPAIN_DASK_SCHEDULER``:
        :attr:`mindpain.core.config.Config.dask_scheduler`); ``None``: local workers.
    progress : bool
        Show tqdm progress bars.
    confounds_dir : path-like, optional
        Confounds-only derivatives for raw BOLD (see :func:`mindpain.bids.query.find_runs`),
        e.g. the twin's ``derivatives/twin-confounds``.
    confounds : sequence of str, optional
        Confound columns (shell patterns allowed, e.g. ``motion_outlier*``). Default:
        :data:`DEFAULT_CONFOUNDS` with ``fmriprep``, :data:`MOTION_CONFOUNDS` with
        ``confounds_dir``, none otherwise.
    space : str, optional
        The one space to fit (``NAME`` or ``NAME:res-R``, as fMRIPrep names its output
        spaces); default: the first MNI152 space present, since the signatures are defined
        there (:func:`mindpain.bids.query.select_space`). The summary and every sidecar say which.
    dataset_map : mindpain.bids.datamap.DatasetMap or path-like, optional
        How the dataset names its task, conditions and sessions
        (:func:`mindpain.bids.datamap.resolve_map`; default: the map file beside the
        dataset, else the book's names). Outputs are named in the book's vocabulary.

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
    from mindpain.core.config import check_n_jobs

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
                      None if fmriprep else confounds_dir, space=space,
                      dataset_map=dataset_map)
    check_run_conditions(specs, dataset_map)
    mask_sha = None
    if mask_img is not None:
        mask_img = Path(mask_img)
        from mindpain.core.images import load_checked

        load_checked(mask_img, "a 3-D mask image")
        mask_sha = sha256(mask_img)
        mask_img = str(mask_img)
    if confounds is None:
        confounds = (DEFAULT_CONFOUNDS if fmriprep else
                     MOTION_CONFOUNDS if confounds_dir is not None else ())
    settings = ModelSettings(smoothing_fwhm=smoothing_fwhm, mask_sha256=mask_sha,
                             confounds=tuple(confounds))
    client = dask_client(dask_scheduler) if dask_scheduler else None
    problems = check_runs(specs, out_dir)  # grids and output names, before writing
    out_dir = prepare_out_dir(out_dir, bids_dir, fmriprep)  # refusals come before the lock
    with folder_lock(out_dir):  # a second process waits, then finds the outputs current
        write_dataset_description(out_dir, bids_dir, fmriprep)
        with dask_backend(client):
            summary = fit_runs(specs, out_dir, settings, mask_img,
                               -1 if client is not None else n_jobs, progress, problems)
    summary.space = specs[0].space
    return summary


def fit_runs(specs, out_dir, settings, mask_img, n_jobs, progress,
             problems=None) -> FirstLevelSummary:
    """Fit ``specs`` into ``out_dir`` and combine each session by fixed effects.

    The loop of :func:`run_first_level` after its checks (``problems``: runs refused by
    :func:`check_runs`, reported as failed), for callers that prepared the folder themselves
    (the multiverse's variants).
    """
    summary = FirstLevelSummary()
    problems = problems or {}
    fitted = [s for s in specs if s not in problems]
    done = dict(zip(fitted, map_tasks(_fit_run, [(s, out_dir, settings, mask_img)
                                                 for s in fitted], n_jobs, progress, "runs"),
                    strict=True))
    results = [done[s] if s in done else
               {"label": s.label, "status": "failed", "path": str(s.bold),
                "reason": str(problems[s]).removeprefix(f"{problems[s].path}: ")}
               for s in specs]
    groups, dofs, excluded, failed_groups = {}, {}, {}, set()
    for spec, res in zip(specs, results, strict=True):
        group = (spec.subject, spec.session, spec.space)
        groups.setdefault(group, [])
        if res["status"] == "failed":
            summary.failed.append((res["path"], res["reason"]))
            failed_groups.add(group)
            remove_stale(out_dir, spec)
        elif res["status"] == "excluded":
            summary.excluded.append((res["path"], res["reason"]))
            excluded.setdefault(group, []).append((relative_source(Path(res["path"]), spec),
                                                   res["reason"]))
            remove_stale(out_dir, spec, session=False)
        else:
            groups[group].append(spec)
            dofs[spec] = res.get("dof")
            if res.get("warning"):
                summary.warnings.append((res["path"], res["warning"]))
            getattr(summary, res["status"]).append(res["label"])
    sessions = [(group, runs, [dofs[s] for s in runs], out_dir, settings,
                 excluded.get(group, [])) for group, runs in groups.items()
                if group not in failed_groups]
    results = map_tasks(combine_session, sessions, n_jobs, progress, "sessions")
    for (group, *_), res in zip(sessions, results, strict=True):
        subject, session, space = group
        if res["status"] == "failed":
            summary.failed.append((res["path"], res["reason"]))
            for path in session_outputs(out_dir, subject, session, space):
                for p in (path, sidecar_path(path)):
                    p.unlink(missing_ok=True)
            continue
        getattr(summary, res["status"]).append(res["label"])
        summary.session_maps[(subject, session)] = {
            c: {s: session_map_path(out_dir, subject, session, c, s, space)
                for s in STATS} for c in CONTRASTS}
    return summary
