"""Checks of the signature scores (chapter 3): pain21 validation, twin recovery, additivity.

The numbers chapter 3 reports about the signatures, computed from score tables (the long
table of :func:`mindpain.scoring.engine.score_maps`) and the twin's planted truth:

- the signatures' named subregions (:func:`region_table`);
- the pain21 maps scored after normalisation (:func:`pain21_scores`), how many respond
  positively (:func:`fraction_positive`), how far responses spread across studies
  (:func:`response_span`) and which region carries a signature's response
  (:func:`dominant_region`);
- on the simulated twin, the measured session-level responses beside the planted latent
  responses (:func:`session_level`, :func:`twin_comparison`) and how well they recover them
  (:func:`recovery_stats`, :func:`recovery_correlations`);
- that local (subregion) dot products add up to the whole-pattern score
  (:func:`additivity_error`).

The figures of these numbers are in :mod:`mindpain.figures.signatures`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.scoring import WHOLE
from mindpain.twin.model import READOUTS as TWIN_OUTCOMES
from mindpain.twin.model import TARGET_LATENT as TWIN_TARGETS

_RUN_ENTITY = re.compile(r"(?:^|_)run-[A-Za-z0-9]+(?:_|$)")


# ---------------------------------------------------------------------------- helpers
def short_name(signature) -> str:
    """Return the published name a signature stands for: ``"NPS"``, ``"NPSpos"``, ``"SIIPS1"``.

    Examples
    --------
    >>> from mindpain.signatures import get_signature
    >>> short_name(get_signature("nps-surrogate-pos"))
    'NPSpos'
    """
    return str(signature.label).split(" (")[0]


def _need(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MindpainError(f"{what}: missing column(s) {', '.join(missing)}")


# ---------------------------------------------------------------------------- the maps
def region_table(signature) -> pd.DataFrame:
    """Return the named subregions of a signature as a display table.

    Parameters
    ----------
    signature : mindpain.signatures.Signature
        A signature with ``regions`` (surrogates and official NPS/SIIPS1 have them).

    Returns
    -------
    pandas.DataFrame
        One row per region: ``signature``, ``region``, ``weights`` (``+`` or ``−``),
        ``MNI x, y, z (mm)`` (the approximate centre) and ``voxels``.

    Examples
    --------
    >>> from mindpain.signatures import get_signature
    >>> region_table(get_signature("siips1-surrogate"))["region"].iloc[0]
    'vmPFC'
    """
    if signature.regions is None:
        raise MindpainError(f"signature {signature.name!r} has no named regions; expected a "
                            "registered NPS or SIIPS1 (official or surrogate)")
    reg = signature.regions.sort_values("sign", ascending=False, kind="stable")
    centre = [("—" if pd.isna(x) else f"{x:.0f}, {y:.0f}, {z:.0f}")
              for x, y, z in zip(reg["x"], reg["y"], reg["z"], strict=True)]
    return pd.DataFrame({
        "signature": short_name(signature),
        "region": reg["region"].astype(str).to_numpy(),
        "weights": np.where(reg["sign"].to_numpy() > 0, "+", "−"),
        "MNI x, y, z (mm)": centre,
        "voxels": reg["n_voxels"].astype(int).to_numpy(),
    })


# ---------------------------------------------------------------------------- pain21
def pain21_scores(pain21, signatures: Sequence, method: str | None = "zscore",
                  metrics=("dot", "cosine"), subregions: bool = True) -> pd.DataFrame:
    """Score the 21 pain21 maps, normalised first as the data's PROVENANCE advises.

    Parameters
    ----------
    pain21 : mindpain.core.datasets.Pain21
        From :func:`mindpain.core.datasets.fetch_pain21`.
    signatures : sequence of str or Signature
        Signatures to score.
    method : {"zscore", "l2"} or None
        Normalisation within the pain21 mask (:func:`mindpain.core.datasets.normalise_pain21`);
        ``None`` scores the raw maps (SPM maps ×100, FSL maps not: not comparable).
    metrics : sequence of str
        Scoring metrics (:data:`mindpain.core.vocabulary.METRICS`).
    subregions : bool
        Also return local (subregion) scores.

    Returns
    -------
    pandas.DataFrame
        The long table of :func:`mindpain.scoring.engine.score_maps` with ``study`` (``pain_01``
        ...), ``n_subjects`` and ``software`` (``SPM``/``FSL``) added; ``map`` is the file.
    """
    from mindpain.core.datasets import normalise_pain21
    from mindpain.scoring import score_maps

    studies = pain21.sample_sizes.reset_index(drop=True)
    if method is None:
        images = list(pain21.maps)
    else:
        images = [normalise_pain21(path, method, mask=pain21.mask) for path in pain21.maps]
    table = score_maps(images, list(signatures), metrics=metrics, subregions=subregions)
    # score_maps returns the same number of rows for every map, in map order
    index = np.repeat(np.arange(len(pain21.maps)), len(table) // len(pain21.maps))
    table["study"] = studies["study_id"].to_numpy()[index]
    table["n_subjects"] = studies["n_subjects"].to_numpy()[index]
    table["software"] = np.where(studies["spm_flag"].to_numpy()[index] == 1, "SPM", "FSL")
    table["participant_id"] = table["study"]
    table["map"] = [pain21.maps[i].name for i in index]
    return table


def whole_pattern_scores(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Rows of a long scores table that hold whole-pattern ``metric`` responses.

    Examples
    --------
    >>> t = pd.DataFrame({"metric": ["dot", "dot", "cosine"],
    ...                   "region": ["whole", "dACC", "whole"], "response": [1.0, 2.0, 3.0]})
    >>> whole_pattern_scores(t, "dot")["response"].tolist()
    [1.0]
    """
    return scores[(scores["region"] == WHOLE) & (scores["metric"] == metric)]


