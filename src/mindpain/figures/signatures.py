"""Figures of chapter 03 (pain signatures): each ``plot_*`` returns a Figure.

The data behind each figure comes from a small function beside it (``region_table``,
``pain21_scores``, ``twin_comparison``, ...), so a notebook cell only loads and plots.
Figures are made with :class:`matplotlib.figure.Figure` directly (not pyplot), so nothing
is left open in a kernel and a figure appears only where it is glued or displayed. Every
title of a surrogate signature says that it is an open surrogate, not the published map.

Colours are Okabe-Ito (colour-blind safe); maps use the diverging ``RdBu_r`` map centred
at 0 (blue = negative, red = positive), readable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mindpain.errors import MindpainError
from mindpain.figures.style import DIVERGING_CMAP, GROUP_COLORS, styled
from mindpain.twin.model import READOUTS as TWIN_OUTCOMES
from mindpain.twin.model import TARGET_LATENT as TWIN_TARGETS
from mindpain.vocabulary import GROUP_LABELS

#: Colour of positive / negative signature weights (Okabe-Ito vermillion / blue).
SIGN_COLORS = {1: "#D55E00", -1: "#0072B2"}
#: Colour of each pain21 analysis package (Okabe-Ito orange / sky blue).
SOFTWARE_COLORS = {"SPM": "#E69F00", "FSL": "#56B4E9"}
#: Colour of the sum of local scores and of the whole-pattern score (Okabe-Ito).
TOTAL_COLORS = {"sum": "#999999", "whole": "#000000"}
_WHOLE = "whole"
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


def signature_title(signature) -> str:
    """Title of a signature for figures; surrogates say plainly what they are not.

    Examples
    --------
    >>> from mindpain.signatures import get_signature
    >>> signature_title(get_signature("nps-surrogate"))
    'NPS: open surrogate — not the NPS'
    """
    name = short_name(signature)
    if signature.is_surrogate:
        return f"{name}: open surrogate — not the {name}"
    return f"{name} (official map)"


def signature_status(signatures: Sequence) -> str:
    """One sentence saying, per signature, whether the official map or a surrogate is used.

    Examples
    --------
    >>> from mindpain.signatures import get_signature
    >>> signature_status([get_signature("nps-surrogate")])
    'NPS: the open surrogate (no official file was found).'
    """
    parts = []
    for sig in signatures:
        if sig.is_surrogate:
            parts.append(f"{short_name(sig)}: the open surrogate (no official file was found)")
        else:
            parts.append(f"{short_name(sig)}: the official map (sha256 {sig.sha256[:12]}…)")
    return "; ".join(parts) + "."


def _need(frame: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise MindpainError(f"{what}: missing column(s) {', '.join(missing)}")


def _region_order(signature) -> list[str]:
    """Regions of a signature, positive weights first, in the registry's order."""
    if signature.regions is None:
        return []
    regions = signature.regions.sort_values("sign", ascending=False, kind="stable")
    return regions["region"].astype(str).tolist()


def _region_signs(signature) -> dict:
    if signature.regions is None:
        return {}
    return dict(zip(signature.regions["region"].astype(str),
                    signature.regions["sign"].astype(int), strict=True))


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


