"""Figures of chapter 03 (pain signatures): each ``plot_*`` returns a Figure.

The numbers behind the figures (pain21 scores, the twin comparison, recovery statistics)
are computed by :mod:`mindpain.scoring.checks`, so a notebook cell only loads, computes
and plots; :func:`twin_recovery` and :func:`twin_similarity` assemble the twin section's
tables and figure, and the ``*_summary`` functions return the numbers its prose glues.
Figures are made with :class:`matplotlib.figure.Figure` directly (not pyplot), so nothing
is left open in a kernel and a figure appears only where it is glued or displayed. Every
title of a surrogate signature says that it is an open surrogate, not the published map.

Colours are Okabe-Ito (colour-blind safe); maps use the diverging ``RdBu_r`` map centred
at 0 (blue = negative, red = positive), readable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import GROUP_LABELS
from mindpain.figures.style import (
    DIVERGING_CMAP,
    GROUP_COLORS,
    MAX_WIDTH_IN,
    SIGN_COLORS,
    SOFTWARE_COLORS,
    TOTAL_COLORS,
    column_width,
    robust_vmax,
    scale_note,
    styled,
)
from mindpain.scoring import WHOLE
from mindpain.scoring.checks import (
    fraction_positive,
    recovery_stats,
    short_name,
    whole_pattern_scores,
)
from mindpain.twin.model import READOUTS as TWIN_OUTCOMES


# ---------------------------------------------------------------------------- labels
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
    fig = Figure(figsize=(column_width(10), 2.9 * len(signatures)), layout="constrained")
    for k, sig in enumerate(signatures):
        ax = fig.add_subplot(len(signatures), 1, k + 1)
        weights = np.asarray(sig.weights.dataobj, dtype=float)
        vmax = robust_vmax(weights)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plotting.plot_glass_brain(
                sig.weights, figure=fig, axes=ax, display_mode="lyrz", plot_abs=False,
                colorbar=True, cmap=DIVERGING_CMAP, vmin=-vmax, vmax=vmax,
                symmetric_cbar=True, threshold=threshold if threshold is not None else 1e-9,
                black_bg=False, annotate=True, title=None)
        ax.set_title(f"{signature_title(sig)}\n"
                     "weights: red positive, blue negative (maximum projection)\n"
                     f"{scale_note(vmax)}", fontsize=10)
    return fig


# ---------------------------------------------------------------------------- pain21
@styled
def plot_pain21_responses(scores: pd.DataFrame, signatures: Sequence,
                          metric: str = "dot") -> Figure:
    """Bars of each pain21 study's whole-pattern response, one panel per signature.

    Parameters
    ----------
    scores : pandas.DataFrame
        From :func:`mindpain.scoring.checks.pain21_scores` (needs ``study``, ``software``).
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
    fig = Figure(figsize=(column_width(4.6 * len(signatures) + 0.6), 6.4), layout="constrained")
    axes = fig.subplots(1, len(signatures), sharey=True, squeeze=False)[0]
    whole = whole_pattern_scores(scores, metric)
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
    sel = scores[(scores["metric"] == metric) & (scores["region"] != WHOLE)]
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
    side_by_side = 0.36 * sum(widths) + 1.2 * len(signatures) + 2.4
    stack = side_by_side > MAX_WIDTH_IN  # too wide for the column: one panel per row
    if stack:
        fig = Figure(figsize=(column_width(0.36 * max(widths) + 3.6),
                              (0.25 * n_rows + 2.4) * len(signatures)), layout="constrained")
        axes = fig.subplots(len(signatures), 1, squeeze=False)[:, 0]
    else:
        fig = Figure(figsize=(side_by_side, 0.25 * n_rows + 2.8), layout="constrained")
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
        ax.set_yticks(np.arange(len(wide)), wide.index.tolist() if k == 0 or stack else [])
        if k == 0 or stack:
            ax.set_ylabel(row)
        ax.set_xlabel("region (sign of its weights)")
        ax.set_title(signature_title(sig), fontsize=10.5)
        for spine in ax.spines.values():
            spine.set_visible(False)
    bar = fig.colorbar(image, ax=list(axes), shrink=0.7, pad=0.02)
    bar.set_label(f"local score ({metric})")
    return fig


