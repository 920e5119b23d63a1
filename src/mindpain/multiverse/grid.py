"""The multiverse's grid: every axis along which a specification varies.

First-level axes (smoothing, HRF model, high-pass cut-off, confounds) combine into
:class:`FirstLevelVariant` objects; which of them vary is set by the grid (:data:`GRIDS`).
With the signature response metrics (:data:`mindpain.core.vocabulary.METRICS`), the model-sample
pairs (:data:`MODEL_SAMPLES`) and the covariate sets (:data:`COVARIATE_SETS`) they make the
specifications of each outcome (:data:`OUTCOMES`; :func:`n_specifications`), whose table
has the columns :data:`SPEC_COLUMNS`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import DEFAULT_WORLD, METRICS, MOTION_CONFOUNDS

#: First-level axes: smoothing FWHM (mm; None = none), HRF model, high-pass period (s).
SMOOTHING = (None, 6.0)
#: First-level axis: the HRF model (nilearn's names).
HRF_MODELS = ("glover", "glover + derivative")
#: First-level axis: the high-pass period (s).
HIGH_PASS_S = (128.0, 100.0)
#: Confound sets (column names of fMRIPrep's confounds table): none, or the motion set the
#: pipeline's own first level regresses on the realistic twin
#: (:data:`mindpain.core.vocabulary.MOTION_CONFOUNDS`).
CONFOUND_SETS = {"none": (), "motion": MOTION_CONFOUNDS}
#: (model, sample) pairs that are defined.
MODEL_SAMPLES = (("change_score", "completers"), ("ancova", "completers"),
                 ("mixedlm", "completers"), ("mixedlm", "all"))
#: Covariate sets: name -> covariates adjusted for.
COVARIATE_SETS = {"none": (), "age+sex": ("age", "sex")}
#: Outcomes (signature responses) whose curve is computed.
OUTCOMES = ("nps", "siips1")

#: Columns of ``multiverse.tsv``.
SPEC_COLUMNS = {
    "spec": "specification number (stable order of the grid)",
    "outcome": "signature (nps, siips1)",
    "contrast": "the contrast estimated (first arm minus second, change pre to post)",
    "world": "the twin's world the data were made in (realistic or ideal)",
    "first_level": "first-level variant label (fwhm-hrf-highpass-confounds)",
    "smoothing_fwhm": "smoothing before the first-level fit, mm (0 = none)",
    "hrf_model": "nilearn HRF model of the first level",
    "high_pass_s": "high-pass cut-off period of the cosine drift model, s",
    "confounds": "confound set of the first level",
    "metric": "signature response metric (dot, cosine, correlation)",
    "model": "outcome model (change_score, ancova, mixedlm)",
    "sample": "completers, or all available sessions (mixed model only)",
    "covariates": "none, or age+sex",
    "estimate_d": "Cohen's d of the contrast (see chapter 6 for each model's SD)",
    "ci_low": "lower end of the 95% CI of d (noncentral t)",
    "ci_high": "upper end of the 95% CI of d",
    "p": "two-sided p",
    "significant": "p < 0.05 and d in the predicted direction (negative)",
    "n": "participants in the model",
    "planted_d": "the twin's planted d of the contrast (change-score scale)",
    "recoverable_d": "the d the pipeline can recover (mindpain.truth.recoverable_trial_effects, "
                     "change-score scale)",
}


@dataclass(frozen=True)
class FirstLevelVariant:
    """One combination of the first-level axes."""

    smoothing_fwhm: float | None
    hrf_model: str
    high_pass_s: float
    confounds: str = "none"

    @property
    def label(self) -> str:
        """Short, file-name-safe label, e.g. ``fwhm0-glover-hp128-confmotion``."""
        hrf = "gloverderiv" if "derivative" in self.hrf_model else "glover"
        fwhm = 0 if self.smoothing_fwhm is None else self.smoothing_fwhm
        return f"fwhm{fwhm:g}-{hrf}-hp{self.high_pass_s:g}-conf{self.confounds}"

    def settings(self):
        """Return the first-level stage's :class:`~mindpain.first_level.runs.ModelSettings`."""
        from mindpain.first_level.runs import ModelSettings

        return ModelSettings(hrf_model=self.hrf_model, high_pass=1.0 / self.high_pass_s,
                             smoothing_fwhm=self.smoothing_fwhm,
                             confounds=CONFOUND_SETS[self.confounds])


#: First-level grids: which axes vary. ``book``: every axis, 2 x 2 x 2 x 2 = 16 variants
#: (the committed multiverse and its replications: 384 specifications per outcome);
#: ``small``: the test twin (smoothing x confounds, 4 variants, 96 specifications).
GRIDS = {"book": {"smoothing": SMOOTHING, "hrf": HRF_MODELS, "high_pass": HIGH_PASS_S,
                  "confounds": tuple(CONFOUND_SETS)},
         "small": {"smoothing": SMOOTHING, "hrf": HRF_MODELS[:1], "high_pass": HIGH_PASS_S[:1],
                   "confounds": tuple(CONFOUND_SETS)}}


def first_level_variants(grid: str = "book", world: str = DEFAULT_WORLD
                         ) -> list[FirstLevelVariant]:
    """Return every first-level variant of ``grid`` (:data:`GRIDS`) for data of ``world``.

    The ideal world's twin writes no confounds (the pipeline fits none there), so its
    confound axis keeps only ``none``.
    """
    if grid not in GRIDS:
        raise MindpainError(f"unknown multiverse grid {grid!r}; expected one of "
                            f"{', '.join(GRIDS)}")
    axes = GRIDS[grid]
    confounds = [c for c in axes["confounds"] if world != "ideal" or not CONFOUND_SETS[c]]
    return [FirstLevelVariant(f, h, hp, c) for f, h, hp, c in
            itertools.product(axes["smoothing"], axes["hrf"], axes["high_pass"], confounds)]


def n_specifications(grid: str = "book", world: str = DEFAULT_WORLD) -> int:
    """Return the number of specifications per outcome."""
    return (len(first_level_variants(grid, world)) * len(METRICS) * len(MODEL_SAMPLES)
            * len(COVARIATE_SETS))
