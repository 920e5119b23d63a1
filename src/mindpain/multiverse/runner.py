"""Running the multiverse: each first-level variant and its scoring, then the curve.

Each variant's first level is the stage's own run loop with the variant's settings
(:mod:`mindpain.first_level.runs`), written into the variant's own folder under the multiverse's
work folder (:func:`work_folder`, marked as the multiverse's; :func:`variant_dir`), never
into the pipeline's derivatives, not even for the variant whose settings are the
pipeline's. Outputs are content-keyed by the first-level stage, so a variant is computed
once and reused. The confound axis reads the twin's fMRIPrep-named confounds (realistic
world). Each variant's session maps are scored with :func:`mindpain.scoring.engine.score_maps`,
and :func:`run_multiverse` analyses the scores of every variant
(:func:`mindpain.multiverse.curve.analyse_scores`).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import METRICS
from mindpain.multiverse.curve import N_PERMUTATIONS, Multiverse, analyse_scores
from mindpain.multiverse.grid import OUTCOMES, FirstLevelVariant, first_level_variants

#: Kind of the ownership marker of the multiverse's work folder.
MARKER_KIND = "multiverse"


def work_folder(cfg) -> Path:
    """Return the multiverse's work folder of ``cfg``'s dataset (beside, not in, its derivatives).

    ``<work dir>/multiverse/<name of the derivatives folder>``: the pipeline's derivatives
    (:attr:`mindpain.core.config.Config.derivatives_dir`) are never written by the multiverse.
    """
    return Path(cfg.work_dir) / "multiverse" / Path(cfg.derivatives_dir).name


def prepare_work_folder(cfg) -> Path:
    """Create (and mark) the multiverse's work folder, or refuse one it did not make.

    Raises
    ------
    MindpainError
        The folder holds files but no multiverse ownership marker.
    """
    from mindpain.core.folders import MARKER, read_marker, write_marker

    folder = work_folder(cfg)
    marker = read_marker(folder) if folder.is_dir() else None
    if folder.exists() and not folder.is_dir():
        raise MindpainError("exists and is not a folder; expected the multiverse's work folder",
                            folder)
    if marker is not None and marker["kind"] != MARKER_KIND:
        raise MindpainError(f"holds a mindpain {marker['kind']}, not the multiverse's work "
                            "folder; move it away", folder)
    if marker is None and folder.is_dir() and any(folder.iterdir()):
        raise MindpainError(f"folder is not empty and was not made by the multiverse (no {MARKER} "
                            "marker); mindpain never writes into a folder it did not make; "
                            "move it away", folder)
    folder.mkdir(parents=True, exist_ok=True)
    if marker is None:
        write_marker(folder, MARKER_KIND)
    return folder


def variant_dir(cfg, variant: FirstLevelVariant) -> Path:
    """Return a variant's derivative folder: its own, inside :func:`work_folder`."""
    return work_folder(cfg) / f"first-level-{variant.label}"


def run_variant(cfg, bids_dir, variant: FirstLevelVariant, signatures, progress=False):
    """First level (trial participants) and scoring of one variant.

    Returns
    -------
    tuple
        (long score table ``participant_id, session, outcome, metric, response``,
        seconds spent, runs computed).
    """
    from mindpain import bids
    from mindpain.first_level import group as group_level
    from mindpain.first_level import outputs as first_level_outputs
    from mindpain.first_level import runs as fl
    from mindpain.pipeline import twin_confounds_dir
    from mindpain.scoring import ResamplingWarning, score_maps

    start = time.perf_counter()
    confounds_dir = None
    if variant.confounds != "none":
        confounds_dir = twin_confounds_dir(bids_dir)
        if confounds_dir is None:
            raise MindpainError(f"has no confounds folder; the multiverse's confound set "
                                f"{variant.confounds!r} needs the realistic twin's confounds",
                                bids_dir)
    prepare_work_folder(cfg)
    out = first_level_outputs.prepare_out_dir(variant_dir(cfg, variant), bids_dir)
    first_level_outputs.write_dataset_description(out, bids_dir)
    specs = bids.find_runs(bids_dir, participant_label=group_level.naive_subjects(bids_dir),
                           confounds_dir=confounds_dir)
    # The stage's own run loop, with this variant's settings (run_first_level exposes
    # only the smoothing); outputs are content-keyed, so an unchanged variant is skipped.
    summary = fl.fit_runs(specs, out, variant.settings(), None, cfg.n_jobs, progress)
    if not summary.ok:
        path, reason = summary.failed[0]
        raise MindpainError(f"first level ({variant.label}) failed for "
                            f"{len(summary.failed)} run(s): {reason}", path)
    maps = [m["hotVsWarm"]["effect"] for _, m in sorted(summary.session_maps.items())]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResamplingWarning)
        table = score_maps(maps, list(signatures.values()), metrics=METRICS,
                           n_jobs=cfg.n_jobs, data_dir=cfg.data_dir)
    names = {sig.name: outcome for outcome, sig in signatures.items()}
    table["outcome"] = table["signature"].map(names)
    table = table[table["region"] == "whole"]
    runs = sum(1 for label in summary.computed if "_run-" in label)
    return (table[["participant_id", "session", "outcome", "metric", "response"]]
            .assign(first_level=variant.label), time.perf_counter() - start, runs)


def run_multiverse(cfg, contrast: str = "MBSR_vs_HEP", n_permutations: int = N_PERMUTATIONS,
                   progress: bool = False, grid: str = "book") -> Multiverse:
    """Run every first-level variant and scoring on ``cfg``'s dataset, then the curve.

    Returns
    -------
    Multiverse
        ``specs`` (columns :data:`~mindpain.multiverse.grid.SPEC_COLUMNS`), ``null`` (one row per
        outcome and permutation), ``summary`` (share significant, median d, their null p values) and
        ``timing`` (seconds per variant and for the statistics).
    """
    from mindpain.bids import load_participants
    from mindpain.multiverse.replications import recoverable_truth
    from mindpain.pipeline import ensure_dataset, outcome_signatures
    from mindpain.trial.analysis import truth_table
    from mindpain.twin.params import load_parameters

    bids_dir = ensure_dataset(cfg)
    sigs = outcome_signatures(cfg)
    sigs = {k: sigs[k] for k in OUTCOMES}
    frames, timing = [], {"variants": {}}
    for variant in first_level_variants(grid, cfg.world):
        table, seconds, runs = run_variant(cfg, bids_dir, variant, sigs, progress)
        frames.append(table)
        timing["variants"][variant.label] = {"seconds": seconds, "runs_computed": runs}
    start = time.perf_counter()
    truth = truth_table(cfg)
    truth = truth[truth["contrast"] == contrast].set_index("outcome")["planted_d"]
    # recoverable where a planted value exists (blanked for an official signature's outcome)
    params = load_parameters(cfg.preset, cfg.world)
    recoverable = {k: v for k, v in recoverable_truth(params, contrast).items()
                   if np.isfinite(float(truth.get(k, np.nan)))}
    result = analyse_scores(pd.concat(frames, ignore_index=True), load_participants(bids_dir),
                            {k: float(truth.get(k, np.nan)) for k in OUTCOMES}, contrast,
                            n_permutations, cfg.seed, world=cfg.world, recoverable=recoverable)
    timing["statistics_seconds"] = time.perf_counter() - start
    result.timing = timing
    return result