@styled
def plot_signature_maps(signatures: Sequence, threshold: float | None = None) -> Figure:
    """Draw each signature's weights as a glass brain (one row per signature).

    Parameters
    ----------
    signatures : sequence of mindpain.signatures.Signature
        Signatures to draw; a surrogate's title says that it is not the published map.
    threshold : float, optional
        Hide weights with ``|w|`` below it (default: show every non-zero weight).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn import plotting

    signatures = list(signatures)
    if not signatures:
        raise MindpainError("no signature given; expected at least one to draw")
    fig = Figure(figsize=(10, 2.9 * len(signatures)), layout="constrained")
    for k, sig in enumerate(signatures):
        ax = fig.add_subplot(len(signatures), 1, k + 1)
        weights = np.asarray(sig.weights.dataobj, dtype=float)
        vmax = float(np.nanmax(np.abs(weights))) or 1.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plotting.plot_glass_brain(
                sig.weights, figure=fig, axes=ax, display_mode="lyrz", plot_abs=False,
                colorbar=True, cmap=DIVERGING_CMAP, vmin=-vmax, vmax=vmax,
                symmetric_cbar=True, threshold=threshold if threshold is not None else 1e-9,
                black_bg=False, annotate=True, title=None)
        ax.set_title(f"{signature_title(sig)}\n"
                     "weights: red positive, blue negative (maximum projection)", fontsize=11)
    return fig


# ---------------------------------------------------------------------------- pain21
def pain21_scores(pain21, signatures: Sequence, method: str | None = "zscore",
                  metrics=("dot", "cosine"), subregions: bool = True) -> pd.DataFrame:
    """Score the 21 pain21 maps, normalised first as the data's PROVENANCE advises.

    Parameters
    ----------
    pain21 : mindpain.datasets.Pain21
        From :func:`mindpain.datasets.fetch_pain21`.
    signatures : sequence of str or Signature
        Signatures to score.
    method : {"zscore", "l2"} or None
        Normalisation within the pain21 mask (:func:`mindpain.datasets.normalise_pain21`);
        ``None`` scores the raw maps (SPM maps ×100, FSL maps not: not comparable).
    metrics : sequence of str
        Scoring metrics (:data:`mindpain.scoring.METRICS`).
    subregions : bool
        Also return local (subregion) scores.

    Returns
    -------
    pandas.DataFrame
        The long table of :func:`mindpain.scoring.score_maps` with ``study`` (``pain_01``
        ...), ``n_subjects`` and ``software`` (``SPM``/``FSL``) added; ``map`` is the file.
    """
    from mindpain.datasets import normalise_pain21
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


def _whole(scores: pd.DataFrame, metric: str) -> pd.DataFrame:
    return scores[(scores["region"] == _WHOLE) & (scores["metric"] == metric)]


def fraction_positive(scores: pd.DataFrame, signature, metric: str = "dot") -> tuple[int, int]:
    """Count the maps whose whole-pattern response to ``signature`` is above 0.

    Returns
    -------
    (int, int)
        Number of positive responses and number of maps.
    """
    name = getattr(signature, "name", signature)
    values = _whole(scores, metric)
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
    whole = _whole(scores, metric)
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
                 & (scores["region"] != _WHOLE)]
    if sel.empty:
        raise MindpainError(f"scores: no local {metric} scores of {name!r}; score with "
                            "subregions=True")
    totals = sel["response"].abs().groupby(sel["region"]).sum()
    return {"region": str(totals.idxmax()), "share": float(totals.max() / totals.sum())}


@styled
def plot_pain21_responses(scores: pd.DataFrame, signatures: Sequence,
                          metric: str = "dot") -> Figure:
    """Bars of each pain21 study's whole-pattern response, one panel per signature.

    Parameters
    ----------
    scores : pandas.DataFrame
        From :func:`pain21_scores` (needs ``study`` and ``software``).
    signatures : sequence of Signature
        One panel each, in this order.
    metric : str
        Which metric to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(scores, ("study", "software", "signature", "metric", "region", "response"),
          "pain21 scores")
    signatures = list(signatures)
    fig = Figure(figsize=(4.6 * len(signatures) + 0.6, 6.4), layout="constrained")
    axes = fig.subplots(1, len(signatures), sharey=True, squeeze=False)[0]
    whole = _whole(scores, metric)
    for ax, sig in zip(axes, signatures, strict=True):
        rows = whole[whole["signature"] == sig.name].sort_values("study")
        if rows.empty:
            raise MindpainError(f"pain21 scores: no {metric} response of {sig.name!r}")
        y = np.arange(len(rows))
        colors = [SOFTWARE_COLORS[s] for s in rows["software"]]
        ax.barh(y, rows["response"], color=colors, edgecolor="0.3", linewidth=0.4)
        ax.axvline(0, color="0.2", lw=0.9)
        n_pos, n = fraction_positive(scores, sig, metric)
        ax.set_title(f"{signature_title(sig)}\n{n_pos} of {n} studies respond positively",
                     fontsize=10.5)
        ax.set_xlabel(f"response ({metric}) of the z-scored map")
        ax.set_yticks(y, rows["study"].tolist())
        ax.set_ylim(len(rows) - 0.4, -0.6)
        ax.grid(axis="x", color="0.9", lw=0.8)
        ax.set_axisbelow(True)
    axes[0].set_ylabel("pain21 study (group-level map)")
    handles = [Patch(color=c, label=f"analysed in {s}") for s, c in SOFTWARE_COLORS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
    return fig


@styled
def plot_region_heatmap(scores: pd.DataFrame, signatures: Sequence, metric: str = "dot",
                        row: str = "study") -> Figure:
    """Heatmap of local (subregion) scores: maps as rows, regions as columns.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores table with subregions and a ``row`` column naming each map.
    signatures : sequence of Signature
        One panel each; columns are the signature's regions, positive weights first.
    metric : str
        Which metric (local scores are defined for ``dot``, where they add up).
    row : str
        Column of ``scores`` that labels the rows.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(scores, (row, "signature", "metric", "region", "response"), "scores")
    signatures = list(signatures)
    sel = scores[(scores["metric"] == metric) & (scores["region"] != _WHOLE)]
    tables = []
    for sig in signatures:
        wide = (sel[sel["signature"] == sig.name]
                .pivot_table(index=row, columns="region", values="response", aggfunc="first")
                .reindex(columns=_region_order(sig)).sort_index())
        if wide.empty:
            raise MindpainError(f"scores: no local {metric} scores of {sig.name!r}; score "
                                "with subregions=True")
        tables.append(wide)
    widths = [max(t.shape[1], 1) for t in tables]
    n_rows = max(t.shape[0] for t in tables)
    fig = Figure(figsize=(0.36 * sum(widths) + 1.2 * len(signatures) + 2.4,
                          0.25 * n_rows + 2.8), layout="constrained")
    axes = fig.subplots(1, len(signatures), squeeze=False,
                        gridspec_kw={"width_ratios": widths})[0]
    # one colour scale for every panel, so the local scores of the signatures compare
    vmax = float(np.nanmax([np.nanmax(np.abs(t.to_numpy())) for t in tables])) or 1.0
    norm = TwoSlopeNorm(0.0, -vmax, vmax)
    for k, (ax, sig, wide) in enumerate(zip(axes, signatures, tables, strict=True)):
        image = ax.imshow(wide.to_numpy(), aspect="auto", cmap=DIVERGING_CMAP, norm=norm,
                          interpolation="nearest")
        signs = _region_signs(sig)
        ax.set_xticks(np.arange(wide.shape[1]),
                      [f"{r} ({'+' if signs[r] > 0 else '−'})" for r in wide.columns],
                      rotation=60, ha="right", rotation_mode="anchor")
        ax.set_yticks(np.arange(len(wide)), wide.index.tolist() if k == 0 else [])
        ax.set_xlabel("region (sign of its weights)")
        ax.set_title(signature_title(sig), fontsize=10.5)
        for spine in ax.spines.values():
            spine.set_visible(False)
    bar = fig.colorbar(image, ax=list(axes), shrink=0.7, pad=0.02)
    bar.set_label(f"local score ({metric})")
    axes[0].set_ylabel(row)
    return fig


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
        From :func:`mindpain.bids.load_truth`.
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
    whole = whole[(whole["region"] == _WHOLE) & (whole["metric"] == "dot")]
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
    local = sel[sel["region"] != _WHOLE].groupby(["map", "signature"])["response"].sum()
    whole = sel[sel["region"] == _WHOLE].set_index(["map", "signature"])["response"]
    both = pd.concat([local.rename("local"), whole.rename("whole")], axis=1, join="inner")
    if both.empty:
        raise MindpainError("scores: no local scores; score with subregions=True")
    return float((both["local"] - both["whole"]).abs().max())


@styled
def plot_measured_vs_planted(comparison: pd.DataFrame, labels: dict | None = None,
                             outcomes: Sequence[str] = TWIN_OUTCOMES) -> Figure:
    """Scatter of measured scores against the planted latent responses, one panel per outcome.

    Each panel shows the least-squares line (solid). Measured (score units) and planted
    (percent signal change at the pattern's peak) are on different scales, so there is no
    identity line.

    Parameters
    ----------
    comparison : pandas.DataFrame
        From :func:`twin_comparison`.
    labels : dict, optional
        ``outcome -> signature`` (or label string) for the panel titles.
    outcomes : sequence of str
        Panels, in order (those absent from ``comparison`` are skipped).

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(comparison, ("outcome", "measured", "planted", "group", "session"), "comparison")
    outcomes = [o for o in outcomes if o in set(comparison["outcome"])]
    if not outcomes:
        raise MindpainError("comparison: none of the outcomes to draw is present")
    stats_ = recovery_stats(comparison)
    r = stats_["r"]
    ncols = min(len(outcomes), 2)
    nrows = int(np.ceil(len(outcomes) / ncols))
    fig = Figure(figsize=(4.4 * ncols + 0.4, 4.0 * nrows + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False).ravel())
    markers = {"pre": "o", "post": "^"}
    for ax, outcome in zip(axes, outcomes, strict=False):
        rows = comparison[comparison["outcome"] == outcome]
        for (group, session), g in rows.groupby(["group", "session"], sort=False):
            ax.scatter(g["planted"], g["measured"], s=26, alpha=0.8, lw=0.4, edgecolor="white",
                       color=GROUP_COLORS.get(group, "0.4"), marker=markers.get(session, "s"))
        if np.isfinite(stats_.loc[outcome, "slope"]):
            x = np.array([rows["planted"].min(), rows["planted"].max()])
            b = np.polyfit(rows["planted"], rows["measured"], 1)
            ax.plot(x, np.polyval(b, x), color="0.3", lw=1.2)
        label = (labels or {}).get(outcome, outcome)
        name = label if isinstance(label, str) else getattr(label, "label", outcome)
        ax.set_title(f"{name}\nr = {r[outcome]:.2f}, n = {len(rows)} sessions", fontsize=10.5)
        target = rows["target"].iloc[0] if "target" in rows else "planted"
        ax.set_xlabel(f"latent {target} response (twin truth, % at peak)")
        ax.set_ylabel("measured response (dot product)")
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    groups = [g for g in GROUP_COLORS if g in set(comparison["group"])]
    handles = [Line2D([], [], ls="", marker="o", color=GROUP_COLORS[g], label=GROUP_LABELS[g])
               for g in groups]
    handles += [Line2D([], [], ls="", marker=m, color="0.35", label=f"session {s}")
                for s, m in markers.items() if s in set(comparison["session"])]
    handles.append(Line2D([], [], color="0.3", lw=1.2, label="least-squares line"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4),
               frameon=False)
    return fig


@styled
def plot_region_breakdown(scores: pd.DataFrame, signatures: Sequence) -> Figure:
    """Mean local score of each region across maps, with their sum and the whole score.

    Parameters
    ----------
    scores : pandas.DataFrame
        Long scores table (``dot`` metric, with subregions), e.g. session-level maps.
    signatures : sequence of Signature
        One panel each.

    Returns
    -------
    matplotlib.figure.Figure
    """
    _need(scores, ("map", "signature", "metric", "region", "response"), "scores")
    signatures = list(signatures)
    fig = Figure(figsize=(5.4 * len(signatures) + 0.4,
                          0.3 * max(len(_region_order(s)) for s in signatures) + 2.8),
                 layout="constrained")
    axes = fig.subplots(1, len(signatures), squeeze=False)[0]
    dot = scores[scores["metric"] == "dot"]
    for ax, sig in zip(axes, signatures, strict=True):
        rows = dot[dot["signature"] == sig.name]
        order = _region_order(sig)
        signs = _region_signs(sig)
        per_map = rows.pivot_table(index="map", columns="region", values="response",
                                   aggfunc="first")
        if not set(order) <= set(per_map.columns) or _WHOLE not in per_map:
            raise MindpainError(f"scores: no local dot scores of {sig.name!r}; score with "
                                "subregions=True")
        per_map["Σ regions"] = per_map[order].sum(axis=1)
        names = [*order, "Σ regions", _WHOLE]
        mean = per_map[names].mean()
        sd = per_map[names].std(ddof=1) if len(per_map) > 1 else mean * 0
        colors = [SIGN_COLORS[signs[r]] for r in order] + [TOTAL_COLORS["sum"],
                                                           TOTAL_COLORS["whole"]]
        y = np.arange(len(names))
        ax.barh(y, mean, xerr=sd, color=colors, edgecolor="0.3", linewidth=0.4,
                error_kw={"elinewidth": 0.8, "ecolor": "0.3", "capsize": 2})
        ax.axvline(0, color="0.2", lw=0.9)
        ax.axhline(len(order) - 0.5, color="0.6", lw=0.8, ls=":")
        ax.set_yticks(y, [*order, "Σ regions", "whole pattern"])
        ax.set_ylim(len(names) - 0.4, -0.6)
        ax.set_xlabel(f"local score (dot), mean ± SD over {len(per_map)} maps")
        ax.set_title(signature_title(sig), fontsize=10.5)
        ax.grid(axis="x", color="0.9", lw=0.8)
        ax.set_axisbelow(True)
    handles = [Patch(color=SIGN_COLORS[1], label="region of positive weights"),
               Patch(color=SIGN_COLORS[-1], label="region of negative weights"),
               Patch(color=TOTAL_COLORS["sum"], label="sum of the regions"),
               Patch(color=TOTAL_COLORS["whole"], label="whole pattern")]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    return fig


@styled
def plot_message(text: str, size=(7.0, 1.6)) -> Figure:
    """Draw a figure that only holds a sentence (e.g. why a twin-only figure is absent).

    Examples
    --------
    >>> fig = plot_message("No planted truth: this dataset is not the simulated twin.")
    """
    fig = Figure(figsize=size)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, fontsize=11, color="0.25")
    return fig
