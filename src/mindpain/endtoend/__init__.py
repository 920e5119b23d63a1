r"""End-to-end calibration: the trial replicated through BOLD, first level, scoring and models.

The participant-level calibration (:func:`mindpain.trial.calibration.calibrate_trial`) draws the
observed signature responses directly from the twin's measurement model; it never passes
through BOLD. This stage replicates the whole trial ``R`` times **through the pipeline**,
in both worlds of the twin (``ideal``: the analysis model's own generator; ``realistic``:
motion, physiological noise, non-AR(1) noise, HRF differences, misregistration, trial
temperature, skewed responses and unequal arm variances; :mod:`mindpain.twin.nuisance`),
and in a third scenario, the ideal world with dropout that depends on baseline
(:data:`~mindpain.endtoend.settings.SCENARIOS`):

1. replication ``r`` gets its own seed, derived from the master seed
   (``derive_rng(seed, "endtoend", r)``; the same in every scenario, so they are paired);
   participants and their latent truth are drawn with it
   (:func:`~mindpain.twin.participants.draw_participants`,
   :func:`~mindpain.twin.participants.draw_truth`);
2. every run of every session of the trial's completers is simulated in memory by
   :func:`mindpain.twin.run.make_run` (the function behind the twin's files), with all
   of the world's nuisance;
3. each run is fitted by the first level's model (:mod:`mindpain.first_level.glm`: nilearn's design,
   mean scaling, AR(1) noise model with binned coefficients) with the first level's
   settings (:class:`mindpain.first_level.runs.ModelSettings`), its implicit EPI mask and, in
   the realistic world, its confound selection (:data:`mindpain.first_level.runs.MOTION_CONFOUNDS`);
   the run's onsets and confounds are rounded as the twin's files write them
   (:func:`~mindpain.endtoend.glm.run_events`,
   :func:`~mindpain.endtoend.glm.select_confounds`); **the BOLD is never written**;
4. the runs of a session are combined by fixed effects as the first level does (equal
   weights: the mean effect, inside the voxels every run's mask covers);
5. the session's hot>warm effect map is scored by the dot product with the open surrogate
   signatures resampled to the data grid (as :func:`mindpain.scoring.engine.score_maps`);
6. the trial models are fitted on all replications at once and the 95% CI of every
   contrast's effect is put on the paper's scale (:mod:`mindpain.reported`) and checked
   against the twin's planted paper-scale effect
   (:func:`mindpain.twin.model.planted_trial_effects`).

Modules, one concern each (the names below are also importable from
:mod:`mindpain.endtoend` itself)

- :mod:`mindpain.endtoend.settings`: scenarios, outcomes, contrasts, models, the table's
  columns and the seed of each replication;
- :mod:`mindpain.endtoend.glm`: the first level of one simulated run, in memory (steps 3-4);
- :mod:`mindpain.endtoend.replication`: one replication (steps 1-5) and the analysis mask;
- :mod:`mindpain.endtoend.coverage`: the trial models and the coverage table (step 6);
- :mod:`mindpain.endtoend.runner`: content key, per-replication cache and joblib workers
  (:func:`~mindpain.endtoend.runner.run_endtoend`);
- :mod:`mindpain.endtoend.results`: the committed result (written by ``make calibrate``,
  ``python -m mindpain.endtoend``; read by the book; re-keyed by ``make calibrate-rekey``);
- :mod:`mindpain.endtoend.transfer`: what the pipeline does to a latent effect (gain, offset,
  noise per signature and world), measured on replications with seeds of their own
  (``make transfer``); the twin plants its effects through it, so the reported contrasts'
  expected t hold through the pipeline.

Results are cached by a content key (:func:`~mindpain.endtoend.runner.content_key`: preset,
seed, scenarios, replications and a hash of the code of every module involved and of the
parameter file); ``make calibrate`` computes them (one file per finished replication, so an
interrupted run resumes) and writes ``book/precomputed/trial_coverage_endtoend.tsv`` with
its JSON sidecar (key, columns, timing, check digests), and a copy under
``results/tables/``.
"""

from mindpain.endtoend.coverage import coverage_table, replication_estimates
from mindpain.endtoend.glm import (
    ar1_contrast,
    fast_design,
    fit_run_in_memory,
    run_events,
    run_mask,
    select_confounds,
    session_effect,
)
from mindpain.endtoend.replication import (
    analysis_mask,
    mask_effects,
    replicate,
    scores_digest,
    surrogate_weights,
)
from mindpain.endtoend.results import load_or_run, load_result, rekey, write_result
from mindpain.endtoend.runner import cache_folder, code_files, content_key, run_endtoend
from mindpain.endtoend.settings import (
    BOOK_GRID_PRESET,
    CI_METHODS,
    COLUMNS,
    CONTRASTS,
    DEFAULT_REPLICATIONS,
    ENDTOEND_PRESET,
    MAR_LOG_ODDS,
    MODELS,
    OUTCOMES,
    SCENARIOS,
    SURROGATES,
    TABLE_NAME,
    replication_seed,
    scenario_replications,
)
from mindpain.endtoend.transfer import (
    book_grid_transfer,
    measure_transfer,
    replication_transfer,
    transfer_seed,
    write_transfer,
)

__all__ = [
    "BOOK_GRID_PRESET", "CI_METHODS", "COLUMNS", "CONTRASTS", "DEFAULT_REPLICATIONS",
    "ENDTOEND_PRESET", "MAR_LOG_ODDS", "MODELS", "OUTCOMES", "SCENARIOS",
    "SURROGATES", "TABLE_NAME", "analysis_mask", "ar1_contrast", "cache_folder",
    "code_files", "content_key", "coverage_table", "fast_design", "fit_run_in_memory",
    "load_or_run", "load_result", "mask_effects", "rekey", "replicate", "replication_estimates",
    "replication_seed", "run_endtoend", "run_events", "run_mask", "scenario_replications",
    "scores_digest", "select_confounds", "session_effect", "surrogate_weights",
    "write_result", "book_grid_transfer", "measure_transfer", "replication_transfer",
    "transfer_seed", "write_transfer",
]
