"""The book's one figure style: colours, rc settings and the decorator that applies them.

Every figure module imports its colours from here, so a group, a condition, a model, a
contrast or a parameter status has the same colour on every page (Okabe-Ito and viridis,
colour-blind safe); no figure module types a colour of its own.
"""

from __future__ import annotations

import functools

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.text import Text

from mindpain.core.vocabulary import DEFAULT_SEED

#: The Okabe-Ito palette (colour-blind safe) by name: the categorical colours below are its.
OKABE_ITO = {"orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00",
             "purple": "#CC79A7", "grey": "#999999", "black": "#000000"}
#: Colour of each group (Okabe-Ito, colour-blind safe); every figure of the book uses it.
GROUP_COLORS = {"MBSR": "#0072B2", "HEP": "#009E73", "WL": "#999999", "LTM": "#CC79A7"}
#: Colour of each task condition (Okabe-Ito; disjoint from the group colours).
CONDITION_COLORS = {"hot": "#D55E00", "warm": "#E69F00", "rating": "#56B4E9"}
#: Colour of an observed signal and of a model's fit (time series, design fits).
SIGNAL_COLORS = {"observed": "0.45", "fitted": "#0072B2"}
#: Colour of each spatial axis (x, y, z) in motion traces (ColorBrewer Dark2, colour-blind safe).
AXIS_COLORS = {"x": "#1b9e77", "y": "#d95f02", "z": "#7570b3"}
#: Colour of each parameter status, from most to least evidence (viridis, colour-blind safe).
STATUS_COLORS = {"reported": "#31688E", "derived": "#35B779", "context": "#90D743",
                 "assumed": "#FDE725"}
#: Colour of each signature outcome (design figures).
OUTCOME_COLORS = {"nps": OKABE_ITO["blue"], "siips1": OKABE_ITO["vermillion"]}
#: Colour of each reported contrast (design figures).
CONTRAST_COLORS = {"MBSR_vs_HEP": OKABE_ITO["blue"], "MBSR_vs_WL": OKABE_ITO["vermillion"],
                   "MBSR_within": OKABE_ITO["green"]}
#: Colour of what the paper reports (its values and its test).
PAPER_COLOR = OKABE_ITO["purple"]
#: Colour of each trial model (forest and coverage plots), the paper's test included.
MODEL_COLORS = {"change_score": OKABE_ITO["blue"], "ancova": OKABE_ITO["vermillion"],
                "ancova_hc3": OKABE_ITO["orange"], "mixedlm": OKABE_ITO["green"],
                "paper": PAPER_COLOR}
#: Colour of reference lines in diagnostic plots (zero residual, the normal line).
REFERENCE_COLOR = OKABE_ITO["vermillion"]
#: Colour of each cohort of the meditator comparison.
COHORT_COLORS = {"naive": OKABE_ITO["blue"], "LTM": GROUP_COLORS["LTM"]}
#: Colour of positive / negative signature weights.
SIGN_COLORS = {1: OKABE_ITO["vermillion"], -1: OKABE_ITO["blue"]}
#: Colour of each pain21 analysis package.
SOFTWARE_COLORS = {"SPM": OKABE_ITO["orange"], "FSL": OKABE_ITO["sky_blue"]}
#: Colour of the sum of local scores and of the whole-pattern score.
TOTAL_COLORS = {"sum": OKABE_ITO["grey"], "whole": OKABE_ITO["black"]}
#: Colour of a significant result, and of the others.
SIGNIFICANT_COLOR, OTHER_COLOR = OKABE_ITO["vermillion"], "#7f7f7f"
#: Colour of intervals and histograms (sky blue), and of planted values and equivalence
#: bounds (green).
INTERVAL_COLOR, PLANTED_COLOR = OKABE_ITO["sky_blue"], OKABE_ITO["green"]
#: Diverging colour map of every brain map and heatmap.
DIVERGING_CMAP = "RdBu_r"
#: Colour map of anatomical (mean BOLD) images.
ANATOMY_CMAP = "gray"
#: Axis unit of each rating outcome.
RATING_UNITS = {"intensity": "rating (0-100)", "unpleasantness": "rating (0-100)"}

#: matplotlib rc settings of every figure.
STYLE = {
    "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 150,
    "savefig.bbox": "tight",
}


#: Percentile of a brain map's non-zero |values| at which its colour scale ends (a few
#: extreme voxels do not wash out the rest of the map).
ROBUST_PERCENTILE = 99.0


