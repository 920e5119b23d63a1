"""Figures of chapter 02 (first level): each ``plot_*`` returns a matplotlib Figure.

They draw under the book's style (:func:`mindpain.figures.style.styled`) and compute nothing
of their own: one voxel's fit is :func:`mindpain.bids.describe.voxel_fit`.
"""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np

from mindpain.core.vocabulary import FRAMEWISE_DISPLACEMENT, TASK, TRIAL_TYPES
from mindpain.figures.style import (
    AXIS_COLORS,
    CONDITION_COLORS,
    DIVERGING_CMAP,
    SIGNAL_COLORS,
    column_width,
    detached,
    robust_vmax,
    scale_note,
    styled,
)
from mindpain.figures.viewer import brain_viewer, mni_template

#: Colours of the conditions and of the observed and fitted signal (the book's style).
COLORS = {**CONDITION_COLORS, **SIGNAL_COLORS}


@styled
def plot_design_matrix(design, title=None):
    """Show a run's design matrix (regressors as columns, volumes as rows).

    Parameters
    ----------
    design : pandas.DataFrame
        Design matrix, e.g. read from ``*_desc-design_matrix.tsv``.
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from nilearn.plotting import plot_design_matrix as _plot

    fig, ax = plt.subplots(figsize=(column_width(7), 5.5), layout="constrained")
    _plot(design, axes=ax)
    ax.set_ylabel("volume (scan)")
    if title:
        ax.set_title(title, fontsize=11)
    return detached(fig)


@styled
def plot_voxel_fit(fit, title=None):
    """Observed BOLD at one voxel against the GLM's fitted signal, events shaded."""
    fig, ax = plt.subplots(figsize=(column_width(10), 3.4), layout="constrained")
    for ev in fit["events"].itertuples():
        ax.axvspan(ev.onset, ev.onset + ev.duration, color=COLORS[ev.trial_type], alpha=0.25,
                   lw=0)
    ax.plot(fit["time"], fit["observed"], color=COLORS["observed"], lw=1, label="observed")
    ax.plot(fit["time"], fit["fitted"], color=COLORS["fitted"], lw=2, label="fitted (GLM)")
    from matplotlib.patches import Patch

    handles = ax.get_legend_handles_labels()[0] + [
        Patch(color=COLORS[k], alpha=0.4, label=k) for k in TRIAL_TYPES]
    ax.legend(handles=handles, ncol=5, loc="upper right", fontsize=8, frameon=False)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("BOLD (% signal change)")
    ax.set_xlim(0, fit["time"][-1])
    x, y, z = fit["coords"]
    ax.set_title(title or f"voxel at MNI ({x:.0f}, {y:.0f}, {z:.0f}) mm, "
                          f"R² = {fit['r2']:.2f}", fontsize=11)
    return detached(fig)


#: The ``|z|`` above which one participant's z map is shown (a display convention, one-sided
#: p < .01, uncorrected: the map illustrates, it tests nothing).
DISPLAY_Z = 2.3


def offline_viewer(img, threshold=None, title=None, alt=None):
    """Return an offline viewer of a map (:func:`~mindpain.figures.viewer.brain_viewer`).

    ``alt`` (what the map shows) defaults to a description built from ``title``.
    """
    title = title or "statistical map"
    alt = alt or (f"Orthogonal slices of {title} on the MNI152 template"
                  + (f", shown where |value| > {threshold:g}" if threshold else ""))
    return brain_viewer(img, title, alt, threshold=threshold)


