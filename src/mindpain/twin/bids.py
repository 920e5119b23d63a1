"""BIDS layout and metadata of the twin (raw dataset, BIDS 1.10)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mindpain import __version__
from mindpain.bids.datamap import MAP_FILE, DatasetMap, write_map
from mindpain.core.io import atomic_path, write_json, write_tsv
from mindpain.core.vocabulary import (
    PLANTED_MEDITATOR_FILE,
    PLANTED_TRIAL_FILE,
    TASK,
    TWIN_CONFOUNDS_DIR,
    TWIN_TRUTH_DIR,
)

BIDS_VERSION = "1.10.0"


def run_paths(root: Path, participant_id: str, session: str, run: int):
    """Return ``(bold, events)`` paths of one run."""
    stem = f"{participant_id}_ses-{session}_task-{TASK}_run-{run}"
    func = Path(root) / participant_id / f"ses-{session}" / "func"
    return func / f"{stem}_bold.nii.gz", func / f"{stem}_events.tsv"


#: Folder of the twin's confounds tables (realistic world), as fMRIPrep would write them.
CONFOUNDS_DIR = Path(TWIN_CONFOUNDS_DIR)


def confounds_path(root: Path, participant_id: str, session: str, run: int) -> Path:
    """Return the ``*_desc-confounds_timeseries.tsv`` path of one run (realistic world)."""
    stem = f"{participant_id}_ses-{session}_task-{TASK}_run-{run}"
    return (Path(root) / CONFOUNDS_DIR / participant_id / f"ses-{session}" / "func"
            / f"{stem}_desc-confounds_timeseries.tsv")


def write_confounds_top_level(root: Path, key: dict) -> None:
    """Write the confounds derivative's description and its inherited column sidecar."""
    from mindpain.twin.nuisance import CONFOUNDS_SIDECAR

    out = Path(root) / CONFOUNDS_DIR
    write_json(out / "dataset_description.json", {
        "Name": "mindpain twin: confounds (simulated, fMRIPrep naming)",
        "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "mindpain", "Version": __version__,
                         "Description": f"simulated head motion and physiological "
                                        f"regressors, preset={key['preset']}, "
                                        f"seed={key['seed']}, world={key['world']}"}],
    })
    write_json(out / f"task-{TASK}_desc-confounds_timeseries.json", CONFOUNDS_SIDECAR)


PARTICIPANTS_SIDECAR = {
    "group": {"Description": "Arm of the trial, or long-term meditators",
              "Levels": {"MBSR": "Mindfulness-Based Stress Reduction (8 weeks)",
                         "HEP": "Health Enhancement Program (active control, 8 weeks)",
                         "WL": "waitlist control", "LTM": "long-term meditator (one session)"}},
    "cohort": {"Description": "Meditation experience",
               "Levels": {"naive": "meditation-naive adult", "meditator": "long-term meditator"}},
    "completed_post": {"Description": "Whether the post-intervention session exists",
                       "Levels": {"True": "pre and post sessions", "False": "one session only"}},
    "age": {"Description": "Age at the first session", "Units": "year"},
    "sex": {"Description": "Sex", "Levels": {"F": "female", "M": "male"}},
    "hot_temperature": {"Description": "Individually calibrated hot stimulus temperature",
                        "Units": "degC"},
}

EVENTS_SIDECAR = {
    "onset": {"Description": "Event onset from the first volume", "Units": "s"},
    "duration": {"Description": "Event duration", "Units": "s"},
    "trial_type": {"Description": "Event type",
                   "Levels": {"hot": "painful heat on the left volar forearm",
                              "warm": "non-painful warm stimulus, same site",
                              "rating": "rating period after a stimulus (two ratings)"}},
    "temperature": {"Description": "Thermode target temperature of the stimulus",
                    "Units": "degC"},
    "intensity_rating": {"Description": "Rated pain intensity of this stimulus, visual "
                         "analogue scale 0 (no sensation) to 100 (most intense imaginable)"},
    "unpleasantness_rating": {"Description": "Rated unpleasantness of this stimulus, visual "
                              "analogue scale 0 (not unpleasant) to 100 (most unpleasant "
                              "imaginable)"},
}

PRACTICE_SIDECAR = {
    "MeasurementToolMetadata": {"Description": "Self-reported meditation practice of long-term "
                                "meditators (simulated)"},
    "lifetime_hours": {"Description": "Estimated lifetime hours of formal meditation practice",
                       "Units": "hour"},
    "retreat_hours": {"Description": "Of those, hours practised on intensive retreats",
                      "Units": "hour"},
}

TRUTH_SIDECAR = {
    "participant_id": {"Description": "Participant"},
    "session": {"Description": "Session (pre or post)"},
    "group": {"Description": "Arm or LTM"},
    "nociceptive": {"Description": "Latent nociceptive response of the session's hot>warm "
                    "map: percent signal change at the peak of the twin's nociceptive pattern "
                    "(desc-nociceptive_pattern). Not a signature score"},
    "modulatory": {"Description": "Latent modulatory ('pain beyond nociception') response, "
                   "percent at the peak of the twin's modulatory pattern"},
    "intensity": {"Description": "True mean intensity rating of hot trials (before trial noise)"},
    "unpleasantness": {"Description": "True mean unpleasantness of hot trials "
                       "(before trial noise)"},
}


