"""The study's vocabulary, defined once: the ground floor every other module imports.

Nothing here computes anything and nothing heavy is imported, so the command line, the twin
and every stage can share these names without drawing an import cycle. A test
(``tests/test_vocabulary.py``) fails when one of these facts is typed again elsewhere in the
package.

Examples
--------
>>> from mindpain.core.vocabulary import ARMS, TRIAL_OUTCOMES
>>> ARMS
('MBSR', 'HEP', 'WL')
>>> TRIAL_OUTCOMES[:2]
('nps', 'nps_pos')
"""

from __future__ import annotations

# ---------------------------------------------------------------- run settings

#: Master seed of the book (the paper's publication month, 2022-07-01).
DEFAULT_SEED = 20220701
#: Twin sizes: ``full`` (the book), ``small`` (tests), ``reduced`` (full design, small grid),
#: ``calibration`` (full design, 15 mm grid: chapter 4's end-to-end calibration).
PRESETS = ("small", "full", "reduced", "calibration")
#: Worlds of the simulated twin: ``ideal`` (BOLD made by the analysis model itself: canonical
#: HRF, AR(1) noise, no motion) and ``realistic`` (adds what real scans have; the default).
WORLDS = ("ideal", "realistic")
#: The twin's world unless one is chosen.
DEFAULT_WORLD = "realistic"

# ---------------------------------------------------------------- the experiment

#: BIDS task label of the thermal-pain runs.
TASK = "heat"
#: Trial types of a run's events (and first-level regressors).
TRIAL_TYPES = ("hot", "warm", "rating")
#: Sessions, in time order.
SESSIONS = ("pre", "post")
#: Arms of the randomized trial (reference arm last: waitlist).
ARMS = ("MBSR", "HEP", "WL")
#: Meditation-naive groups; their baseline session is the meditator comparison sample.
NAIVE_GROUPS = ARMS
#: Every group of ``participants.tsv``: the arms plus long-term meditators.
GROUPS = ARMS + ("LTM",)
#: Display names of the groups.
GROUP_LABELS = {"MBSR": "MBSR", "HEP": "HEP", "WL": "Waitlist", "LTM": "Long-term meditators"}

# ---------------------------------------------------------------- outcomes

#: Signature responses analysed as outcomes (whole NPS, its positive and negative parts, SIIPS1).
SIGNATURE_OUTCOMES = ("nps", "nps_pos", "nps_neg", "siips1")
#: Mean ratings of the hot trials analysed as outcomes.
RATING_OUTCOMES = ("intensity", "unpleasantness")
#: Status of each value in the twin's parameter file: taken from the paper, derived from it,
#: context from other sources, or assumed.
PARAMETER_STATUSES = ("reported", "derived", "context", "assumed")
#: The signature responses the twin reads out, in its generator's order (whole patterns first).
TWIN_READOUTS = ("nps", "siips1", "nps_pos", "nps_neg")
#: The twin's latent responses of a session, one spatial pattern each.
LATENTS = ("nociceptive", "modulatory")
#: Every outcome of the outcomes table, in the order of the tables.
TRIAL_OUTCOMES = SIGNATURE_OUTCOMES + RATING_OUTCOMES
#: Display names of the outcomes.
OUTCOME_LABELS = {"nps": "NPS", "nps_pos": "NPSpos", "nps_neg": "NPSneg", "siips1": "SIIPS1",
                  "intensity": "Intensity", "unpleasantness": "Unpleasantness"}

# ---------------------------------------------------------------- contrasts

#: First-level contrasts of a run or session map: name -> expression over :data:`TRIAL_TYPES`.
MAP_CONTRASTS = {"hotVsWarm": "hot - warm", "hot": "hot", "warm": "warm"}
#: Between-arm trial contrasts (A_vs_B: change in A minus change in B).
BETWEEN = ("MBSR_vs_HEP", "MBSR_vs_WL", "HEP_vs_WL")
#: Within-arm trial contrasts (A_within: post minus pre).
WITHIN = ("MBSR_within", "HEP_within", "WL_within")
#: Every trial contrast, in the order of the tables.
TRIAL_CONTRASTS = BETWEEN + WITHIN
#: The omnibus group-by-time test of the trial.
OMNIBUS = "group_x_time"
#: Display names of the trial contrasts.
CONTRAST_LABELS = {"MBSR_vs_HEP": "MBSR vs HEP", "MBSR_vs_WL": "MBSR vs WL",
                   "HEP_vs_WL": "HEP vs WL", "MBSR_within": "MBSR pre→post",
                   "HEP_within": "HEP pre→post", "WL_within": "WL pre→post",
                   OMNIBUS: "group × time"}

# ---------------------------------------------------------------- confounds

#: The six rigid-body head-motion parameters, named as fMRIPrep names them.
MOTION_PARAMETERS = ("trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z")
#: fMRIPrep's framewise displacement column (Power et al. 2012).
FRAMEWISE_DISPLACEMENT = "framewise_displacement"
#: Confounds of the realistic twin's first level: the motion parameters, their temporal
#: derivatives and one scrubbing column per outlier volume (shell pattern).
MOTION_CONFOUNDS = (*MOTION_PARAMETERS, *(f"{c}_derivative1" for c in MOTION_PARAMETERS),
                    "motion_outlier*")
#: Folder (inside a twin) of its fMRIPrep-named confounds tables (realistic world).
TWIN_CONFOUNDS_DIR = "derivatives/twin-confounds"

# ---------------------------------------------------------------- the twin's planted truth

#: Folder (inside a twin) of its planted truth; a real dataset has none.
TWIN_TRUTH_DIR = "derivatives/twin-truth"
#: File (in :data:`TWIN_TRUTH_DIR`) of the planted effect of every trial contrast.
PLANTED_TRIAL_FILE = "planted_effects.tsv"
#: File (in :data:`TWIN_TRUTH_DIR`) of the planted value of every meditator estimand.
PLANTED_MEDITATOR_FILE = "planted_meditator_effects.tsv"

# ---------------------------------------------------------------- meditator analyses

#: Methods of the LTM-versus-naive group comparison.
GROUP_METHODS = ("welch_d", "ancova_d", "bf10")
#: Methods of the practice dose-response analyses.
DOSE_METHODS = ("ols", "rlm", "partial_r", "spearman")

# ---------------------------------------------------------------- scoring

#: Signature-response metrics (CANlab semantics).
METRICS = ("dot", "cosine", "correlation")
