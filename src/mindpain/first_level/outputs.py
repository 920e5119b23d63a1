"""First-level derivatives folder: file names, sidecars, resume and atomic writes.

Outputs have BIDS-derivative names (see :func:`session_map_path`; run outputs carry every
entity of the BOLD file name, e.g. ``acq-``), a JSON sidecar per output with the model
settings, the sha256 of every input and of the output itself (:func:`write_outputs`),
``dataset_description.json`` and the ownership marker ``.mindpain.json``
(:func:`prepare_out_dir`). An output whose sidecar records the same content key and its own
checksum is current (:func:`is_current`) and is not recomputed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import pandas as pd

from mindpain import __version__
from mindpain.bids import (
    DEFAULT_SPACE,
    RunSpec,
    bold_sidecars,
    name_prefix,
    sidecar_path,
    space_entities,
)
from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError
from mindpain.core.folders import check_writable_dir, os_error_message, read_marker, write_marker
from mindpain.core.io import stage_file, write_json, write_tsv, write_unit
from mindpain.core.vocabulary import MAP_CONTRASTS as CONTRASTS

#: Statistics written per contrast and session.
STATS = ("effect", "variance", "z")
#: Kind recorded in the ownership marker of a first-level derivatives folder.
KIND = "first-level"
#: ``Name`` in the derivatives' ``dataset_description.json``.
DESCRIPTION_NAME = "mindpain first level: hot>warm contrast maps"


# --------------------------------------------------------------------------- file names


def func_dir(out_dir, subject, session) -> Path:
    """Return the ``sub-X[/ses-Y]/func`` folder of a session's outputs."""
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
    return func_dir(out_dir, subject, session) / (
        f"{name_prefix(subject, session)}_{space_entities(space)}_contrast-{contrast}"
        f"_stat-{stat}_statmap.nii.gz")


def run_map_path(out_dir, spec: RunSpec, contrast: str, stat: str) -> Path:
    """Path of a per-run map (effect or variance) used by the fixed-effects step."""
    return func_dir(out_dir, spec.subject, spec.session) / (
        f"{spec.label}_{space_entities(spec.space)}_contrast-{contrast}_stat-{stat}"
        "_statmap.nii.gz")


def design_matrix_path(out_dir, spec: RunSpec) -> Path:
    """Path of a run's design matrix table."""
    return func_dir(out_dir, spec.subject, spec.session) / f"{spec.label}_desc-design_matrix.tsv"


def session_mask_path(out_dir, subject, session, space=DEFAULT_SPACE) -> Path:
    """Path of the mask of a session's maps (voxels every run covers)."""
    return func_dir(out_dir, subject, session) / (
        f"{name_prefix(subject, session)}_{space_entities(space)}_desc-brain_mask.nii.gz")


# --------------------------------------------------------------------------- resume


def run_inputs(spec: RunSpec, mask_img=None) -> dict:
    """Return ``{relative path: sha256}`` of a run's inputs."""
    paths = [spec.bold, spec.events] + ([spec.confounds] if spec.confounds else [])
    paths += bold_sidecars(spec)
    out = {}
    for p in paths:
        try:
            out[relative_source(p, spec)] = sha256(p)
        except OSError:
            out[relative_source(p, spec)] = None
    return out


def relative_source(p: Path, spec: RunSpec) -> str:
    """``p`` relative to the raw dataset or the BOLD's dataset (as recorded in sidecars)."""
    for root in (spec.bids_dir, spec.bold.parents[3] if len(spec.bold.parents) > 3 else None):
        if root is not None:
            try:
                return str(Path(p).relative_to(root))
            except ValueError:
                pass
    return str(p)


def is_current(outputs, key: dict) -> bool:
    """Whether every output exists with a sidecar of this key and of its own checksum."""
    for path in outputs:
        side = sidecar_path(path)
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


def write_outputs(items, key: dict, description: dict) -> None:
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
            staged.append((stage_file(sidecar_path(path), lambda t, m=meta: write_json(t, m)),
                           sidecar_path(path)))
        write_unit(staged, invalidate=[sidecar_path(path) for path, _ in items])
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)


def read_dof(path: Path):
    """Return the degrees of freedom in the sidecar of ``path`` (``None`` if unreadable)."""
    try:
        return json.loads(sidecar_path(path).read_text()).get("DegreesOfFreedom")
    except (OSError, ValueError):
        return None


def session_outputs(out_dir, subject, session, space) -> list:
    """Return the paths of a session's outputs: its mask, then every contrast and statistic."""
    return [session_mask_path(out_dir, subject, session, space)] + [
        session_map_path(out_dir, subject, session, c, s, space) for c in CONTRASTS
        for s in STATS]


def remove_stale(out_dir: Path, spec: RunSpec, session: bool = True) -> None:
    """Delete outputs (and sidecars) left from an earlier run of a failed run and its session."""
    stale = [design_matrix_path(out_dir, spec)]
    for contrast in CONTRASTS:
        stale += [run_map_path(out_dir, spec, contrast, s) for s in ("effect", "variance")]
    if session:
        stale += session_outputs(out_dir, spec.subject, spec.session, spec.space)
    for path in stale:
        for p in (path, sidecar_path(path)):
            p.unlink(missing_ok=True)


def failure_reason(err: Exception) -> str:
    """One line for an unexpected error in a run or session (OS errors say what to do)."""
    if isinstance(err, OSError):
        return os_error_message(err)
    return f"{type(err).__name__}: {' '.join(str(err).split())}"


# --------------------------------------------------------------------------- the folder


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
    (:data:`mindpain.core.folders.MARKER`, kind ``first-level``) or an older mindpain
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