#: Column descriptions of ``planted_effects.tsv`` (``planted_trial_effects``).
PLANTED_TRIAL_SIDECAR = {
    "Description": "Planted effect of every trial contrast on every observed outcome (the "
                   "value each estimate of the trial analysis is compared with); computed by "
                   "mindpain.twin.model.planted_trial_effects, floats at full precision",
    "outcome": {"Description": "Signature response (read out by the open surrogate maps) or "
                               "rating"},
    "contrast": {"Description": "Between arms (A_vs_B: change in A minus change in B) or "
                                "within an arm (A_within: post minus pre)"},
    "planted_d": {"Description": "Population Cohen's d of the observed change score (between: "
                                 "pooled SD of change; within: d_z)"},
    "planted_t": {"Description": "Expected t of the contrast in the paper's completers"},
    "planted_d_paper": {"Description": "planted_t on the paper's d scale (2t/sqrt(df) "
                                       "between arms, d_z within): the generator's effect as "
                                       "the measurement model reads it"},
    "recoverable_d_paper": {"Description": "The paper-scale effect this pipeline (first "
                                           "level, scoring) can recover in this world: the "
                                           "estimand (the planted effect read through the "
                                           "measured pipeline transfer; the reported d for "
                                           "the reported contrasts; n/a where no transfer "
                                           "was measured)"},
    "latent_d": {"Description": "The same contrast of the latent response the outcome "
                                "targets, in SD of its true change"},
    "reported_d": {"Description": "The paper's reported d (its own scale); n/a where none"},
    "status": {"Description": "Where the value comes from, as marked in the parameter file: "
                              "reported, derived or assumed"},
    "true_change_difference": {"Description": "Expected mean change difference (between) or "
                                              "mean change (within), score units"},
    "observed_change_sd": {"Description": "SD of the observed change score, score units"},
}

#: Column descriptions of ``planted_meditator_effects.tsv`` (``planted_meditator_effects``).
PLANTED_MEDITATOR_SIDECAR = {
    "Description": "Planted value of every long-term-meditator estimand (the value each "
                   "estimate of the meditator analysis is compared with); computed by "
                   "mindpain.twin.meditators.planted_meditator_effects, floats at full "
                   "precision",
    "outcome": {"Description": "Signature response or rating"},
    "effect": {"Description": "group (LTM vs naive baseline), retreat, daily (non-retreat) or "
                              "lifetime practice"},
    "method": {"Description": "Estimator of the meditator analysis (see "
                              "mindpain.meditators.analysis)"},
    "planted": {"Description": "Value the estimator estimates on this twin as the "
                               "measurement model reads it (d, naive SD per tenfold hours, "
                               "or correlation); n/a where none applies"},
    "recoverable": {"Description": "The same value for a signature read through the "
                                   "pipeline (first level, scoring) in this world: the "
                                   "estimand; ratings: planted; n/a where none applies"},
    "parameter": {"Description": "Parameter-file entry behind the effect"},
    "parameter_value": {"Description": "Its value (0: a planted null at the parameter "
                                       "level)"},
    "status": {"Description": "reported, derived or assumed, as marked in the parameter file"},
}

def _world_text(world: str) -> str:
    if world == "ideal":
        return ("The BOLD is made by the analysis model itself: canonical (Glover) HRF "
                "responses to hot, warm and rating periods, slow drift, spatially smooth AR(1) "
                "noise, and per-participant and per-session variation.")
    return ("The BOLD has what real scans have and the first-level model does not know: head "
            "motion and motion-related signal, cardiac and respiratory noise aliased at the TR "
            "and slow global fluctuations, noise that is not AR(1) (AR(2), 1/f), HRFs that "
            "differ between participants and regions, sub-voxel misregistration between "
            "sessions, and hot trials whose temperature varies around the calibrated one and "
            "scales the nociceptive response; participant-level responses are skewed and the "
            "arms' changes have unequal variances. Motion parameters, framewise displacement, "
            "outlier columns and physiological regressors are in "
            "`derivatives/twin-confounds/` (fMRIPrep names).")


