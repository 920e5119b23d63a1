"""The pipeline end to end, as the chapters use it: dataset -> first level -> scores -> outcomes.

Each step is idempotent: the twin is generated only when absent or stale, first-level
outputs are recomputed only when their inputs or settings change, and scores are cheap
to recompute. Data flow one way; this module only calls the stage modules.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mindpain.core.checksums import (
    checked_before,
    code_closure,
    code_fingerprint,
    remember_checked,
    tree_state,
)
from mindpain.core.config import Config
from mindpain.core.vocabulary import MOTION_CONFOUNDS, RATING_OUTCOMES, TRIAL_OUTCOMES


def ensure_dataset(cfg: Config) -> Path:
    """Return the BIDS dataset to analyse; generate the twin when it is absent or stale."""
    if cfg.bids_dir is not None:
        return Path(cfg.bids_dir)
    from mindpain.twin import generate_twin

    return generate_twin(cfg.twin_dir, preset=cfg.preset, seed=cfg.seed, world=cfg.world,
                         if_current=True,
                         n_jobs=cfg.n_jobs, progress=False)


def twin_confounds_dir(bids_dir) -> Path | None:
    """Return the twin's confounds folder inside ``bids_dir`` (realistic world), or ``None``."""
    from mindpain.first_level.runs import TWIN_CONFOUNDS_DIR

    folder = Path(bids_dir) / TWIN_CONFOUNDS_DIR
    return folder if folder.is_dir() else None


def first_level_inputs(cfg: Config, bids_dir) -> dict:
    """Keyword arguments of the first level for the configured dataset.

    The twin's confounds folder (realistic world) for raw BOLD, or the user's fMRIPrep
    derivatives (``MINDPAIN_FMRIPREP``) with the book's motion confounds; the output space
    (``MINDPAIN_SPACE``) and the dataset map (``MINDPAIN_DATASET_MAP``). Both
    :func:`ensure_first_level` and chapter 2 fit with these.
    """
    fmriprep = cfg.fmriprep_dir
    return {"fmriprep": fmriprep,
            "confounds_dir": None if fmriprep else twin_confounds_dir(bids_dir),
            # the book's model: the motion set, also from fMRIPrep's confounds
            "confounds": MOTION_CONFOUNDS if fmriprep else None,
            "space": cfg.space, "dataset_map": cfg.dataset_map}


def first_level_dir(cfg: Config) -> Path:
    """Return the folder of the first-level derivatives of the configured dataset."""
    return cfg.derivatives_dir / "first-level"


def ensure_first_level(cfg: Config, progress: bool = False) -> Path:
    """Run the first level on every run of the dataset (a no-op when up to date).

    Raises
    ------
    mindpain.core.errors.MindpainError
        When any run failed; the message lists them.
    """
    from mindpain.core.errors import MindpainError
    from mindpain.first_level.runs import run_first_level

    bids_dir = ensure_dataset(cfg)
    out = first_level_dir(cfg)
    kwargs = first_level_inputs(cfg, bids_dir)
    inputs = tuple(kwargs[k] for k in ("confounds_dir", "fmriprep", "space", "dataset_map"))
    if checked_before(_first_level_check(bids_dir, out, inputs)[0]):
        return out
    summary = run_first_level(bids_dir, out, n_jobs=cfg.n_jobs, progress=progress,
                              dask_scheduler=cfg.dask_scheduler, **kwargs)
    if not summary.ok:
        raise MindpainError(f"first level failed for {len(summary.failed)} run(s); "
                            f"see {out}", bids_dir)
    remember_checked(*_first_level_check(bids_dir, out, inputs))
    return out


