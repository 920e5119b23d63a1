"""Write the simulated twin as a BIDS dataset, deterministically and atomically.

The dataset is built in a hidden sibling folder (``.mindpain-partial-OUT-<token>``, a name
only this package uses) and moved onto ``OUT`` only when complete, so a failed or
interrupted run leaves no partial dataset; re-running with the same preset and seed resumes
from the files already written.

A finished twin carries an ownership marker (:data:`mindpain.core.folders.MARKER`) with its
generation
key and a manifest (size and sha256 of every file). The marker decides what may happen to
an existing ``OUT``:

* the same preset and seed, every file as written: nothing to do (``--if-current``, or no
  option);
* the same preset and seed but stale (another package version, set of files
  (:data:`FILE_SET`) or parameter file) or damaged
  (a file deleted, emptied or changed): regenerated with ``--if-current`` or ``--overwrite``;
* another preset or seed: replaced only with ``--overwrite``;
* files the manifest does not list (a user's), or no marker at all (not a twin): refused,
  whatever the options; nothing is changed.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from mindpain import __version__
from mindpain.core.checksums import sha256
from mindpain.core.config import check_preset, check_seed
from mindpain.core.errors import MindpainError
from mindpain.core.folders import (
    check_output_folder,
    check_writable_dir,
    folder_lock,
    partial_dir,
    read_marker,
    replace_dir,
    write_marker,
)
from mindpain.core.images import make_img
from mindpain.core.io import write_json, write_nifti, write_tsv
from mindpain.core.vocabulary import (
    DEFAULT_SEED,
    DEFAULT_WORLD,
    PLANTED_MEDITATOR_FILE,
    PLANTED_TRIAL_FILE,
    TASK,
    TWIN_CONFOUNDS_DIR,
    TWIN_READOUTS,
    TWIN_TRUTH_DIR,
)
from mindpain.twin import bids
from mindpain.twin.params import Parameters, load_parameters
from mindpain.twin.participants import draw_participants, draw_truth
from mindpain.twin.patterns import LATENTS, generator_space
from mindpain.twin.run import make_run

TRUTH_DIR = Path(TWIN_TRUTH_DIR)
#: Version of the twin's set of files, part of its generation key: a twin written with another
#: set is stale (``--if-current`` regenerates it). 2: the planted meditator effects
#: (:data:`~mindpain.core.vocabulary.PLANTED_MEDITATOR_FILE`) and sidecars of both planted tables.
FILE_SET = 2
STAMP = TRUTH_DIR / "generation.json"
#: Kind of folder recorded in the ownership marker of a finished twin / a twin being built.
KIND, PARTIAL_KIND = "twin", "twin-partial"


def generation_key(params: Parameters, seed: int) -> dict:
    """Return what identifies a twin: preset, seed, world, version, file set, parameter checksum.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset, world and the parameter files' checksum).
    seed : int
        Master seed.

    Returns
    -------
    dict
        ``preset, seed, world, mindpain_version, file_set, parameters_sha256``.
    """
    return {"preset": params.preset, "seed": seed, "world": params.world,
            "mindpain_version": __version__, "file_set": FILE_SET,
            "parameters_sha256": params.sha256}


def read_stamp(out) -> dict | None:
    """Return the generation key of a complete twin at ``out``, or ``None``."""
    import json

    path = Path(out) / STAMP
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def manifest(root) -> dict:
    """Return ``{relative path: [size, sha256]}`` of every file under ``root`` but the marker."""
    from mindpain.core.folders import MARKER

    root = Path(root)
    return {p.relative_to(root).as_posix(): [p.stat().st_size, sha256(p)]
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != MARKER}


def twin_problems(out) -> tuple[dict | None, list, list]:
    """Inspect the twin at ``out``: ``(marker, damage, foreign)``.

    ``marker`` is the ownership marker (``None`` if ``out`` holds no finished twin made by
    this package); ``damage`` lists files of the manifest that are missing or changed (size
    or sha256); ``foreign`` lists files the manifest does not list.
    """
    from mindpain.core.folders import MARKER

    out = Path(out)
    marker = read_marker(out)
    present = {p.relative_to(out).as_posix(): p for p in out.rglob("*")
               if p.is_file() and p.name != MARKER}
    if marker is None:
        return _legacy_problems(out, present)
    if marker.get("kind") != KIND or not isinstance(marker.get("files"), dict):
        return None, [], []
    files = marker["files"]
    foreign = sorted(set(present) - set(files))
    damage = []
    for rel, (size, digest) in sorted(files.items()):
        path = present.get(rel)
        if path is None:
            damage.append(f"{rel} is missing")
        elif path.stat().st_size != size:
            damage.append(f"{rel} has {path.stat().st_size} bytes, not {size}")
        elif sha256(path) != digest:
            damage.append(f"{rel} was changed (sha256)")
    return marker, damage, foreign


#: Files of a twin made before ownership markers existed (recognised by name).
_LEGACY = re.compile(
    r"(dataset_description\.json|README\.md|CHANGES|participants\.(tsv|json)|sessions\.json"
    r"|mindpain-map\.toml|\.bidsignore"
    rf"|phenotype/practice\.(tsv|json)|task-{TASK}_(bold|events)\.json"
    r"|derivatives/twin-truth/[^/]+"
    rf"|{TWIN_CONFOUNDS_DIR}/(dataset_description\.json|task-{TASK}_desc-confounds_timeseries"
    rf"\.json|(?P<c>sub-[^/_]+)/ses-(?P<t>[^/_]+)/func/(?P=c)_ses-(?P=t)_task-{TASK}_run-\d+"
    r"_desc-confounds_timeseries\.tsv)"
    r"|(?P<a>sub-[^/_]+)/(?P=a)_sessions\.tsv"
    rf"|(?P<b>sub-[^/_]+)/ses-(?P<s>[^/_]+)/func/(?P=b)_ses-(?P=s)_task-{TASK}_run-\d+"
    r"_(bold\.nii\.gz|events\.tsv))")


def _legacy_problems(out: Path, present: dict) -> tuple[dict | None, list, list]:
    """Inspect a twin written before markers (its stamp and description name mindpain)."""
    import json

    stamp = read_stamp(out)
    try:
        made_by = json.loads((out / "dataset_description.json").read_text())["GeneratedBy"][0]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        made_by = {}
    if not isinstance(stamp, dict) or "seed" not in stamp or made_by.get("Name") != "mindpain":
        return None, [], []
    foreign = sorted(rel for rel in present if not _LEGACY.fullmatch(rel))
    return ({"kind": KIND, "key": stamp}, ["it has no content manifest (made by an older "
                                           "mindpain)"], foreign)


def _describe(key: dict, world: bool = False) -> str:
    text = f"preset {key.get('preset')}, seed {key.get('seed')}"
    return text + (f", world {key.get('world', 'ideal')}" if world else "")


def _check_existing(out: Path, key: dict, overwrite: bool, if_current: bool) -> str:
    """Decide what to do with an existing ``out``: ``"keep"``, ``"make"``; or raise."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return "make"
    marker, damage, foreign = twin_problems(out)
    if marker is None:
        raise MindpainError("folder is not empty and holds no twin made by mindpain (no "
                            ".mindpain.json marker); mindpain never replaces a folder it did "
                            "not make; choose a new or empty folder", out)
    if foreign:
        raise MindpainError(f"holds {len(foreign)} file(s) mindpain did not write (e.g. "
                            f"{foreign[0]}); move them out of the twin first; nothing was "
                            "changed", out)
    old = marker.get("key", {})
    if old == key and not damage:
        return "make" if overwrite and not if_current else "keep"
    same_twin = ({k: old.get(k) for k in ("preset", "seed")} == {k: key[k] for k in
                                                                 ("preset", "seed")}
                 # a twin made before worlds existed carries none: stale, not another twin
                 and old.get("world", key["world"]) == key["world"])
    if not same_twin and not overwrite:
        worlds = old.get("world", key["world"]) != key["world"]
        raise MindpainError(f"holds a twin of {_describe(old, worlds)}, not "
                            f"{_describe(key, worlds)}; pass --overwrite to replace it", out)
    if same_twin and not (overwrite or if_current):
        why = damage[0] if damage else ("made by another mindpain version, set of files or "
                                         "parameter file")
        raise MindpainError(f"holds this twin ({_describe(key)}) but {why}; pass --if-current "
                            "to regenerate it", out)
    return "make"