@styled
def plot_recovery(group_effect, planted, mask_img, r, cut_coords=(4, -20, 10)):
    """Plot the group hot>warm map beside the planted pattern, and their voxel scatter."""
    from nilearn import plotting

    mask = np.asarray(nib.load(mask_img).dataobj if isinstance(mask_img, str)
                      else mask_img.dataobj) > 0
    a = np.asarray(group_effect.dataobj, float)[mask]
    b = np.asarray(nib.load(planted).dataobj if not hasattr(planted, "dataobj")
                   else planted.dataobj, float)[mask]
    # The two maps one above the other across the column, the voxel scatter below them.
    fig = plt.figure(figsize=(column_width(11), 8.6), layout="constrained")
    grid = fig.add_gridspec(3, 1, height_ratios=[1, 1, 1.5])
    for row, (img, label) in enumerate(((group_effect, "group hot>warm effect (estimated)"),
                                        (planted, "planted hot>warm pattern (truth)"))):
        ax = fig.add_subplot(grid[row, 0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vmax = robust_vmax(img if hasattr(img, "dataobj") else nib.load(img))
            plotting.plot_stat_map(img, bg_img=mni_template(), axes=ax, cut_coords=cut_coords,
                                   draw_cross=False, black_bg=False, cmap=DIVERGING_CMAP,
                                   title=None, colorbar=True, vmax=vmax)
        ax.set_title(f"{label}; {scale_note(vmax)}", fontsize=10)
    ax = fig.add_subplot(grid[2, 0])
    ax.set_box_aspect(1)
    ax.scatter(b, a, s=4, alpha=0.35, color=COLORS["fitted"], lw=0)
    ax.set_xlabel("planted effect (% signal change)")
    ax.set_ylabel("estimated group effect\n(% signal change)")
    ax.set_title(f"voxels in the mask, r = {r:.2f}", fontsize=10)
    lim = [min(a.min(), b.min()), max(a.max(), b.max())]
    ax.plot(lim, lim, color="0.6", lw=1, ls="--")
    return detached(fig)


@styled
def plot_motion(confounds, threshold_mm: float, title=None):
    """Show one run's head motion: translations, rotations and framewise displacement.

    Parameters
    ----------
    confounds : pandas.DataFrame
        A ``*_desc-confounds_timeseries.tsv`` table (fMRIPrep names: ``trans_x`` ..
        ``rot_z`` in mm and rad, ``framewise_displacement`` in mm).
    threshold_mm : float
        FD above which a volume is an outlier (drawn as a line, outliers marked): the
        threshold the confounds table was made with (the twin's
        ``nuisance.outlier_fd_mm``; fMRIPrep's default is 0.5 mm).
    title : str, optional
        Figure title.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = plt.subplots(3, 1, figsize=(column_width(8), 6), sharex=True, layout="constrained")
    vol = np.arange(len(confounds))
    for axis, colour in AXIS_COLORS.items():
        axes[0].plot(vol, confounds[f"trans_{axis}"], color=colour, lw=1, label=axis)
        axes[1].plot(vol, np.degrees(confounds[f"rot_{axis}"]), color=colour, lw=1, label=axis)
    axes[0].set_ylabel("translation (mm)")
    axes[1].set_ylabel("rotation (degrees)")
    axes[0].legend(ncols=3, fontsize=8, loc="upper left")
    fd = confounds[FRAMEWISE_DISPLACEMENT].to_numpy(dtype=float)
    axes[2].plot(vol, fd, color="0.3", lw=1)
    axes[2].axhline(threshold_mm, color=COLORS["hot"], ls="--", lw=1,
                    label=f"outlier threshold {threshold_mm:g} mm")
    out = np.flatnonzero(np.nan_to_num(fd) > threshold_mm)
    axes[2].plot(out, fd[out], "o", color=COLORS["hot"], ms=4, label="outlier volumes")
    axes[2].set_ylabel("FD (mm)")
    axes[2].set_xlabel("volume")
    axes[2].legend(fontsize=8, loc="upper left")
    if title:
        axes[0].set_title(title, fontsize=11)
    return detached(fig)


@styled
def plot_motion_effect(table):
    """Show the residual variance of each run without and with the motion confounds.

    Parameters
    ----------
    table : pandas.DataFrame
        :func:`mindpain.first_level.realism.motion_effect_on_runs` output.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(column_width(7), 3.2), layout="constrained")
    x = np.arange(len(table))
    ax.bar(x - 0.2, table["var_without"], width=0.4, color="0.6", label="without motion")
    ax.bar(x + 0.2, table["var_with"], width=0.4, color=COLORS["fitted"],
           label="with motion + outliers")
    ax.set_xticks(x, [r.replace(f"_task-{TASK}", "\n") for r in table["run"]], fontsize=7)
    ax.set_ylabel("mean residual variance (%²)")
    ax.legend(fontsize=8)
    return detached(fig)
