"""What the end-to-end calibration replicates and reports, and the seed of each replication.

The preset and the scenarios replicated (:data:`SCENARIOS`), the outcomes, contrasts and
models checked, the columns of the coverage table (:data:`COLUMNS`), and the seed of each
replication, derived from the master seed (:func:`replication_seed`: the same in every
scenario, so the scenarios are paired). The other modules of :mod:`mindpain.endtoend` read
these names from here.

The calibration setting
    The ``calibration`` preset: the full design (every completer, session, run and trial of
    the twin) on a 15 mm grid instead of the book's 5 mm (``bold.voxel_size.calibration``
    in the parameter file); long-term meditators and baseline-only participants (not in
    the models replicated) are not simulated. The planted effects are derived for that grid
    (they are the same d on the observed scale).
"""

from __future__ import annotations

from mindpain.core.config import derive_rng

#: Preset of the end-to-end calibration (full design, 15 mm grid).
ENDTOEND_PRESET = "calibration"
#: Dropout scenario: log odds ratio of dropping out per SD of the baseline nociceptive
#: response (:func:`mindpain.twin.participants.mar_dropout`), run in the ideal world.
MAR_LOG_ODDS = 1.0
#: The book's preset, whose analysis mask is measured beside the calibration grid's.
BOOK_GRID_PRESET = "full"
#: Scenarios replicated: name -> (world, dropout log odds or ``None`` for the twin's
#: parameter, share of the replications). The two worlds with the twin's dropout (completely
#: at random), and the ideal world with dropout that depends on baseline (MAR) on a sixth
#: of the replications.
SCENARIOS = {"ideal": ("ideal", None, 1.0), "realistic": ("realistic", None, 1.0),
             "ideal_mar": ("ideal", MAR_LOG_ODDS, 1 / 6)}
#: Outcomes scored (surrogate signatures) and analysed.
OUTCOMES = ("nps", "siips1")
#: Surrogate signature of each outcome.
SURROGATES = {"nps": "nps-surrogate", "siips1": "siips1-surrogate"}
#: Contrasts checked (the reported ones, plus SIIPS1's MBSR change for symmetry).
CONTRASTS = ("MBSR_vs_HEP", "MBSR_vs_WL", "MBSR_within")
#: Models whose CIs are checked.
MODELS = ("paper", "change_score", "ancova", "ancova_hc3")
#: How each model's CI is computed.
CI_METHODS = {
    "paper": "noncentral t of the paper's test (between: 3-arm pooled SD of change, df 88; "
             "within: one-sample t, df n-1)",
    "change_score": "noncentral t of Cohen's d_s (two-arm pooled SD) / d_z",
    "ancova": "noncentral t of the ANCOVA adjusted difference (classical SE) / change SD",
    "ancova_hc3": "noncentral t of the ANCOVA adjusted difference (HC3 SE) / change SD",
}
#: Replications per world by default (``make calibrate``).
DEFAULT_REPLICATIONS = 300
#: File name of the coverage table (TSV; sidecar with the same stem, ``.json``).
TABLE_NAME = "trial_coverage_endtoend.tsv"
#: Columns of the coverage table and their meaning.
COLUMNS = {
    "scenario": "ideal, realistic, or ideal_mar (ideal world, dropout depending on baseline)",
    "world": "twin world: ideal (the analysis model's generator) or realistic",
    "dropout": "who misses the post session: at random (the twin's default) or, in ideal_mar, "
               "with log odds ratio MAR_LOG_ODDS per SD of the baseline nociceptive response",
    "outcome": "signature response (open surrogate): nps or siips1",
    "contrast": "MBSR_vs_HEP, MBSR_vs_WL (difference in pre-to-post change) or MBSR_within",
    "model": "trial model whose CI is checked (see ci_method)",
    "reported": "whether the paper reports this contrast (mindpain.reported.REPORTED)",
    "ci_method": "how the 95% CI is computed",
    "replications": "replications of the trial through BOLD, first level and scoring",
    "coverage": "share of replications whose 95% CI (paper scale) contains planted_d_paper",
    "mc_se": "Monte-Carlo SE of coverage, sqrt(c (1 - c) / replications)",
    "planted_d_paper": "the twin's planted effect on the paper's scale as the measurement "
                       "model reads the generator (calibration preset, the twin's whole mask; "
                       "not what the pipeline recovers: see recoverable_d_paper)",
    "mean_estimate": "mean estimate over replications, paper scale",
    "mean_estimate_se": "Monte-Carlo SE of mean_estimate (SD / sqrt(replications))",
    "bias": "mean_estimate - planted_d_paper",
    "mean_ci_width": "mean width of the 95% CI, paper scale",
    "reported_d": "the paper's reported d (paper scale), where reported",
    "recoverable_d_paper": "the effect this pipeline can recover in this world (paper scale; "
                           "the estimand): the planted effect read through the measured "
                           "pipeline transfer (mindpain.twin.model.recoverable_d_paper); the "
                           "reported d for the reported contrasts",
    "coverage_recoverable": "share of replications whose 95% CI contains recoverable_d_paper",
    "mc_se_recoverable": "Monte-Carlo SE of coverage_recoverable",
    "median_t": "median over replications of the paper's test's t (model paper only)",
    "mc_se_median_t": "Monte-Carlo SE of median_t (half the distribution-free 95% CI of a "
                      "median, from its order statistics, over 1.96)",
    "reported_t": "the t the paper's reported p implies (signed as its d; df 88 between arms, "
                  "27 within MBSR), where reported",
    "median_p": "median over replications of the paper's test's two-sided p (model paper "
                "only)",
    "planted_d_paper_in_mask": "the planted effect as a scorer sees it that reads only the "
                               "voxels the analysis's implicit mask keeps (mask_effects)",
    "coverage_in_mask": "share of replications whose 95% CI contains planted_d_paper_in_mask",
    "mc_se_in_mask": "Monte-Carlo SE of coverage_in_mask",
    "bias_in_mask": "mean_estimate - planted_d_paper_in_mask",
}


def replication_seed(seed: int, replication: int) -> int:
    """Seed of one replication, derived from the master seed (the same in both worlds)."""
    return int(derive_rng(seed, "endtoend", int(replication)).integers(2**31 - 1))


def scenario_replications(n_replications: int, scenarios: dict | None = None) -> dict:
    """Replications of each scenario: its share of ``n_replications`` (at least 3)."""
    scenarios = SCENARIOS if scenarios is None else scenarios
    return {name: max(3, int(round(share * n_replications)))
            for name, (_, _, share) in scenarios.items()}