def generate_twin(out, preset: str = "full", seed: int = DEFAULT_SEED, *,
                  world: str = DEFAULT_WORLD, overwrite: bool = False, if_current: bool = False,
                  n_jobs: int = 1, progress: bool = True) -> Path:
    """Generate the simulated twin of the trial as a BIDS dataset at ``out``.

    Parameters
    ----------
    out : str or path-like
        Output folder: new, empty, or a twin made by this package (see the module notes).
    preset : {"full", "small"}
        ``full`` for the book, ``small`` for tests.
    seed : int
        Master seed (the command line and the chapters pass the configured one).
    world : {"realistic", "ideal"}
        ``realistic`` (default): BOLD with the nuisance of real scans (head motion and its
        signal, physiological noise, noise that is not AR(1), HRF differences, session
        misregistration, trial temperature; see :mod:`mindpain.twin.nuisance`), with
        fMRIPrep-named confounds under ``derivatives/twin-confounds/``. ``ideal``: BOLD made
        by the analysis model itself (canonical HRF, AR(1) noise), no confounds.
    overwrite : bool
        Replace a twin of another preset, seed or world (never a folder mindpain did not make,
        nor a twin holding files it did not write).
    if_current : bool
        Return at once when ``out`` holds this preset and seed, every file as written;
        regenerate it when it is stale or damaged.
    n_jobs : int
        Parallel workers for the runs (joblib; -1 = every core).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        The dataset folder.
    """
    from mindpain.core.config import check_n_jobs

    preset = check_preset(preset)
    seed = check_seed(seed)
    n_jobs = check_n_jobs(n_jobs)
    out = check_output_folder(out, what="twin folder")
    params = load_parameters(preset, world)
    key = generation_key(params, seed)
    # Refusals, and a twin already current, need no lock (nor a writable parent folder).
    if _check_existing(out, key, overwrite, if_current) == "keep":
        return _kept(out, params, seed, progress)
    check_writable_dir(out.parent, overwrite=True)
    with folder_lock(out):
        return _generate(out, params, seed, key, overwrite, if_current, n_jobs, progress)