def _first_level_check(bids_dir, out, inputs) -> tuple[str, int]:
    """Key of "every first-level output of this dataset is current": code and both trees.

    While no file under the dataset or its derivatives changed (nor the code that fits and
    checks them), a chapter need not check the runs one by one again (see
    :func:`mindpain.core.checksums.remember_checked`; only with the checksum cache configured).
    """
    from mindpain import __version__

    confounds_dir, fmriprep, space, dataset_map = inputs
    tree, newest = tree_state(bids_dir, out)
    if fmriprep is not None:
        tree += "\t" + tree_state(fmriprep, out)[0]
    code = code_fingerprint(code_closure("mindpain.first_level.runs"))
    key = "\t".join(["first-level", __version__, code, str(bids_dir), str(out),
                     str(confounds_dir), tree])
    if any(v is not None for v in (fmriprep, space, dataset_map)):
        key += "\t" + "\t".join(str(v) for v in (fmriprep, space, dataset_map))
    return key, newest


def outcome_signatures(cfg: Config) -> dict:
    """Return the signatures behind the outcome columns (official if present, else surrogates)."""
    from mindpain.signatures import default_signatures, get_signature

    nps, siips1 = default_signatures(cfg.data_dir, cfg.surrogate_cache_dir)
    return {"nps": nps, **{f"nps_{sign}": get_signature(f"{nps.name}-{sign}", cfg.data_dir,
                                                        cfg.surrogate_cache_dir)
                           for sign in ("pos", "neg")}, "siips1": siips1}


def session_scores(cfg: Config, subregions: bool = False) -> pd.DataFrame:
    """Score every session's hot>warm effect map with the outcome signatures (dot product).

    Returns the scoring stage's long table plus an ``outcome`` column naming the outcome
    each signature measures.
    """
    import warnings

    from mindpain.scoring import ResamplingWarning, score_maps

    deriv = ensure_first_level(cfg)
    # Session maps only (runs combined by fixed effects); run-level maps carry ``_run-``.
    pattern = "sub-*/ses-*/func/*_contrast-hotVsWarm_stat-effect_statmap.nii.gz"
    maps = sorted(p for p in deriv.glob(pattern) if "_run-" not in p.name)
    signatures = outcome_signatures(cfg)
    with warnings.catch_warnings():
        # The dataset's grid differs from the signatures' 2 mm grid by design: the weights
        # are resampled to the data grid (CANlab semantics), as documented in chapter 3.
        warnings.simplefilter("ignore", ResamplingWarning)
        table = score_maps(maps, list(signatures.values()), metrics=("dot",),
                           subregions=subregions, n_jobs=cfg.n_jobs, data_dir=cfg.data_dir)
    names = {sig.name: outcome for outcome, sig in signatures.items()}
    table["outcome"] = table["signature"].map(names)
    return table


def load_outcomes(cfg: Config) -> pd.DataFrame:
    """Return the outcomes table: one row per participant and session.

    Columns: ``participant_id, session, group, age, sex`` and the outcomes
    :data:`mindpain.core.vocabulary.TRIAL_OUTCOMES` (signature responses of the hot>warm map, mean
    hot-trial ratings).
    Works the same on the twin and on a user's BIDS dataset.
    """
    from mindpain.bids import load_events, load_participants
    from mindpain.bids.describe import session_ratings

    bids_dir = ensure_dataset(cfg)
    scores = session_scores(cfg)
    whole = scores[scores["region"] == "whole"]
    wide = whole.pivot_table(index=["participant_id", "session"], columns="outcome",
                             values="response", aggfunc="first").reset_index()
    wide.columns.name = None
    ratings = session_ratings(load_events(bids_dir, dataset_map=cfg.dataset_map))[
        ["participant_id", "session", *RATING_OUTCOMES]]
    participants = load_participants(bids_dir, cfg.dataset_map)
    keep = [c for c in ("participant_id", "group", "age", "sex") if c in participants]
    table = (wide.merge(ratings, on=["participant_id", "session"], how="outer")
             .merge(participants[keep], on="participant_id", how="left"))
    order = {"pre": 0, "post": 1}
    table = table.sort_values(["participant_id", "session"],
                              key=lambda s: s.map(order) if s.name == "session" else s)
    columns = ["participant_id", "session", *[c for c in ("group", "age", "sex") if c in table],
               *TRIAL_OUTCOMES]
    return table[columns].reset_index(drop=True)
