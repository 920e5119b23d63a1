"""Write the simulated twin as a BIDS dataset, deterministically and atomically.

The dataset is built in a hidden sibling folder (``.OUT.partial``) and moved onto ``OUT``
only when complete, so a failed or interrupted run leaves no partial dataset; re-running
with the same preset and seed resumes from the files already written.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from tqdm import tqdm

from mindpain import __version__
from mindpain.config import check_preset, check_seed, derive_rng, get_config
from mindpain.errors import MindpainError
from mindpain.images import make_img
from mindpain.io import check_writable_dir, replace_dir, write_json, write_nifti, write_tsv
from mindpain.twin import bids
from mindpain.twin.bold import session_patterns, synthesize_run
from mindpain.twin.params import load_parameters
from mindpain.twin.participants import draw_participants, draw_truth
from mindpain.twin.patterns import LATENTS, generator_space
from mindpain.twin.task import make_run_events

TRUTH_DIR = Path("derivatives") / "twin-truth"
STAMP = TRUTH_DIR / "generation.json"


def generation_key(preset: str, seed: int) -> dict:
    """Return what identifies a twin: preset, seed, package version, parameter checksum."""
    return {"preset": preset, "seed": seed, "mindpain_version": __version__,
            "parameters_sha256": load_parameters(preset).sha256}


def read_stamp(out) -> dict | None:
    """Return the generation key of a complete twin at ``out``, or ``None``."""
    import json

    path = Path(out) / STAMP
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def generate_twin(out, preset: str = "full", seed=None, *, overwrite: bool = False,
                  if_current: bool = False, n_jobs: int | None = None,
                  progress: bool = True) -> Path:
    """Generate the simulated twin of the trial as a BIDS dataset at ``out``.

    Parameters
    ----------
    out : str or path-like
        Output folder; must be new or empty unless ``overwrite``.
    preset : {"full", "small"}
        ``full`` for the book, ``small`` for tests.
    seed : int, optional
        Master seed (default: the configured one).
    overwrite : bool
        Replace a non-empty ``out``.
    if_current : bool
        Return at once when ``out`` already holds a complete twin of this preset and seed.
    n_jobs : int, optional
        Parallel workers for the runs (default: the configured ``n_jobs``).
    progress : bool
        Show a progress bar.

    Returns
    -------
    pathlib.Path
        The dataset folder.
    """
    cfg = get_config()
    preset = check_preset(preset)
    seed = cfg.seed if seed is None else check_seed(seed)
    n_jobs = cfg.n_jobs if n_jobs is None else n_jobs
    out = Path(out)
    key = generation_key(preset, seed)
    if read_stamp(out) == key and (if_current or not overwrite):
        if progress:
            print(f"{out}: twin ({preset}, seed {seed}) is complete and current")
        return out
    check_writable_dir(out, overwrite=overwrite or if_current and read_stamp(out) is not None)
    partial = out.parent / f".{out.name}.partial"
    try:
        partial.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MindpainError(f"cannot create the output folder ({err.strerror})", out) from None
    if read_stamp_partial(partial) != key:
        shutil.rmtree(partial)
        partial.mkdir(parents=True)
        write_json(partial / ".generation-in-progress.json", key)

    params = load_parameters(preset)
    participants = draw_participants(preset, seed)
    truth = draw_truth(participants, preset, seed)
    bids.write_top_level(partial, params, participants, key)
    jobs = []
    for rec in truth.itertuples(index=False):
        for run in range(1, params["task.n_runs"] + 1):
            paths = bids.run_paths(partial, rec.participant_id, rec.session, run)
            if all(p.exists() for p in paths):
                continue
            hot = participants.loc[participants.participant_id == rec.participant_id,
                                   "hot_temperature"].item()
            jobs.append(delayed(_write_run)(str(partial), preset, seed, rec._asdict(), run, hot))
    bar = tqdm(total=len(jobs), desc=f"twin {preset}: BOLD runs", disable=not progress,
               unit="run")
    for _ in Parallel(n_jobs=n_jobs, return_as="generator_unordered")(jobs):
        bar.update()
    bar.close()
    write_truth(partial, preset, seed, participants, truth, key)
    os.remove(partial / ".generation-in-progress.json")
    write_json(partial / STAMP, key)
    replace_dir(partial, out)
    return out


def read_stamp_partial(partial: Path) -> dict | None:
    """Return the key of an interrupted generation in ``partial``, or ``None``."""
    import json

    try:
        return json.loads((partial / ".generation-in-progress.json").read_text())
    except (OSError, ValueError):
        return None


def _write_run(root: str, preset: str, seed: int, rec: dict, run: int, hot: float) -> None:
    """Make and write one run: events and BOLD (each file atomically)."""
    params = load_parameters(preset)
    space = generator_space(preset)
    pid, ses = rec["participant_id"], rec["session"]
    events = make_run_events(derive_rng(seed, "events", pid, ses, run), params,
                             hot_temperature=hot, session_means=rec)
    patterns = session_patterns(space, params, rec, derive_rng(seed, "pattern", pid, ses))
    gain = 1.0 + params["bold.session_gain_sd"] * derive_rng(seed, "gain", pid, ses).normal()
    data = synthesize_run(space, params, events, patterns,
                          derive_rng(seed, "bold", pid, ses, run), gain=gain)
    bold_path, events_path = bids.run_paths(Path(root), pid, ses, run)
    img = make_img(data, space.affine)
    img.header.set_zooms((space.voxel_size,) * 3 + (params["task.repetition_time"],))
    img.header["cal_min"], img.header["cal_max"] = 0, 0
    write_tsv(events_path, events, float_format="%.3f")
    write_nifti(bold_path, img)


def write_truth(root: Path, preset: str, seed: int, participants: pd.DataFrame,
                truth: pd.DataFrame, key: dict) -> None:
    """Write the planted truth under ``derivatives/twin-truth/``."""
    from mindpain.twin.model import derive_constants, planted_trial_effects, twin_space

    params = load_parameters(preset)
    space = twin_space(preset)
    const = derive_constants(preset)
    out = root / TRUTH_DIR
    write_json(out / "dataset_description.json", {
        "Name": "mindpain twin: planted truth", "BIDSVersion": bids.BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "mindpain", "Version": __version__,
                         "Description": f"preset={preset}, seed={seed}"}],
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
                           ("nps", "siips1", "nps_pos", "nps_neg", "intensity")},
        "observed_change_sd": const.observed_change_sd,
        "observed_level_sd": const.observed_level_sd, "latent_shift": const.latent_shift,
        "observed_shift": const.observed_shift,
        "loadings_of_latent_responses": {"rows": ["nps", "siips1", "nps_pos", "nps_neg"],
                                         "columns": list(LATENTS),
                                         "matrix": space.readout.round(6)},
    })
    write_tsv(out / "planted_effects.tsv", planted_trial_effects(preset))
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
