"""Figures of chapter 1 (the trial and its data): each ``plot_*`` returns a Figure.

The figures are made with :class:`matplotlib.figure.Figure` directly (not pyplot), so a
notebook shows a figure only where it is glued or displayed, and nothing is left open.
The inputs come from :mod:`mindpain.bids.describe` (``load_*``; the numbers behind a figure, such as
:func:`~mindpain.bids.describe.voxel_timeseries` and :func:`~mindpain.bids.describe.status_counts`,
are
computed there too) and the twin's parameter table.
"""

from __future__ import annotations

import warnings

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch, Patch

from mindpain.bids.describe import (
    DEFAULT_VOXEL_MM,
    as_bold_image,
    check_parameter_table,
    status_counts,
    voxel_timeseries,
)
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import ARMS, GROUP_LABELS, GROUPS, RATING_OUTCOMES, SESSIONS
from mindpain.figures.style import (
    ANATOMY_CMAP,
    CONDITION_COLORS,
    GROUP_COLORS,
    STATUS_COLORS,
    column_width,
    seeded_jitter,
    styled,
)
from mindpain.figures.tables import readable_table


# ---------------------------------------------------------------------------- flow
def _box(ax, xy, text, *, width, height, edge="black", face="white", dashed=False,
         weight="normal"):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - width / 2, y - height / 2), width, height,
                                boxstyle="round,pad=0.4,rounding_size=1.2", linewidth=1.4,
                                edgecolor=edge, facecolor=face,
                                linestyle="--" if dashed else "-"))
    ax.text(x, y, text, ha="center", va="center", fontsize=10.5, fontweight=weight,
            linespacing=1.35)


def _arrow(ax, start, end, **kw):
    ax.annotate("", xy=end, xytext=start,
                arrowprops={"arrowstyle": "-|>", "color": "0.25", "lw": 1.2,
                            "shrinkA": 0, "shrinkB": 0, **kw})


def _tint(color, amount=0.18):
    rgb = np.array(mpl.colors.to_rgb(color))
    return tuple(1 - amount * (1 - rgb))