def fraction_positive(scores: pd.DataFrame, signature, metric: str = "dot") -> tuple[int, int]:
    """Count the maps whose whole-pattern response to ``signature`` is above 0.

    Returns
    -------
    (int, int)
        Number of positive responses and number of maps.
    """
    name = getattr(signature, "name", signature)
    values = whole_pattern_scores(scores, metric)
    values = values.loc[values["signature"] == name, "response"]
    return int((values > 0).sum()), int(values.size)


def response_span(scores: pd.DataFrame, signature, metric: str = "dot") -> float:
    """Largest over smallest |whole-pattern response| of a signature across maps.

    On raw pain21 maps it shows why responses must be normalised before they are compared
    across studies (the studies' effect units differ).

    Examples
    --------
    >>> t = pd.DataFrame({"signature": ["s"] * 3, "metric": ["dot"] * 3,
    ...                   "region": ["whole"] * 3, "response": [2.0, -40.0, 10.0]})
    >>> response_span(t, "s")
    20.0
    """
    name = getattr(signature, "name", signature)
    _need(scores, ("signature", "metric", "region", "response"), "scores")
    whole = whole_pattern_scores(scores, metric)
    values = whole.loc[whole["signature"] == name, "response"].abs()
    if values.empty or values.min() == 0:
        return float("nan")
    return float(values.max() / values.min())


def dominant_region(scores: pd.DataFrame, signature, metric: str = "dot") -> dict:
    """Return the region with the largest share of the summed absolute local scores.

    Returns
    -------
    dict
        ``region`` (name) and ``share`` (its fraction of sum of |local score| over maps
        and regions).
    """
    name = getattr(signature, "name", signature)
    sel = scores[(scores["signature"] == name) & (scores["metric"] == metric)
                 & (scores["region"] != WHOLE)]
    if sel.empty:
        raise MindpainError(f"scores: no local {metric} scores of {name!r}; score with "
                            "subregions=True")
    totals = sel["response"].abs().groupby(sel["region"]).sum()
    return {"region": str(totals.idxmax()), "share": float(totals.max() / totals.sum())}


# ---------------------------------------------------------------------------- the twin
def session_level(scores: pd.DataFrame) -> pd.DataFrame:
    """Keep the session-level maps of a scores table (drop maps with a ``run-`` entity).

    The first level writes one hot>warm map per run and one per session (fixed effects);
    the signature outcomes are read from the session maps.

    Examples
    --------
    >>> t = pd.DataFrame({"map": ["sub-1_ses-pre_task-heat_run-1_x.nii.gz",
    ...                           "sub-1_ses-pre_task-heat_x.nii.gz"]})
    >>> session_level(t)["map"].tolist()
    ['sub-1_ses-pre_task-heat_x.nii.gz']
    """
    _need(scores, ("map",), "scores")
    is_run = scores["map"].astype(str).map(lambda name: bool(_RUN_ENTITY.search(name)))
    return scores[~is_run.to_numpy(dtype=bool)].reset_index(drop=True)