def _kept(out: Path, params: Parameters, seed: int, progress: bool) -> Path:
    if progress:
        print(f"{out}: twin ({params.preset}, seed {seed}, world {params.world}) is complete "
              "and current")
    return out


def _generate(out: Path, params: Parameters, seed: int, key: dict, overwrite: bool,
              if_current: bool, n_jobs: int, progress: bool) -> Path:
    """Body of :func:`generate_twin`, run while holding the folder's build lock."""
    if _check_existing(out, key, overwrite, if_current) == "keep":  # made while we waited
        return _kept(out, params, seed, progress)
    partial = partial_dir(out)
    if partial.is_symlink() or (partial.exists() and not partial.is_dir()):
        raise MindpainError("is in the way of the twin being built; remove it", partial)
    resumable = read_stamp_partial(partial) == key
    if partial.exists() and not resumable:
        marker = read_marker(partial)
        if any(partial.iterdir()) and (marker is None or marker["kind"] != PARTIAL_KIND):
            raise MindpainError("is in the way of the twin being built and was not made by "
                                "mindpain; remove it", partial)
        shutil.rmtree(partial)
    if not resumable:
        partial.mkdir(parents=True)
        write_marker(partial, PARTIAL_KIND, key=key)
        write_json(partial / ".generation-in-progress.json", key)

    participants = draw_participants(params, seed)
    truth = draw_truth(participants, params, seed)
    bids.write_top_level(partial, params, participants, key)
    if params.realistic:
        bids.write_confounds_top_level(partial, key)
    jobs = []
    for rec in truth.itertuples(index=False):
        for run in range(1, params["task.n_runs"] + 1):
            paths = bids.run_paths(partial, rec.participant_id, rec.session, run)
            if params.realistic:
                paths += (bids.confounds_path(partial, rec.participant_id, rec.session, run),)
            if all(p.exists() for p in paths):
                continue
            hot = participants.loc[participants.participant_id == rec.participant_id,
                                   "hot_temperature"].item()
            jobs.append(delayed(_write_run)(str(partial), params, seed, rec._asdict(), run, hot))
    bar = tqdm(total=len(jobs), desc=f"twin {params.preset}: BOLD runs", disable=not progress,
               unit="run")
    for _ in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        bar.update()
    bar.close()
    write_truth(partial, params, seed, participants, truth, key)
    os.remove(partial / ".generation-in-progress.json")
    write_json(partial / STAMP, key)
    write_marker(partial, KIND, key=key, files=manifest(partial))
    replace_dir(partial, out)
    for old in out.parent.glob(f".mindpain-old-{out.name}-*"):  # left by a crash mid-swap
        if (read_marker(old) or {}).get("kind") == KIND:
            shutil.rmtree(old, ignore_errors=True)
    return out


def read_stamp_partial(partial: Path) -> dict | None:
    """Return the key of an interrupted generation in ``partial``, or ``None``."""
    import json

    try:
        return json.loads((partial / ".generation-in-progress.json").read_text())
    except (OSError, ValueError):
        return None


