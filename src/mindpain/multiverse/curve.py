r"""The specification curve and its permutation null, from the scores of every variant.

:func:`analyse_scores` estimates every specification
(:func:`mindpain.multiverse.models.estimate_specs`) on the observed arm labels and on
permuted ones (:func:`permuted_labels`) and summarises each curve
(:func:`curve_statistics`).

Inference under the null (Simonsohn, Simmons & Nelson 2020)
    Arm labels are permuted among the participants of the two compared arms (all their
    sessions move together; the third arm stays), and **every** specification is
    re-estimated with the same permuted labels. The first level and scoring never see the
    labels, so permuting downstream is the same as re-running the whole pipeline on
    relabelled data, and each permuted curve is a draw of the whole curve under the sharp
    null of no difference between the two arms. Statistics: the share of specifications
    significant (p < .05) in the predicted direction (negative d: a reduction in MBSR) and
    the median estimate; their null p values are :math:`(1 + \#\{null \ge obs\})/(1 + B)`
    (share) and :math:`(1 + \#\{null \le obs\})/(1 + B)` (median).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from mindpain.core.config import derive_rng
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import ARMS, DEFAULT_WORLD, METRICS, SESSIONS
from mindpain.multiverse.grid import GRIDS, OUTCOMES, SPEC_COLUMNS, first_level_variants
from mindpain.multiverse.models import estimate_specs

#: Significance level of a specification.
ALPHA = 0.05
#: Permutations of the arm labels in the null (``make multiverse``).
N_PERMUTATIONS = 500


def participant_frame(scores: pd.DataFrame, participants: pd.DataFrame) -> pd.DataFrame:
    """Return the wide per-participant table of one score series (trial arms only).

    Columns ``participant_id, group, pre, post, age, sex_m``.
    """
    wide = scores.pivot_table(index="participant_id", columns="session", values="response",
                              aggfunc="first").reindex(columns=list(SESSIONS))
    people = participants[participants["group"].isin(ARMS)]
    people = people.set_index("participant_id")
    frame = people[["group"]].join(wide, how="inner")
    frame["age"] = people["age"].astype(float) if "age" in people else np.nan
    frame["sex_m"] = (people["sex"].astype(str) == "M").astype(float) \
        if "sex" in people else np.nan
    return frame.dropna(subset=["pre"]).reset_index()


def permuted_labels(groups: np.ndarray, contrast: str, n_permutations: int, seed: int):
    """Observed labels (row 0) and ``n_permutations`` permutations within the two arms."""
    a, b = contrast.split("_vs_")
    rng = derive_rng(seed, "multiverse-null", contrast)
    idx = np.flatnonzero(np.isin(groups, [a, b]))
    rows = [groups.copy()]
    for _ in range(n_permutations):
        lab = groups.copy()
        lab[idx] = groups[rng.permutation(idx)]
        rows.append(lab)
    return np.asarray(rows)


@dataclass
class Multiverse:
    """Result of :func:`~mindpain.multiverse.runner.run_multiverse`."""

    specs: pd.DataFrame
    null: pd.DataFrame
    summary: pd.DataFrame
    timing: dict = field(default_factory=dict)


def curve_statistics(d, p, alpha: float = ALPHA):
    """Share significant in the predicted (negative) direction and median d, per row."""
    d, p = np.atleast_2d(d), np.atleast_2d(p)
    return ((p < alpha) & (d < 0)).mean(1), np.median(d, axis=1)


def analyse_scores(scores: pd.DataFrame, participants: pd.DataFrame, planted: dict,
                   contrast: str = "MBSR_vs_HEP", n_permutations: int = N_PERMUTATIONS,
                   seed: int = 0, world: str = DEFAULT_WORLD,
                   recoverable: dict | None = None) -> Multiverse:
    """Specification curve and its permutation null from the scores of every variant.

    Parameters
    ----------
    scores : pandas.DataFrame
        ``first_level, participant_id, session, outcome, metric, response``.
    participants : pandas.DataFrame
        ``participant_id, group, age, sex``.
    planted : dict
        outcome -> planted d of the contrast (NaN when unknown).
    contrast : str
        ``"A_vs_B"``.
    n_permutations, seed : int
        Permutations of the null and the master seed they are drawn from.
    world : str
        The twin's world the data come from (recorded in the ``world`` column).
    recoverable : dict, optional
        outcome -> the d the pipeline can recover (NaN when unknown or not given).
    """
    recoverable = recoverable or {}
    variants = {v.label: v for grid in GRIDS for v in first_level_variants(grid)}
    spec_rows, null_rows, summary_rows = [], [], []
    for outcome in OUTCOMES:
        d_all, p_all = [], []
        labels = None
        for label in dict.fromkeys(scores["first_level"]):
            v = variants[label]
            for metric in METRICS:
                sub = scores[(scores.first_level == label) & (scores.outcome == outcome)
                             & (scores.metric == metric)]
                frame = participant_frame(sub, participants)
                if labels is None:
                    labels = permuted_labels(frame["group"].to_numpy(), contrast,
                                             n_permutations, seed)
                elif not np.array_equal(labels[0], frame["group"].to_numpy()):
                    raise MindpainError(f"multiverse: variant {label} has a different set of "
                                        "participants than the first")
                for res in estimate_specs(frame, labels, contrast):
                    spec_rows.append({
                        "outcome": outcome, "contrast": contrast, "world": world,
                        "first_level": label,
                        "smoothing_fwhm": v.smoothing_fwhm or 0.0, "hrf_model": v.hrf_model,
                        "high_pass_s": v.high_pass_s, "confounds": v.confounds,
                        "metric": metric, "model": res["model"], "sample": res["sample"],
                        "covariates": res["covariates"], "estimate_d": res["d"][0],
                        "ci_low": res["ci_low"][0], "ci_high": res["ci_high"][0],
                        "p": res["p"][0], "n": res["n"],
                        "planted_d": planted.get(outcome, np.nan),
                        "recoverable_d": recoverable.get(outcome, np.nan)})
                    d_all.append(res["d"])
                    p_all.append(res["p"])
        d_all, p_all = np.asarray(d_all).T, np.asarray(p_all).T  # (R + 1, specs)
        share, median = curve_statistics(d_all, p_all)
        B = share.size - 1
        null_rows.append(pd.DataFrame({"outcome": outcome, "permutation": np.arange(1, B + 1),
                                       "share_significant": share[1:],
                                       "median_d": median[1:]}))
        summary_rows.append({
            "outcome": outcome, "contrast": contrast, "world": world, "n_specs": d_all.shape[1],
            "share_significant": share[0], "median_d": median[0],
            "p_share": (1 + np.sum(share[1:] >= share[0] - 1e-12)) / (1 + B),
            "p_median": (1 + np.sum(median[1:] <= median[0])) / (1 + B),
            "null_share_mean": share[1:].mean(), "null_share_q95": np.quantile(share[1:], 0.95),
            "permutations": B, "planted_d": planted.get(outcome, np.nan),
            "recoverable_d": recoverable.get(outcome, np.nan)})
    specs = pd.DataFrame(spec_rows)
    specs["significant"] = (specs["p"] < ALPHA) & (specs["estimate_d"] < 0)
    specs.insert(0, "spec", np.arange(len(specs)))
    return Multiverse(specs=specs[list(SPEC_COLUMNS)],
                      null=pd.concat(null_rows, ignore_index=True),
                      summary=pd.DataFrame(summary_rows))
