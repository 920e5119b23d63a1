"""What chapter 4 says about the end-to-end calibration: its numbers, and a few phrases.

:func:`calibration_summary` reads the end-to-end table (:data:`~mindpain.endtoend.settings.COLUMNS`)
and its sidecar and returns every number the chapter's prose shows, as a dict the chapter
glues (``mindpain_book.glue.glue_summary``); the sentences stay in the chapter's Markdown.
Only lists whose length the data decide (the rows outside a band) and a sentence that
exists only when a measurement was run come back as phrases.

This module reads results only; no computed result depends on it (it is not imported by
:mod:`mindpain.endtoend`, so it is outside every content key).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.core.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS, WORLDS
from mindpain.endtoend.settings import MAR_LOG_ODDS, MODELS, SCENARIOS

#: The coverage band the chapter holds the end-to-end calibration to: 95 % ± 3 points.
TARGET, TOLERANCE = 0.95, 0.03


def _rows_phrase(rows: pd.DataFrame, coverage: str, digits: int) -> str:
    """``NPS MBSR vs HEP (paper, 0.912), ...`` for ``rows``, or ``none``."""
    return ", ".join(
        f"{OUTCOME_LABELS.get(r.outcome, r.outcome)} "
        f"{CONTRAST_LABELS.get(r.contrast, r.contrast)} ({r.model}, "
        f"{getattr(r, coverage):.{digits}f})" for r in rows.itertuples()) or "none"


def band_check(rows: pd.DataFrame, coverage: str = "coverage", se: str = "mc_se") -> dict:
    """Mean coverage of ``rows`` against the band, and the rows outside it.

    A row is outside when its coverage lies more than two Monte-Carlo SE beyond the band
    :data:`TARGET` ± :data:`TOLERANCE`.

    Returns
    -------
    dict
        ``mean`` (coverage over the rows), ``inside`` (whether the mean lies in the band),
        ``n`` (rows), ``n_outside`` and ``outside`` (a phrase listing them, or ``none``).
    """
    mean = float(rows[coverage].mean())
    off = rows[(rows[coverage] + 2 * rows[se] < TARGET - TOLERANCE)
               | (rows[coverage] - 2 * rows[se] > TARGET + TOLERANCE)]
    return {"mean": mean, "inside": bool(abs(mean - TARGET) <= TOLERANCE), "n": len(rows),
            "n_outside": len(off), "outside": _rows_phrase(off, coverage, 3)}


def calibration_summary(e2e: pd.DataFrame, meta: dict, participant: pd.DataFrame,
                        data_dir=None, committed: bool = True) -> dict:
    """Every number chapter 4 shows about the end-to-end calibration.

    Parameters
    ----------
    e2e : pandas.DataFrame
        The end-to-end table (:func:`mindpain.endtoend.results.load_or_run`).
    meta : dict
        Its sidecar (``key``, ``timing``).
    participant : pandas.DataFrame
        The participant-level calibration table (``outcome, contrast, model, coverage``),
        for the mean coverage of the same contrasts and models.
    data_dir : path-like, optional
        Data folder (official signature files), for the signatures' support.
    committed : bool
        Whether ``e2e`` is the committed result (else computed by the build).

    Returns
    -------
    dict
        Numbers (replications, grid, coverage per scenario and band, bias, the analysis
        mask, the arms' change SD ratios, the MAR scenario's changes) and phrases
        (``cost``, ``preset``, ``source``, ``verdict_ideal_planted``,
        ``verdict_ideal_in_mask``, ``mask_book``, ``short_list``), each named as the
        chapter glues it under ``e2e_``.
    """
    from mindpain.endtoend.replication import surrogate_weights
    from mindpain.twin.params import load_parameters
    from mindpain.twin.patterns import generator_space

    timing = meta.get("timing", {})
    preset = meta["key"]["preset"]
    params = load_parameters(preset, "realistic")
    space = generator_space(params)
    support = (surrogate_weights(params, data_dir) != 0).any(1).reshape(space.shape)
    worlds = e2e[e2e.scenario.isin(WORLDS)]
    reps = int(worlds.replications.min())
    out = {
        "reps": reps,
        "reps_mar": int(e2e.loc[e2e.scenario == "ideal_mar", "replications"].min()),
        "requested": int(max(timing.get("requested_replications", {"": 0}).values())),
        "preset": preset, "voxel": float(params["bold.voxel_size"][preset]),
        "voxel_book": float(params["bold.voxel_size"]["full"]),
        "n_vox": int(space.n_voxels), "n_support": int(support[space.mask].sum()),
        "source": ("the committed result of `make calibrate` (its content key matches this "
                   "code)" if committed else "computed here (small preset)"),
        "mar_log_odds": float(MAR_LOG_ODDS),
        "mar_default": float(params["design.dropout_baseline_log_odds"]),
        "band_low": 100 * (TARGET - TOLERANCE), "band_high": 100 * (TARGET + TOLERANCE),
        # a coverage from R replications cannot be told from 95 % when the band is
        # narrower than its Monte-Carlo uncertainty at 95 % (sqrt(.95 .05 / R))
        "se95": float(np.sqrt(TARGET * (1 - TARGET) / reps)),
    }
    if timing.get("task_cpu_s_mean") is not None:
        out["cost"] = (f"Each replication of one scenario took on average "
                       f"{timing['task_wall_s_mean']:.0f} s wall "
                       f"({timing['task_cpu_s_mean']:.0f} s of CPU) in one worker, over the "
                       f"{timing['tasks_timed']} replications that recorded their time, on a "
                       "shared two-core machine.")
    else:
        out["cost"] = "The run did not record the time of its replications."
    reported = e2e[e2e.reported.astype(bool)]
    for scenario in SCENARIOS:
        paper = reported[(reported.scenario == scenario) & (reported.model == "paper")]
        every = reported[reported.scenario == scenario]
        out |= {f"{scenario}_min": float(paper.coverage.min()),
                f"{scenario}_max": float(paper.coverage.max()),
                f"{scenario}_mean": float(paper.coverage.mean()),
                f"{scenario}_mcse": float(paper.mc_se.max()),
                f"{scenario}_n_in": int(((paper.coverage - TARGET).abs() <= TOLERANCE).sum()),
                f"{scenario}_n": len(paper),
                f"{scenario}_bias": float(paper.bias.abs().max()),
                f"{scenario}_bias_mean": float(paper.bias.mean()),
                f"{scenario}_all_mean": float(every.coverage.mean()),
                f"{scenario}_all_min": float(every.coverage.min()),
                f"{scenario}_all_max": float(every.coverage.max()),
                f"{scenario}_all_mcse": float(every.mc_se.max())}
    ideal = reported[reported.scenario == "ideal"]
    for truth, (coverage, se) in {"planted": ("coverage", "mc_se"),
                                  "in_mask": ("coverage_in_mask", "mc_se_in_mask")}.items():
        band = band_check(ideal, coverage, se)
        out |= {f"ideal_{truth}_mean": band["mean"], f"ideal_{truth}_n": band["n"],
                f"ideal_{truth}_n_outside": band["n_outside"],
                f"ideal_{truth}_where": "inside" if band["inside"] else "**outside**",
                f"ideal_{truth}_outside": band["outside"]}
    out |= _mask_numbers(timing["analysis_mask"], ideal, params)
    realistic = reported[reported.scenario == "realistic"]
    short = realistic[realistic.coverage + 2 * realistic.mc_se < TARGET - TOLERANCE]
    out |= {"n_short": len(short), "short_list": _rows_phrase(short, "coverage", 2)}
    out |= {f"sd_{arm}": float(ratio)
            for arm, ratio in params["nuisance.arm_change_sd_ratio"].items()}
    # MAR dropout against the same replications' ideal world (paired seeds)
    index = ["outcome", "contrast", "model"]
    mar = reported[reported.scenario == "ideal_mar"].set_index(index)
    base = ideal.set_index(index).loc[mar.index]
    out |= {"mar_cov_change": float((mar.coverage - base.coverage).mean()),
            "mar_bias_change": float((mar.bias.abs() - base.bias.abs()).abs().max())}
    same = participant[participant.model.isin(MODELS)
                       & participant.outcome.isin(reported.outcome)
                       & participant.contrast.isin(reported.contrast)]
    out["part_mean"] = float(same.coverage.mean())
    return out


def _mask_numbers(mask_info: dict, ideal: pd.DataFrame, params) -> dict:
    """Measure the analysis mask on the calibration grid (and the book's grid, if measured)."""
    kept, total = mask_info["worlds"]["ideal"][:2]
    shift = ideal.planted_d_paper_in_mask - ideal.planted_d_paper
    out = {"mask_kept": int(kept), "mask_total": int(total),
           "mask_share": 100 * (1 - kept / total),
           "mask_shift_siips1": float(shift[ideal.outcome == "siips1"].abs().max()),
           "mask_shift_nps": float(shift[ideal.outcome == "nps"].abs().max()),
           "ideal_bias_in_mask_mean": float(ideal.bias_in_mask.mean()),
           "ideal_bias_mean_all": float(ideal.bias.mean())}
    book = mask_info.get("book_grid")
    if book:
        out["mask_book"] = (
            f"On the book's {params['bold.voxel_size']['full']:.0f} mm grid the same mask "
            f"keeps {book['voxels'][0]:,} of {book['voxels'][1]:,} voxels and changes no "
            f"planted effect by more than {book['max_abs_change_d_paper']:.4f}: the loss "
            "belongs to the coarse calibration grid, not to the book's own analysis.")
    else:
        out["mask_book"] = ("The same measurement on the book's grid is part of "
                            "`make calibrate` and was not run here.")
    return out