def _write_run(root: str, params: Parameters, seed: int, rec: dict, run: int,
               hot: float) -> None:
    """Make and write one run: events, BOLD and (realistic world) confounds, atomically."""
    space = generator_space(params)
    pid, ses = rec["participant_id"], rec["session"]
    data = make_run(params, seed, rec, run, hot)
    bold_path, events_path = bids.run_paths(Path(root), pid, ses, run)
    img = make_img(data.bold, space.affine)
    img.header.set_zooms((space.voxel_size,) * 3 + (params["task.repetition_time"],))
    img.header["cal_min"], img.header["cal_max"] = 0, 0
    if data.confounds is not None:
        write_tsv(bids.confounds_path(Path(root), pid, ses, run), data.confounds,
                  float_format="%.6g")
    write_tsv(events_path, data.events, float_format="%.3f")
    write_nifti(bold_path, img)


def write_truth(root: Path, params: Parameters, seed: int, participants: pd.DataFrame,
                truth: pd.DataFrame, key: dict) -> None:
    """Write the planted truth under ``derivatives/twin-truth/``.

    Parameters
    ----------
    root : pathlib.Path
        The dataset folder.
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset and world).
    seed : int
        Master seed.
    participants, truth : pandas.DataFrame
        :func:`~mindpain.twin.participants.draw_participants` and
        :func:`~mindpain.twin.participants.draw_truth`.
    key : dict
        :func:`generation_key`.
    """
    from mindpain.twin.meditators import planted_meditator_effects
    from mindpain.twin.model import derive_constants, planted_trial_effects, twin_space

    preset, world = params.preset, params.world
    space = twin_space(params)
    const = derive_constants(params)
    out = root / TRUTH_DIR
    write_json(out / "dataset_description.json", {
        "Name": "mindpain twin: planted truth", "BIDSVersion": bids.BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "mindpain", "Version": __version__,
                         "Description": f"preset={preset}, seed={seed}, "
                                        f"world={world}"}],
    })
    write_tsv(out / "truth.tsv", truth)
    write_json(out / "truth.json", bids.TRUTH_SIDECAR)
    write_tsv(out / "parameters.tsv", params.table())
    write_tsv(out / "similarity.tsv", space.similarity)
    write_json(out / "constants.json", {
        "preset": preset, "seed": seed, "voxel_size_mm": space.voxel_size,
        "n_voxels_in_mask": space.n_voxels,
        "baseline_mean": const.mean, "between_sd": const.between_sd,
        "change_sd": const.change_sd,
        "measurement_sd": {k: const.measurement_sd(k) for k in
                           (*TWIN_READOUTS, "intensity")},
        "observed_change_sd": const.observed_change_sd,
        "observed_level_sd": const.observed_level_sd, "latent_shift": const.latent_shift,
        "observed_shift": const.observed_shift,
        "loadings_of_latent_responses": {"rows": list(TWIN_READOUTS),
                                         "columns": list(LATENTS),
                                         "matrix": space.readout.round(6)},
    })
    # The planted truth the analyses compare their estimates with (read by mindpain.truth),
    # at full precision so that reading it back gives the generator's values exactly.
    for name, table, sidecar in (
            (PLANTED_TRIAL_FILE, planted_trial_effects(params), bids.PLANTED_TRIAL_SIDECAR),
            (PLANTED_MEDITATOR_FILE, planted_meditator_effects(params),
             bids.PLANTED_MEDITATOR_SIDECAR)):
        write_tsv(out / name, table)
        write_json(out / Path(name).with_suffix(".json"), sidecar)
    mean_pattern = sum(const.mean[k] * space.generator.patterns[k] for k in LATENTS)
    maps = {
        "desc-plantedHotVsWarm_effect": mean_pattern
        + params["bold.generic_percent"] * space.generator.generic,
        "desc-nociceptive_pattern": space.generator.patterns["nociceptive"],
        "desc-modulatory_pattern": space.generator.patterns["modulatory"],
        "desc-npsSurrogate_weights": space.weights["nps"],
        "desc-siips1Surrogate_weights": space.weights["siips1"],
        "desc-brain_mask": np.ones(space.n_voxels),
    }
    for name, vec in maps.items():
        dtype = np.uint8 if name.endswith("mask") else np.float32
        write_nifti(out / f"space-MNI152NLin6Asym_res-twin_{name}.nii.gz",
                    make_img(space.to_volume(vec.astype(dtype)), space.affine))