def twin_comparison(scores: pd.DataFrame, truth: pd.DataFrame,
                    outcomes: Sequence[str] = TWIN_OUTCOMES,
                    targets: dict | None = None) -> pd.DataFrame:
    """Measured whole-pattern responses beside the twin's latent (planted) responses.

    Parameters
    ----------
    scores : pandas.DataFrame
        From :func:`mindpain.pipeline.session_scores` (``outcome`` column; run-level maps,
        if any, are dropped).
    truth : pandas.DataFrame
        From :func:`mindpain.bids.tables.load_truth`.
    outcomes : sequence of str
        Outcomes to compare.
    targets : dict, optional
        ``outcome -> truth column`` it is compared with (default :data:`TWIN_TARGETS`: the
        latent response each signature targets); an outcome whose target is absent from
        ``truth`` is compared with the column of its own name.

    Returns
    -------
    pandas.DataFrame
        Long: ``participant_id, session, group, outcome, target, measured, planted``.
    """
    _need(scores, ("participant_id", "session", "outcome", "metric", "region", "response",
                   "map"), "session scores")
    targets = {**TWIN_TARGETS, **(targets or {})}
    column = {o: targets[o] if targets.get(o) in truth else o for o in outcomes}
    _need(truth, ("participant_id", "session", *dict.fromkeys(column.values())), "truth table")
    whole = session_level(scores)
    whole = whole[(whole["region"] == WHOLE) & (whole["metric"] == "dot")]
    whole = whole[whole["outcome"].isin(list(outcomes))]
    dup = whole.duplicated(["participant_id", "session", "outcome"])
    if dup.any():
        raise MindpainError("session scores: more than one session map for "
                            f"{int(dup.sum())} participant/session/outcome rows")
    measured = whole[["participant_id", "session", "outcome", "response"]].rename(
        columns={"response": "measured"})
    keep = ["participant_id", "session", *(["group"] if "group" in truth else [])]
    planted = pd.concat([truth[keep].assign(outcome=o, target=c, planted=truth[c])
                         for o, c in column.items()], ignore_index=True)
    out = measured.merge(planted, on=["participant_id", "session", "outcome"], how="inner")
    if "group" not in out:
        out["group"] = "n/a"
    columns = ["participant_id", "session", "group", "outcome", "target", "measured", "planted"]
    return out[columns].sort_values(["outcome", "participant_id", "session"]).reset_index(
        drop=True)


def recovery_correlations(comparison: pd.DataFrame) -> pd.Series:
    """Pearson r between measured and planted values, per outcome.

    Examples
    --------
    >>> c = pd.DataFrame({"outcome": ["nps"] * 3, "measured": [1.0, 2.0, 3.0],
    ...                   "planted": [2.0, 4.0, 6.5]})
    >>> round(float(recovery_correlations(c)["nps"]), 3)
    0.998
    """
    return recovery_stats(comparison)["r"]


def recovery_stats(comparison: pd.DataFrame, loadings: dict | None = None) -> pd.DataFrame:
    """How measured scores relate to the planted (latent) responses, per outcome.

    Parameters
    ----------
    comparison : pandas.DataFrame
        From :func:`twin_comparison`.
    loadings : dict, optional
        ``outcome -> loading``: the score per unit of latent response that the twin's
        measurement model expects (:attr:`mindpain.twin.model.Constants.readout`).

    Returns
    -------
    pandas.DataFrame
        Index ``outcome``; ``r`` (Pearson), ``r2``, ``slope`` (OLS of measured on planted,
        score units per unit of latent response), ``loading`` and ``slope_ratio``
        (slope / loading: 1 when the score is, on average, the model's linear readout of the
        latent response; NaN without ``loadings``), ``n`` sessions.

    Examples
    --------
    >>> c = pd.DataFrame({"outcome": ["nps"] * 3, "measured": [1.0, 2.0, 3.0],
    ...                   "planted": [2.0, 4.0, 6.0]})
    >>> recovery_stats(c, {"nps": 0.25})[["r", "slope", "slope_ratio"]].round(3).values.tolist()
    [[1.0, 0.5, 2.0]]
    """
    _need(comparison, ("outcome", "measured", "planted"), "comparison")
    rows = []
    for outcome, g in comparison.groupby("outcome", sort=False):
        g = g.dropna(subset=["measured", "planted"])
        ok = len(g) > 1 and g["planted"].std() > 0 and g["measured"].std() > 0
        r = float(np.corrcoef(g["measured"], g["planted"])[0, 1]) if ok else np.nan
        slope = float(np.polyfit(g["planted"], g["measured"], 1)[0]) if ok else np.nan
        loading = float((loadings or {}).get(outcome, np.nan))
        rows.append({"outcome": outcome, "r": r, "r2": r**2, "slope": slope,
                     "loading": loading, "slope_ratio": slope / loading, "n": len(g)})
    return pd.DataFrame(rows).set_index("outcome")


def additivity_error(scores: pd.DataFrame, metric: str = "dot") -> float:
    """Largest |sum of local scores − whole-pattern score| over maps and signatures.

    Examples
    --------
    >>> t = pd.DataFrame({"map": ["m"] * 3, "signature": ["s"] * 3, "metric": ["dot"] * 3,
    ...                   "region": ["whole", "a", "b"], "response": [3.0, 1.0, 2.0]})
    >>> additivity_error(t)
    0.0
    """
    _need(scores, ("map", "signature", "metric", "region", "response"), "scores")
    sel = scores[scores["metric"] == metric]
    local = sel[sel["region"] != WHOLE].groupby(["map", "signature"])["response"].sum()
    whole = sel[sel["region"] == WHOLE].set_index(["map", "signature"])["response"]
    both = pd.concat([local.rename("local"), whole.rename("whole")], axis=1, join="inner")
    if both.empty:
        raise MindpainError("scores: no local scores; score with subregions=True")
    return float((both["local"] - both["whole"]).abs().max())