# ---------------------------------------------------------------------------- the twin
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
        From :func:`mindpain.scoring.checks.twin_comparison`.
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
    fig = Figure(figsize=(column_width(4.4 * ncols + 0.4), 4.0 * nrows + 0.6), layout="constrained")
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
        ax.set_xlabel(f"latent {target} response\n(twin truth, % at peak)")
        ax.set_ylabel("measured response (dot product)")
    for ax in axes[len(outcomes):]:
        ax.set_visible(False)
    groups = [g for g in GROUP_COLORS if g in set(comparison["group"])]
    handles = [Line2D([], [], ls="", marker="o", color=GROUP_COLORS[g], label=GROUP_LABELS[g])
               for g in groups]
    handles += [Line2D([], [], ls="", marker=m, color="0.35", label=f"session {s}")
                for s, m in markers.items() if s in set(comparison["session"])]
    handles.append(Line2D([], [], color="0.3", lw=1.2, label="least-squares line"))
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 3),
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
    fig = Figure(figsize=(column_width(5.4 * len(signatures) + 0.4),
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
        if not set(order) <= set(per_map.columns) or WHOLE not in per_map:
            raise MindpainError(f"scores: no local dot scores of {sig.name!r}; score with "
                                "subregions=True")
        per_map["Σ regions"] = per_map[order].sum(axis=1)
        names = [*order, "Σ regions", WHOLE]
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
        ax.set_xlabel(f"local score (dot),\nmean ± SD over {len(per_map)} maps")
        ax.set_title(signature_title(sig).replace(": ", ":\n", 1), fontsize=10.5)
        ax.grid(axis="x", color="0.9", lw=0.8)
        ax.set_axisbelow(True)
    handles = [Patch(color=SIGN_COLORS[1], label="region of positive weights"),
               Patch(color=SIGN_COLORS[-1], label="region of negative weights"),
               Patch(color=TOTAL_COLORS["sum"], label="sum of the regions"),
               Patch(color=TOTAL_COLORS["whole"], label="whole pattern")]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, frameon=False)
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


# ------------------------------------------------------- the twin: recovery and similarity
#: Columns of a recovery table (:func:`mindpain.scoring.checks.recovery_stats`).
RECOVERY_COLUMNS = ("r", "r2", "slope", "loading", "slope_ratio", "n")
#: Parts of a score's variance by the twin's measurement model
#: (:func:`mindpain.twin.model.score_variance_shares`).
VARIANCE_PARTS = ("latent", "noise", "idiosyncratic", "generic")


def twin_recovery(scores: pd.DataFrame, truth: pd.DataFrame | None, preset: str,
                  outcomes: Sequence[str], labels: dict | None = None,
                  ) -> tuple[pd.DataFrame, pd.DataFrame | None, Figure]:
    """Chapter 3's comparison of the measured scores with the twin's latent responses.

    Parameters
    ----------
    scores : pandas.DataFrame
        Session-level scores (:func:`mindpain.scoring.checks.session_level` of
        :func:`mindpain.pipeline.session_scores`).
    truth : pandas.DataFrame or None
        The twin's planted truth (:func:`mindpain.bids.tables.load_truth`); ``None`` for a
        dataset that is not the twin.
    preset : str
        The twin's preset (its measurement model gives the expected loadings).
    outcomes : sequence of str
        The readouts to compare: those scored with the open surrogates (an official map's
        scores are not compared with the twin's latent truth). Empty: none.
    labels : dict, optional
        ``outcome -> signature`` (or label) for the figure's panel titles.

    Returns
    -------
    recovery : pandas.DataFrame
        Index: every twin readout, in order; :data:`RECOVERY_COLUMNS`, all missing when
        nothing is compared.
    shares : pandas.DataFrame or None
        The measurement model's variance shares and predicted r
        (:func:`mindpain.twin.model.score_variance_shares`); ``None`` when nothing is
        compared.
    figure : matplotlib.figure.Figure
        Measured against planted (:func:`plot_measured_vs_planted`), or a message saying why
        there is nothing to compare.
    """
    from mindpain.scoring.checks import twin_comparison
    from mindpain.twin.model import score_variance_shares
    from mindpain.twin.params import load_parameters

    if truth is not None and len(outcomes):
        shares = score_variance_shares(load_parameters(preset))
        comparison = twin_comparison(scores, truth, outcomes=outcomes)
        recovery = recovery_stats(comparison, shares["loading"].to_dict())
        fig = plot_measured_vs_planted(comparison, labels, outcomes=outcomes)
    else:  # a user's own BIDS data (no latent truth), or only official maps in use
        shares = None
        recovery = pd.DataFrame(np.nan, index=list(TWIN_OUTCOMES),
                                columns=list(RECOVERY_COLUMNS))
        fig = plot_message("No planted truth: this dataset is not the simulated twin."
                           if truth is None else "Official maps: the twin's latent truth "
                           "is not compared with their scores.")
    return recovery.reindex(list(TWIN_OUTCOMES)), shares, fig


def recovery_summary(recovery: pd.DataFrame, shares: pd.DataFrame | None) -> dict:
    """Numbers of chapter 3's recovery paragraph, per twin readout.

    Parameters
    ----------
    recovery : pandas.DataFrame
        Index: every twin readout; ``r``, ``slope``, ``slope_ratio`` (:func:`twin_recovery`).
    shares : pandas.DataFrame or None
        Index: every twin readout; ``predicted_r``
        (:func:`mindpain.twin.model.score_variance_shares`); ``None`` leaves it missing.

    Returns
    -------
    dict
        For each readout ``o``: ``<o>_r``, ``<o>_slope``, ``<o>_slope_ratio`` (measured) and
        ``<o>_predicted_r`` (the model's); floats, NaN where missing.

    Examples
    --------
    >>> rec = pd.DataFrame({"r": 0.5, "slope": 2.0, "slope_ratio": 1.0},
    ...                    index=list(TWIN_OUTCOMES))
    >>> s = recovery_summary(rec, None)
    >>> s["nps_r"], s["siips1_slope"], bool(np.isnan(s["nps_predicted_r"]))
    (0.5, 2.0, True)
    """
    out = {}
    for outcome in TWIN_OUTCOMES:
        for name in ("r", "slope", "slope_ratio"):
            out[f"{outcome}_{name}"] = float(recovery.loc[outcome, name])
        predicted = np.nan if shares is None else shares.loc[outcome, "predicted_r"]
        out[f"{outcome}_predicted_r"] = float(predicted)
    return out


def variance_share_summary(shares: pd.DataFrame | None) -> dict:
    """Share of each part of a score's variance by the twin's model, per twin readout.

    Parameters
    ----------
    shares : pandas.DataFrame or None
        Index: every twin readout; ``<part>_share`` for each of :data:`VARIANCE_PARTS`
        (:func:`mindpain.twin.model.score_variance_shares`); ``None``: all missing.

    Returns
    -------
    dict
        ``<readout>_<part>``: floats, NaN where missing.

    Examples
    --------
    >>> s = variance_share_summary(None)
    >>> len(s), bool(np.isnan(s["nps_noise"]))
    (16, True)
    """
    return {f"{outcome}_{part}": float(np.nan if shares is None
                                       else shares.loc[outcome, f"{part}_share"])
            for outcome in TWIN_OUTCOMES for part in VARIANCE_PARTS}


def twin_similarity(preset: str, readouts: Sequence[str] = ("nps", "siips1")) -> pd.DataFrame:
    """Cosine similarity of each surrogate with the twin's patterns: measured and stated.

    Parameters
    ----------
    preset : str
        The twin's preset (its grid and parameter file).
    readouts : sequence of str
        The signatures to show.

    Returns
    -------
    pandas.DataFrame
        :attr:`mindpain.twin.model.TwinSpace.similarity` of ``readouts`` (``readout,
        pattern, cosine``) with ``stated``: the similarity the parameter file states as an
        assumption (``patterns.similarity``; missing where it states none).
    """
    from mindpain.twin.model import twin_space
    from mindpain.twin.params import load_parameters

    params = load_parameters(preset)
    stated = params["patterns.similarity"]
    similarity = twin_space(params).similarity
    similarity = similarity[similarity.readout.isin(list(readouts))].copy()
    similarity["stated"] = [stated.get(f"{r}_{p}", np.nan)
                            for r, p in zip(similarity.readout, similarity.pattern, strict=True)]
    return similarity


def similarity_summary(similarity: pd.DataFrame) -> dict:
    """Numbers of chapter 3's similarity sentence, one pair of each readout and pattern.

    Parameters
    ----------
    similarity : pandas.DataFrame
        ``readout, pattern, cosine, stated`` (:func:`twin_similarity`).

    Returns
    -------
    dict
        ``<readout>_<pattern>`` (measured cosine) and ``stated_<readout>_<pattern>``; floats.

    Examples
    --------
    >>> t = pd.DataFrame({"readout": ["nps"], "pattern": ["nociceptive"], "cosine": [0.4],
    ...                   "stated": [0.45]})
    >>> similarity_summary(t)
    {'nps_nociceptive': 0.4, 'stated_nps_nociceptive': 0.45}
    """
    out = {}
    for r in similarity.itertuples():
        out[f"{r.readout}_{r.pattern}"] = float(r.cosine)
        out[f"stated_{r.readout}_{r.pattern}"] = float(r.stated)
    return out
