"""What chapter 6 says about the multiverse: the numbers of its prose, as dicts.

:func:`curve_summary` summarises the one-dataset specification curve and
:func:`replications_summary` the multiverse replicated on independently drawn twins; the
chapter glues each dict (``mindpain_book.glue.glue_summary``) and keeps its sentences in
Markdown. Only phrases whose wording the data decide come back as text.

This module reads results only; it is not imported by :mod:`mindpain.multiverse`, so no
content key depends on it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.multiverse.replications import COVERAGE_THRESHOLD


def curve_summary(specs: pd.DataFrame, summary: pd.DataFrame, committed: bool) -> dict:
    """Numbers of the one-dataset specification curve (NPS, and SIIPS1 with ``_siips1``).

    Parameters
    ----------
    specs : pandas.DataFrame
        One row per specification (:attr:`mindpain.multiverse.MultiverseResult.specs`).
    summary : pandas.DataFrame
        Its summary per outcome (``outcome, n_specs, share_significant, median_d,
        planted_d, recoverable_d, p_share, p_median, permutations, null_share_mean``).
    committed : bool
        Whether the result is the committed one (else computed by the build).

    Returns
    -------
    dict
        ``n_specs``, ``n_fl`` (first-level variants), ``share``, ``median``, ``planted``,
        ``p_share``, ``p_median``, ``perms``, ``null_share``, ``min``, ``max`` (the NPS
        estimates' range), the SIIPS1 counterparts with ``_siips1``; phrases
        ``recoverable_note``, ``where`` and ``model_medians``.
    """
    by = summary.set_index("outcome")
    nps, sii = by.loc["nps"], by.loc["siips1"]
    rows = specs[specs.outcome == "nps"]
    rec = float(nps.get("recoverable_d", np.nan))
    if not np.isfinite(rec):
        note = "; what the pipeline can recover of it is not known here"
    elif np.isclose(rec, nps.planted_d):
        note = ", which is also the effect the pipeline can recover"
    else:
        note = f"; the pipeline can recover {rec:.2f} of it (dotted line)"
    return {
        "n_specs": int(nps.n_specs), "n_fl": int(specs.first_level.nunique()),
        "share": float(nps.share_significant), "median": float(nps.median_d),
        "planted": float(nps.planted_d), "recoverable_note": note,
        "p_share": float(nps.p_share), "p_median": float(nps.p_median),
        "perms": int(nps.permutations), "null_share": float(nps.null_share_mean),
        "min": float(rows.estimate_d.min()), "max": float(rows.estimate_d.max()),
        "share_siips1": float(sii.share_significant), "median_siips1": float(sii.median_d),
        "p_share_siips1": float(sii.p_share), "planted_siips1": float(sii.planted_d),
        "where": ("the committed result of `make multiverse` on the *reduced* twin (the full "
                  "design on a coarser grid), whose content key was checked against the "
                  "current code, parameters and seed" if committed else
                  "computed here on the small test twin (smoothing and confound axes only)"),
        "model_medians": ", ".join(f"{m} {v:.2f}" for m, v in
                                   rows.groupby("model").estimate_d.median().items()),
    }


def replications_summary(spread: pd.DataFrame, coverage: pd.DataFrame,
                         committed: bool) -> dict:
    """Numbers of the replicated multiverse (NPS, and SIIPS1 with ``_siips1``).

    Parameters
    ----------
    spread : pandas.DataFrame
        :func:`mindpain.multiverse.replications.spread_summary`, one row per outcome.
    coverage : pandas.DataFrame
        :func:`mindpain.multiverse.replications.spec_coverage`, one row per outcome and
        specification.
    committed : bool
        Whether the replications are the committed ones.

    Returns
    -------
    dict
        Per outcome: ``truth``, ``spec_sd``, ``samp_sd``, ``ratio``, ``cov_min``,
        ``cov_med``, ``cov_max``, ``cov_ge90``, ``sig_min``, ``sig_max`` and the phrase
        ``compare``; ``reps``, ``specs``, ``cov_threshold`` and the phrase ``where``.
    """
    by = spread.set_index("outcome")
    out = {}
    for suffix, outcome in (("", "nps"), ("_siips1", "siips1")):
        r, c = by.loc[outcome], coverage[coverage.outcome == outcome]
        out |= {f"truth{suffix}": float(r.truth_d), f"spec_sd{suffix}": float(r.spec_sd_median),
                f"samp_sd{suffix}": float(r.sampling_sd_median),
                f"ratio{suffix}": float(r.sampling_to_spec),
                f"cov_min{suffix}": float(r.coverage_min),
                f"cov_med{suffix}": float(r.coverage_median),
                f"cov_max{suffix}": float(r.coverage_max),
                f"cov_ge90{suffix}": float(r.share_specs_coverage_ge_90),
                f"sig_min{suffix}": float(c.share_significant.min()),
                f"sig_max{suffix}": float(c.share_significant.max()),
                f"compare{suffix}": ("larger than" if r.sampling_to_spec > 1
                                     else "no larger than")}
    out |= {"reps": int(by.replications.min()), "specs": int(by.loc["nps"].n_specs),
            "cov_threshold": float(COVERAGE_THRESHOLD),
            "where": ("the committed result of `make multiverse`: independently drawn twins "
                      "of the end-to-end calibration's grid (the full design on 15 mm "
                      "voxels), whose content key was checked against the current code, "
                      "parameters, world and seed" if committed else
                      "computed here on a few draws of the small test twin")}
    return out


#: The first-level axes of the multiverse, as the chapter names them.
FIRST_LEVEL_AXES = {"smoothing_fwhm": "smoothing (mm FWHM)",
                    "confounds": "confound regressors", "hrf_model": "HRF model",
                    "high_pass_s": "high-pass cut-off (s)"}


def _shown(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def intro_summary(specs: pd.DataFrame, preset: str) -> dict:
    """Return the pieces of chapter 6's description of the multiverse that the data decide.

    Parameters
    ----------
    specs : pandas.DataFrame
        One row per specification, with the first-level axes' columns
        (:data:`FIRST_LEVEL_AXES`) and ``world``.
    preset : str
        The twin's preset the curve was computed on.

    Returns
    -------
    dict
        Phrases: ``world``; ``first_level`` (each first-level axis that varies, with its
        levels, and those held fixed); ``motion_note`` (which variant has the main
        analysis's settings, when the confound axis has its motion set) and
        ``smoothing_note`` (whether the largest kernel is narrower than one voxel of the
        preset's grid, so that the smoothing axis changes little).
    """
    from mindpain.first_level.runs import ModelSettings
    from mindpain.multiverse.grid import SMOOTHING
    from mindpain.twin import load_parameters

    varied = [f"{name} ({', '.join(_shown(v) for v in sorted(specs[col].unique()))})"
              for col, name in FIRST_LEVEL_AXES.items() if specs[col].nunique() > 1]
    fixed = [f"{name} {_shown(specs[col].iloc[0])}" for col, name in FIRST_LEVEL_AXES.items()
             if specs[col].nunique() == 1]
    main = ModelSettings()
    motion = ("The confound set 'motion' is the one the book's own first level (chapter 2) "
              "regresses: the twin's fMRIPrep-named motion parameters, their derivatives and "
              "one spike regressor per high-motion volume; with it, the variant with no "
              f"smoothing, the {main.hrf_model} HRF and a {1 / main.high_pass:g} s cut-off has "
              "the main analysis's settings (fitted again into the multiverse's own folder).")
    voxel = float(load_parameters(preset)["bold.voxel_size"][preset])
    fwhm = float(max(f for f in SMOOTHING if f))
    return {"world": str(specs["world"].iloc[0]),
            "first_level": ", ".join(varied) + (f" (held at {', '.join(fixed)})" if fixed
                                                else ""),
            "motion_note": (motion if set(specs["confounds"]) >= {"none", "motion"} else
                            "The confound axis does not include the main analysis's motion "
                            "set."),
            "smoothing_note": (f"On the {preset} twin's {voxel:g} mm voxels a {fwhm:g} mm "
                               "kernel is narrower than one voxel, so the smoothing axis "
                               "changes the maps only a little." if fwhm < voxel else
                               f"The largest kernel ({fwhm:g} mm) is wider than one voxel of "
                               f"the {preset} twin ({voxel:g} mm).")}


def replication_tables(replications: pd.DataFrame, preset: str,
                       world: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Coverage per specification and spreads per outcome of the replicated multiverse.

    Both are held against the effect the pipeline can recover on the replications' grid
    and world (:func:`mindpain.multiverse.replications.recoverable_truth`).

    Parameters
    ----------
    replications : pandas.DataFrame
        One row per replication, specification and outcome
        (:func:`mindpain.multiverse.replications.load_or_run_replications`).
    preset : str
        The preset (grid) the replications were drawn on.
    world : str
        The twin's world.

    Returns
    -------
    coverage : pandas.DataFrame
        :func:`mindpain.multiverse.replications.spec_coverage`, one row per outcome and
        specification.
    spread : pandas.DataFrame
        :func:`mindpain.multiverse.replications.spread_summary`, one row per outcome.
    """
    from mindpain.multiverse import recoverable_truth, spec_coverage, spread_summary
    from mindpain.twin import load_parameters

    truth = recoverable_truth(load_parameters(preset, world))
    return spec_coverage(replications, truth), spread_summary(replications, truth)