@styled
def plot_participant_flow(flow: dict) -> Figure:
    """Draw a CONSORT-style participant-flow diagram with boxes and arrows.

    Parameters
    ----------
    flow : dict
        Counts from :func:`mindpain.bids.describe.participant_flow`.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> from mindpain.bids.describe import participant_flow
    >>> table = pd.DataFrame({"group": ["MBSR", "HEP", "WL", "LTM"],
    ...                       "completed_post": [True, True, False, False]})
    >>> fig = plot_participant_flow(participant_flow(table))
    """
    for key in ("baseline", "randomized", "completed", "baseline_only", "ltm"):
        if key not in flow:
            raise MindpainError(f"flow lacks {key!r}; expected the dict returned by "
                                "mindpain.bids.describe.participant_flow")
    fig = Figure(figsize=(column_width(8.5), 5.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set(xlim=(0, 100), ylim=(0, 100))
    ax.axis("off")
    arm_x = dict(zip(ARMS, (14.5, 40.5, 66.5), strict=True))
    ltm_x = 90.5
    y_top, y_arm, y_out = 86.0, 55.0, 20.0
    h_top, h_arm, h_out = 11.0, 11.0, 11.0
    centre = arm_x["HEP"]

    _box(ax, (centre, y_top), f"Meditation-naive adults\nscanned at baseline\n"
         f"N = {flow['baseline']}", width=30, height=h_top + 3, weight="bold")
    split = (y_top - (h_top + 3) / 2 + y_arm + h_arm / 2) / 2
    ax.plot([centre, centre], [y_top - (h_top + 3) / 2 - 1.6, split], color="0.25", lw=1.2)
    ax.plot([arm_x["MBSR"], arm_x["WL"]], [split, split], color="0.25", lw=1.2)
    ax.text(arm_x["MBSR"] + 1, split + 1.2, "randomized", va="bottom", ha="left",
            fontsize=10, style="italic", color="0.25")
    for arm, x in arm_x.items():
        color = GROUP_COLORS[arm]
        _arrow(ax, (x, split), (x, y_arm + h_arm / 2 + 1.6))
        _box(ax, (x, y_arm), f"{GROUP_LABELS[arm]}\nn = {flow['randomized'][arm]}", width=16,
             height=h_arm, edge=color, face=_tint(color), weight="bold")
        left, right = x - 6.6, x + 6.6
        _arrow(ax, (x - 2, y_arm - h_arm / 2 - 1.6), (left, y_out + h_out / 2 + 1.6))
        _arrow(ax, (x + 2, y_arm - h_arm / 2 - 1.6), (right, y_out + h_out / 2 + 1.6),
               linestyle="--")
        _box(ax, (left, y_out), f"Pre and\npost\nn = {flow['completed'][arm]}",
             width=10.5, height=h_out + 3, edge=color)
        _box(ax, (right, y_out), f"Baseline\nonly\nn = {flow['baseline_only'][arm]}",
             width=10.5, height=h_out + 3, edge="0.45", face="0.96", dashed=True)

    color = GROUP_COLORS["LTM"]
    _box(ax, (ltm_x, y_top), f"Long-term\nmeditators\nN = {flow['ltm']}", width=15,
         height=h_top + 3, edge=color, face=_tint(color), weight="bold")
    _arrow(ax, (ltm_x, y_top - (h_top + 3) / 2 - 1.6), (ltm_x, y_out + (h_out + 3) / 2 + 1.6))
    ax.text(ltm_x + 1.2, (y_top + y_out) / 2, "not randomized", ha="left", va="center",
            rotation=90, fontsize=10, style="italic", color="0.25")
    _box(ax, (ltm_x, y_out), f"One\nsession\nn = {flow['ltm']}", width=14, height=h_out + 3,
         edge=color)
    ax.plot([80.5, 80.5], [4, 96], color="0.8", lw=1, linestyle=":")
    return fig


# ---------------------------------------------------------------------------- task
@styled
def plot_task_timeline(events_one_run: pd.DataFrame, tr: float,
                       n_volumes: int | None = None, title: str | None = None) -> Figure:
    """Draw one run's hot, warm and rating periods over time, with each trial's ratings.

    Parameters
    ----------
    events_one_run : pandas.DataFrame
        Events of a single run (``onset, duration, trial_type`` and, when present,
        ``temperature, intensity_rating, unpleasantness_rating``).
    tr : float
        Repetition time (s); a second axis counts volumes.
    n_volumes : int, optional
        Length of the run in volumes (sets the time axis); default: last event + 10 s.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> events = pd.DataFrame({"onset": [10.0, 23.0], "duration": [10.0, 6.0],
    ...                        "trial_type": ["hot", "rating"],
    ...                        "intensity_rating": [60.0, np.nan],
    ...                        "unpleasantness_rating": [50.0, np.nan]})
    >>> fig = plot_task_timeline(events, tr=2.0)
    """
    for col in ("onset", "duration", "trial_type"):
        if col not in events_one_run:
            raise MindpainError(f"events lack column {col!r}; expected onset, duration, "
                                "trial_type")
    if tr <= 0:
        raise MindpainError(f"tr must be positive (seconds), got {tr}")
    ev = events_one_run.sort_values("onset").reset_index(drop=True)
    end = (n_volumes * tr if n_volumes is not None
           else float((ev["onset"] + ev["duration"]).max()) + 10.0)
    fig = Figure(figsize=(column_width(9), 3.8))
    ax = fig.add_subplot()
    rows = {"hot": 2.0, "warm": 1.0, "rating": 0.0}
    height = 0.6
    for kind, y in rows.items():
        sel = ev[ev["trial_type"] == kind]
        ax.broken_barh(list(zip(sel["onset"], sel["duration"], strict=True)),
                       (y - height / 2, height), facecolors=CONDITION_COLORS[kind],
                       edgecolors="0.2", linewidth=0.6)
    rated = ev[ev["trial_type"].isin(["hot", "warm"])]
    has_ratings = {"intensity_rating", "unpleasantness_rating"} <= set(ev.columns)
    if has_ratings:
        for idx, rec in rated.iterrows():
            later = ev.loc[idx + 1:]
            nxt = later[later["trial_type"] == "rating"]
            x = (float(nxt["onset"].iloc[0] + nxt["duration"].iloc[0] / 2) if len(nxt)
                 else float(rec["onset"] + rec["duration"] / 2))
            if np.isnan(rec["intensity_rating"]):
                continue
            ax.text(x, rows["rating"] + height / 2 + 0.08,
                    f"I {rec['intensity_rating']:.0f}\nU {rec['unpleasantness_rating']:.0f}",
                    ha="center", va="bottom", fontsize=8.5, linespacing=1.1,
                    color=CONDITION_COLORS[rec["trial_type"]], fontweight="bold")
    labels = {"hot": "Hot", "warm": "Warm", "rating": "Rating"}
    if "temperature" in ev:
        for kind in ("hot", "warm"):
            temps = ev.loc[ev["trial_type"] == kind, "temperature"].dropna().unique()
            if len(temps) == 1:
                labels[kind] += f" ({temps[0]:.1f} °C)"
    ax.set_yticks(list(rows.values()), [labels[k] for k in rows])
    ax.set_ylim(-0.5, 2.5 + (0.3 if has_ratings else 0))
    ax.set_xlim(0, end)
    ax.set_xlabel("Time from the first volume (s)")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    top = ax.secondary_xaxis("top", functions=(lambda t: t / tr, lambda v: v * tr))
    top.set_xlabel(f"Volume (TR = {tr:g} s)")
    if has_ratings:
        ax.text(1.0, -0.3, "I / U: intensity / unpleasantness rating (0-100)",
                transform=ax.transAxes, ha="right", va="top", fontsize=9.5, color="0.3")
    if title:
        ax.set_title(title, loc="left")
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- BOLD
@styled
def plot_mean_bold(bold_img, cut_coords=DEFAULT_VOXEL_MM, title: str | None = None) -> Figure:
    """Show the mean image of a BOLD run in three orthogonal slices.

    Parameters
    ----------
    bold_img : str, path-like or nibabel image
        4D BOLD run.
    cut_coords : sequence of 3 floats, optional
        Where the slices cut (mm); a cross marks the point.
    title : str, optional
        Title drawn on the image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn import image, plotting

    img = as_bold_image(bold_img)
    mean = image.mean_img(img, copy_header=True)
    values = np.asarray(mean.dataobj)
    inside = values[values != 0]
    vmin, vmax = (np.percentile(inside, (2, 99.5)) if inside.size else (None, None))
    fig = Figure(figsize=(column_width(8), 3.0), facecolor="black")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plotting.plot_epi(mean, cut_coords=cut_coords, figure=fig, title=title,
                          display_mode="ortho", draw_cross=cut_coords is not None,
                          black_bg=True, colorbar=True, cbar_tick_format="%.0f",
                          cmap=ANATOMY_CMAP, vmin=vmin, vmax=vmax)
    return fig


@styled
def plot_voxel_timeseries(bold_img, events: pd.DataFrame, tr: float,
                          voxel_mm=DEFAULT_VOXEL_MM, high_pass: float = 1 / 128) -> Figure:
    """Plot one voxel's percent signal change against the run's HRF-convolved design.

    The top panel shows the data and the least-squares fit of the design
    (:func:`voxel_timeseries`, whose parameters these are), the bottom panel the hot, warm
    and rating regressors.

    Returns
    -------
    matplotlib.figure.Figure
    """
    vt = voxel_timeseries(bold_img, events, tr, voxel_mm, high_pass)
    frame_times, psc, fit, X, betas, xyz = (vt[k] for k in ("frame_times", "percent", "fit",
                                                            "design", "betas", "xyz"))
    conditions = [c for c in CONDITION_COLORS if c in X.columns]
    fig = Figure(figsize=(column_width(9), 5.4))
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for kind in ("hot", "warm"):
        for rec in events[events["trial_type"] == kind].itertuples():
            top.axvspan(rec.onset, rec.onset + rec.duration, color=CONDITION_COLORS[kind],
                        alpha=0.15, lw=0)
    top.plot(frame_times, psc, color="0.35", lw=1.0, marker="o", ms=2.5, label="Voxel signal")
    top.plot(frame_times, fit, color="black", lw=1.8, label="Model fit")
    top.axhline(0, color="0.6", lw=0.8)
    top.set_ylabel("Signal change (%)")
    coords = ", ".join(f"{v:g}" for v in xyz)
    target = ", ".join(f"{v:g}" for v in voxel_mm)
    top.set_title(f"Voxel at ({coords}) mm MNI (nearest to {target})", loc="left")
    handles, _ = top.get_legend_handles_labels()
    handles += [Patch(color=CONDITION_COLORS[k], alpha=0.3, label=k.capitalize())
                for k in ("hot", "warm") if k in conditions]
    top.legend(handles=handles, ncols=len(handles), loc="upper right", frameon=True,
               framealpha=0.9, fontsize=9.5)
    lo, hi = top.get_ylim()
    top.set_ylim(lo, hi + 0.3 * (hi - lo))
    for kind in conditions:
        bottom.plot(frame_times, X[kind], color=CONDITION_COLORS[kind], lw=1.6,
                    label=f"{kind.capitalize()} (β = {betas[kind]:.2f} %)")
    bottom.set_ylabel("Regressor (a.u.)")
    bottom.set_xlabel("Time from the first volume (s)")
    bottom.legend(ncols=len(conditions), loc="upper right", frameon=True, framealpha=0.9,
                  fontsize=9.5)
    bottom.set_xlim(frame_times[0], frame_times[-1])
    lo, hi = bottom.get_ylim()
    bottom.set_ylim(lo, hi + 0.45 * (hi - lo))
    fig.align_ylabels()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------- ratings
@styled
def plot_ratings(session_ratings: pd.DataFrame, participants: pd.DataFrame) -> Figure:
    """Show the distributions of mean hot-trial ratings by group and session.

    Parameters
    ----------
    session_ratings : pandas.DataFrame
        Table from :func:`mindpain.bids.describe.session_ratings`.
    participants : pandas.DataFrame
        Table from :func:`mindpain.bids.tables.load_participants` (for ``group``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import seaborn as sns

    for col in ("participant_id", "session", "intensity", "unpleasantness"):
        if col not in session_ratings:
            raise MindpainError(f"session ratings lack column {col!r}; expected the table "
                                "from mindpain.bids.describe.session_ratings")
    data = session_ratings.merge(participants[["participant_id", "group"]], on="participant_id",
                                 how="left", validate="many_to_one")
    groups = [g for g in GROUPS if g in set(data["group"])]
    sessions = [s for s in SESSIONS if s in set(data["session"])]
    fig = Figure(figsize=(column_width(9), 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, col in zip(axes, RATING_OUTCOMES, strict=True):
        common = {"data": data, "x": "session", "y": col, "hue": "group", "order": sessions,
                  "hue_order": groups, "palette": GROUP_COLORS, "ax": ax}
        with warnings.catch_warnings():
            # seaborn 0.13 passes matplotlib's deprecated ``vert`` to boxplot (harmless).
            warnings.simplefilter("ignore", mpl.MatplotlibDeprecationWarning)
            sns.boxplot(**common, showfliers=False, width=0.75, linewidth=1.1, fill=False,
                        legend=False, gap=0.1)
        with seeded_jitter():  # the same points in every build
            sns.stripplot(**common, dodge=True, size=4, alpha=0.7, jitter=0.12, legend=False,
                          edgecolor="white", linewidth=0.3)
        ax.set_title(f"{col.capitalize()}", loc="left")
        ax.set_xlabel("Session")
        ax.set_xticks(range(len(sessions)),
                      [{"pre": "Pre (baseline)", "post": "Post"}.get(s, s)
                       for s in sessions])
        ax.set_ylabel("Mean hot-trial rating (0-100)")
        ax.set_ylim(-3, 103)
        ax.grid(axis="y", color="0.92")
        ax.set_axisbelow(True)
    counts = data.groupby("group")["participant_id"].nunique()
    handles = [Patch(facecolor=GROUP_COLORS[g], label=f"{GROUP_LABELS[g]} (n = {counts[g]})")
               for g in groups]
    fig.legend(handles=handles, loc="lower center", ncols=len(groups), frameon=False,
               bbox_to_anchor=(0.5, -0.01))
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


# ---------------------------------------------------------------------------- parameters
@styled
def plot_parameter_status(parameters_table: pd.DataFrame) -> Figure:
    """Draw how many of the twin's parameters are reported, derived, context or assumed.

    Parameters
    ----------
    parameters_table : pandas.DataFrame
        ``mindpain.twin.params.load_parameters(preset).table()``.

    Returns
    -------
    matplotlib.figure.Figure
        One horizontal stacked bar per section of the parameter file.
    """
    counts = status_counts(parameters_table).drop(index="total")
    fig = Figure(figsize=(column_width(8), 0.5 * len(counts) + 1.6))
    ax = fig.add_subplot()
    y = np.arange(len(counts))[::-1]
    left = np.zeros(len(counts))
    for status, color in STATUS_COLORS.items():
        values = counts[status].to_numpy()
        total = int(values.sum())
        bars = ax.barh(y, values, left=left, color=color, edgecolor="white", height=0.7,
                       label=f"{status} ({total})")
        ax.bar_label(bars, labels=[str(v) if v else "" for v in values], label_type="center",
                     fontsize=9, color="white" if status == "reported" else "black")
        left += values
    ax.set_yticks(y, counts.index)
    ax.set_xlabel("Number of parameters")
    ax.set_ylabel("Section of the parameter file")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(title="Status (total)", loc="center left", bbox_to_anchor=(1.01, 0.5),
              frameon=False)
    ax.set_title("Where the twin's parameters come from", loc="left")
    fig.tight_layout()
    return fig


def style_parameters(parameters_table: pd.DataFrame):
    """Return the parameter table as a readable HTML table, each status cell tinted.

    Parameters
    ----------
    parameters_table : pandas.DataFrame
        The table :func:`plot_parameter_status` draws, one row per parameter.

    Returns
    -------
    mindpain.figures.tables.DisplayTable
        Every row, headers as words, notes in full; the ``status`` cell has the colour of
        :data:`STATUS_COLORS` (text contrast kept).
    """
    check_parameter_table(parameters_table, ("section", "parameter", "value", "status"))
    dark = {"reported"}

    def status_css(value):
        color = STATUS_COLORS.get(value)
        if color is None:
            return ""
        return f"background-color: {color}; color: {'white' if value in dark else 'black'}"

    return readable_table(parameters_table, kinds={"value": "text"},
                          styles={"status": status_css})