def _readme(params, key: dict) -> str:
    return f"""# mindpain simulated twin of Wielgosz et al. (2022)

THIS DATASET IS SIMULATED. It is not the study's data, which are not public.

It is a deterministic twin of the randomized trial of Mindfulness-Based Stress Reduction (MBSR)
versus the Health Enhancement Program (HEP) and a waitlist (WL), plus a sample of long-term
meditators (LTM), generated by the `mindpain` package (version {key['mindpain_version']},
preset `{key['preset']}`, seed {key['seed']}). The ground truth is latent: each session has a
nociceptive and a modulatory response carried by the twin's own spatial patterns (built without
any signature map), plus generic activation, an idiosyncratic pattern and noise. The effects
are planted so that each contrast the paper reports has the reported statistic as its expected
value when scored with the project's open surrogate signatures; other values are derived or
stated assumptions. The parameter file (each value marked reported / derived / context /
assumed), the per-session latent truth and the patterns are under `{TWIN_TRUTH_DIR}/`,
with the planted value of every analysis: `{PLANTED_TRIAL_FILE}` (trial contrasts) and
`{PLANTED_MEDITATOR_FILE}` (long-term meditators), each described by its JSON sidecar.

Task `heat`: hot (painful) and warm stimuli on the forearm, jittered, each followed by a rating
period with intensity and unpleasantness ratings (0-100); {params['task.n_runs']} runs per
session; sessions `pre` and `post` (8-week interventions between them). Long-term meditators
have a single session, labelled `pre`. The task timing is an assumption of the twin.

BOLD images are already in MNI152NLin6Asym space at {params['bold.voxel_size'][key['preset']]} mm
(as if motion-corrected and normalised), stored as int16, zero outside the brain. World:
`{key.get('world', 'ideal')}`. {_world_text(key.get('world', 'ideal'))}

Reference: Wielgosz J, Kral TRA, Perlman DM, Mumford JA, Wager TD, Lutz A, Davidson RJ (2022).
Neural Signatures of Pain Modulation in Short-Term and Long-Term Mindfulness Training.
American Journal of Psychiatry. doi:10.1176/appi.ajp.21020145
"""


def write_top_level(root: Path, params, participants: pd.DataFrame, key: dict) -> None:
    """Write dataset-level files: description, README, participants, sidecars, phenotype.

    Also the twin's dataset map (:data:`mindpain.bids.datamap.MAP_FILE`, the book's own
    names), so the twin is read through the same mechanism as a user's dataset.
    """
    root = Path(root)
    write_json(root / "dataset_description.json", {
        "Name": "mindpain simulated twin of Wielgosz et al. (2022) (SIMULATED DATA)",
        "BIDSVersion": BIDS_VERSION, "DatasetType": "raw", "License": "CC0",
        "Authors": ["mindpain contributors"],
        "GeneratedBy": [{"Name": "mindpain", "Version": __version__,
                         "Description": f"simulated twin, preset={key['preset']}, "
                                        f"seed={key['seed']}, world={key['world']}"}],
        "ReferencesAndLinks": ["https://doi.org/10.1176/appi.ajp.21020145"],
        "HowToAcknowledge": "Simulated data; cite the mindpain project and the original study.",
    })
    with atomic_path(root / "README.md") as tmp:
        tmp.write_text(_readme(params, key))
    with atomic_path(root / "CHANGES") as tmp:
        tmp.write_text(f"{__version__} 2026-11-24\n  - Simulated twin generated by mindpain.\n")
    table = participants[["participant_id", "group", "cohort", "completed_post", "age", "sex",
                          "hot_temperature"]].copy()
    table["completed_post"] = table["completed_post"].map({True: "True", False: "False"})
    write_tsv(root / "participants.tsv", table)
    write_json(root / "participants.json", PARTICIPANTS_SIDECAR)
    ltm = participants[participants["group"].eq("LTM")]
    write_tsv(root / "phenotype" / "practice.tsv",
              ltm[["participant_id", "lifetime_hours", "retreat_hours"]], float_format="%.0f")
    write_json(root / "phenotype" / "practice.json", PRACTICE_SIDECAR)
    write_json(root / f"task-{TASK}_bold.json", {
        "TaskName": TASK, "RepetitionTime": params["task.repetition_time"],
        "TaskDescription": "Thermal stimulation of the left volar forearm: painful hot and "
                           "non-painful warm stimuli in random order, each followed by ratings "
                           "of intensity and unpleasantness (simulated; timing assumed).",
        "Instructions": "Attend to each stimulus and rate it when the scales appear.",
        "SkullStripped": True,
    })
    write_json(root / f"task-{TASK}_events.json", EVENTS_SIDECAR)
    # the twin's own dataset map (the book's names): read like any user's; the BIDS
    # validator is told to leave it out
    write_map(DatasetMap(), root / MAP_FILE)
    with atomic_path(root / ".bidsignore") as tmp:
        tmp.write_text(f"{MAP_FILE}\n")
    write_json(root / "sessions.json", {
        "weeks_from_baseline": {"Description": "Weeks between the baseline session and this one",
                                "Units": "week"}})
    weeks = params["design.weeks_between_sessions"]
    for rec in participants.itertuples(index=False):
        sessions = pd.DataFrame({"session_id": ["ses-pre"] + (["ses-post"] if rec.completed_post
                                                              else []),
                                 "weeks_from_baseline": [0] + ([weeks] if rec.completed_post
                                                               else [])})
        write_tsv(root / rec.participant_id / f"{rec.participant_id}_sessions.tsv", sessions)