def robust_vmax(values, percentile: float = ROBUST_PERCENTILE, threshold=None) -> float:
    """Return the colour-scale end of a brain map: a percentile of its shown |values|.

    Parameters
    ----------
    values : array-like or nibabel image
        The map (its data are read if it is an image).
    percentile : float
        Which percentile of the finite, non-zero absolute values.
    threshold : float, optional
        Only values with |value| above it are shown, so only they set the scale.

    Returns
    -------
    float
        Positive; 1.0 for a map without a non-zero value.

    Examples
    --------
    >>> robust_vmax(np.r_[np.zeros(10), np.arange(1.0, 101.0)], 99)
    99.01
    """
    data = np.asarray(values.dataobj if hasattr(values, "dataobj") else values, dtype=float)
    data = np.abs(data[np.isfinite(data) & (data != 0)])
    if threshold is not None:
        data = data[data > threshold]
    if not data.size:
        return 1.0 if threshold is None else 2.0 * float(threshold)
    return float(np.percentile(data, percentile))


def scale_note(vmax: float, percentile: float = ROBUST_PERCENTILE, threshold=None) -> str:
    """Return the phrase that states a map's colour scale (:func:`robust_vmax`), for its figure."""
    shown = "|value|" if threshold is None else f"|value| above {threshold:g}"
    return f"colour scale ±{vmax:.3g} ({percentile:g}th percentile of {shown})"


#: Width of the book's text column, in CSS px, at a 1,400 px window (sphinx-book-theme): a
#: wider figure is scaled down to it, and its text with it.
COLUMN_PX = 784
#: Smallest text a figure may show, in px at display size.
MIN_FONT_PX = 8.0
#: Margin (inches) around a figure saved with a tight bounding box (matplotlib's default).
PAD_IN = 0.1
#: Widest figure, in inches at the book's dpi, that is shown at full size in the column
#: (its saved image adds :data:`PAD_IN` on each side).
MAX_WIDTH_IN = (COLUMN_PX - 2 * PAD_IN * STYLE["figure.dpi"]) / STYLE["figure.dpi"]


def column_width(width_in: float) -> float:
    """Return ``width_in`` capped at :data:`MAX_WIDTH_IN` (a figure's width for the column)."""
    return min(float(width_in), MAX_WIDTH_IN)


def legibility(fig) -> dict:
    """Measure a figure as the book shows it: its image's width and its smallest text, in px.

    The figure is saved as the book saves it (PNG at its dpi, tight bounding box, so text
    outside the axes counts); a wider image is scaled down to the column, and its text with it.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure, as a figure function returns it.

    Returns
    -------
    dict
        ``width_px`` (the saved image's width), ``scale`` (the column's shrink factor, at
        most 1) and ``min_font_px`` (the smallest visible, non-empty text at display size).

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(MAX_WIDTH_IN, 3), dpi=100)
    >>> _ = fig.subplots().set_title("title", fontsize=10)
    >>> m = legibility(fig)
    >>> m["width_px"] <= COLUMN_PX, round(m["min_font_px"], 1)
    (True, 13.9)
    """
    import io
    import struct

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=fig.dpi, bbox_inches="tight", pad_inches=PAD_IN)
    width_px = struct.unpack(">I", buffer.getvalue()[16:20])[0]
    scale = min(1.0, COLUMN_PX / width_px)
    sizes = [t.get_fontsize() for t in fig.findobj(Text)
             if t.get_visible() and t.get_text().strip()]
    smallest = min(sizes) * fig.dpi / 72 * scale if sizes else float("inf")
    return {"width_px": width_px, "scale": scale, "min_font_px": smallest}


def styled(func):
    """Run a plot function under the book's rc style, without changing global settings."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with mpl.rc_context(STYLE):
            return func(*args, **kwargs)

    return wrapper


def detached(fig):
    """Close ``fig`` in pyplot and return it (shown where it is glued, not again by pyplot)."""
    plt.close(fig)
    return fig


#: Seed of the jitter seaborn draws from NumPy's global generator (figures only).
JITTER_SEED = DEFAULT_SEED


class seeded_jitter:  # noqa: N801 (a context manager, used as ``with seeded_jitter():``)
    """Seed NumPy's global generator for the jitter of a strip plot, then restore it.

    seaborn draws a strip plot's jitter from :func:`numpy.random.uniform`, so without a seed
    the same data give another picture in every build; inside this block the jitter is the
    same every time and the caller's global random state is left as it was.
    """

    def __enter__(self):
        self._state = np.random.get_state()  # noqa: NPY002 (seaborn draws from it)
        np.random.seed(JITTER_SEED)  # noqa: NPY002
        return self

    def __exit__(self, *exc):
        np.random.set_state(self._state)  # noqa: NPY002
        return False
