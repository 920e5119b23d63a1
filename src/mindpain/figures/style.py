"""The book's one figure style: colours, rc settings and the decorator that applies them.

Every figure module imports its colours from here, so a group, a condition or a parameter
status has the same colour on every page (Okabe-Ito and viridis, colour-blind safe).
"""

from __future__ import annotations

import functools

import matplotlib as mpl
import matplotlib.pyplot as plt

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
#: Diverging colour map of every brain map and heatmap.
DIVERGING_CMAP = "RdBu_r"
#: Axis unit of each rating outcome.
RATING_UNITS = {"intensity": "rating (0-100)", "unpleasantness": "rating (0-100)"}

#: matplotlib rc settings of every figure.
STYLE = {
    "font.size": 11, "axes.titlesize": 12, "axes.labelsize": 11, "legend.fontsize": 10,
    "xtick.labelsize": 10, "ytick.labelsize": 10, "axes.spines.top": False,
    "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 150,
    "savefig.bbox": "tight",
}


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
