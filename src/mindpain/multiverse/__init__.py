r"""Multiverse (specification curve) of the trial's headline contrast, through the real pipeline.

Every specification runs first level -> scoring -> outcome model on the BIDS dataset:

First level (:mod:`mindpain.first_level.runs`, one derivative folder per variant)
    smoothing FWHM (none or 6 mm), HRF model (Glover, or Glover plus its time derivative),
    high-pass cut-off (128 s, SPM's default, or 100 s, FSL's) and confounds (none, or the
    realistic twin's motion set the pipeline's own first level regresses,
    :data:`mindpain.core.vocabulary.MOTION_CONFOUNDS`); which axes vary is set by the grid
    (:data:`~mindpain.multiverse.grid.GRIDS`; the book's: all four, 16 variants). Each
    variant is written into its own folder under the multiverse's work folder, never into
    the pipeline's derivatives, and carries the first-level stage's content key (inputs'
    sha256 and settings), so a variant is computed once and reused. The world the data come
    from is in the content key and in every table (``world``).
Scoring (:func:`mindpain.scoring.engine.score_maps`)
    NPS and SIIPS1 responses of each session's hot>warm map by dot product, cosine
    similarity or Pearson correlation.
Outcome model, sample and covariates
    ``change_score`` (completers: the two arms' change scores; d over their pooled SD),
    ``ancova`` (completers: ``post ~ arm + pre``, three arms; d over the same pooled SD),
    ``mixedlm`` on completers or on all available sessions (random intercept, REML; d over
    :math:`\sqrt2\hat\sigma_e`, as :func:`mindpain.trial.models.fit_mixedlm`); each with or
    without age and sex as covariates. Completers vs all data only differ for the mixed
    model (the other two need both sessions), so the grid has 4 model-sample pairs.

Each specification's estimate is Cohen's d of the contrast (default NPS, MBSR vs HEP) with
its 95 % CI and two-sided p; the curve's inference permutes the arm labels and re-estimates
every specification (Simonsohn, Simmons & Nelson 2020).

Modules, one concern each (the names below are also importable from
:mod:`mindpain.multiverse` itself)

- :mod:`mindpain.multiverse.grid`: the axes of a specification and the grids;
- :mod:`mindpain.multiverse.models`: the batched outcome models (every specification and
  permutation at once);
- :mod:`mindpain.multiverse.curve`: the specification curve and its permutation null;
- :mod:`mindpain.multiverse.runner`: each first-level variant and its scoring, then the
  curve (:func:`~mindpain.multiverse.runner.run_multiverse`);
- :mod:`mindpain.multiverse.results`: the committed result (``make multiverse``,
  ``python -m mindpain.multiverse``) and the book's tables;
- :mod:`mindpain.multiverse.inmemory`: one replication of every specification on a freshly
  drawn twin, in memory (the end-to-end calibration's machinery);
- :mod:`mindpain.multiverse.replications`: the replications (resumable, joblib workers),
  their committed table and what they show: coverage of the recoverable truth per
  specification, specification spread against sampling spread.

One dataset's curve cannot show sampling error: its spread is the spread of the choices on
one draw of the data. The replications put the two spreads side by side.
"""

from mindpain.multiverse.curve import (
    ALPHA,
    N_PERMUTATIONS,
    Multiverse,
    analyse_scores,
    curve_statistics,
    participant_frame,
    permuted_labels,
)
from mindpain.multiverse.grid import (
    CONFOUND_SETS,
    COVARIATE_SETS,
    GRIDS,
    HIGH_PASS_S,
    HRF_MODELS,
    MODEL_SAMPLES,
    OUTCOMES,
    SMOOTHING,
    SPEC_COLUMNS,
    FirstLevelVariant,
    first_level_variants,
    n_specifications,
)
from mindpain.multiverse.inmemory import (
    fit_run_variants,
    replicate_multiverse,
    replication_seed,
    scoring_plan,
    smooth_run,
)
from mindpain.multiverse.models import estimate_specs, reml_random_intercept
from mindpain.multiverse.replications import (
    DEFAULT_REPLICATIONS,
    REPLICATION_COLUMNS,
    REPLICATION_PRESET,
    load_or_run_replications,
    load_replications,
    recoverable_truth,
    run_replications,
    spec_coverage,
    spec_spreads,
    spread_summary,
    write_replications,
)
from mindpain.multiverse.results import (
    PRECOMPUTED_PRESET,
    content_key,
    load_or_run,
    load_result,
    write_multiverse,
    write_result,
)
from mindpain.multiverse.runner import (
    prepare_work_folder,
    run_multiverse,
    run_variant,
    variant_dir,
    work_folder,
)

__all__ = [
    "ALPHA", "CONFOUND_SETS", "COVARIATE_SETS", "DEFAULT_REPLICATIONS", "GRIDS", "HIGH_PASS_S",
    "HRF_MODELS", "MODEL_SAMPLES", "N_PERMUTATIONS", "OUTCOMES", "PRECOMPUTED_PRESET",
    "REPLICATION_COLUMNS", "REPLICATION_PRESET", "SMOOTHING", "SPEC_COLUMNS",
    "FirstLevelVariant", "Multiverse", "analyse_scores", "content_key", "curve_statistics",
    "estimate_specs", "first_level_variants", "fit_run_variants", "load_or_run",
    "load_or_run_replications", "load_replications", "load_result", "n_specifications",
    "participant_frame", "permuted_labels", "prepare_work_folder", "recoverable_truth",
    "reml_random_intercept", "replicate_multiverse", "replication_seed", "run_multiverse",
    "run_replications", "run_variant", "scoring_plan", "smooth_run", "spec_coverage",
    "spec_spreads", "spread_summary", "variant_dir", "work_folder", "write_multiverse",
    "write_replications", "write_result",
]
