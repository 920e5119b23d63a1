r"""Results tables for reading: the one presentation helper of every table the chapters show.

The TSV files keep full precision and their machine names (for example
:func:`mindpain.trial.analysis.write_trial_effects`); the functions here only choose columns
and rows, order, label and round them for display, as the figures draw results beside them.

:func:`readable_table` turns a results table into a :class:`DisplayTable`: headers as a reader
says them, with their units (:data:`COLUMNS`); codes such as ``MBSR_vs_HEP`` or ``mixedlm``
shown by their labels from :mod:`mindpain.core.vocabulary`; integers as integers; ``True``/``False``
as yes/no; a missing value as "—", with a note under the table saying why; no index column,
so no header cell is empty; and every row, never a truncated view. Its HTML is one plain
``<table class="mindpain-table">`` (the book's CSS lets it scroll inside its own box on a
narrow screen).

Examples
--------
>>> import pandas as pd
>>> table = pd.DataFrame({"outcome": ["nps", "siips1"], "n": [32.0, 30.0],
...                       "planted_d": [-0.5, float("nan")]})
>>> shown = readable_table(table, missing="not planted for SIIPS1.")
>>> shown.frame.columns.tolist()
['Outcome', 'n', 'Planted in the generator: d, change-score scale']
>>> shown.frame.to_dict("list")["Outcome"], shown["n"].tolist(), shown.frame.iloc[:, 2].tolist()
(['NPS', 'SIIPS1'], ['32', '30'], ['-0.50', '—'])
>>> shown.note.startswith("— not planted for SIIPS1. Planted in the generator: the twin's")
True
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from mindpain.core.vocabulary import (
    CONTRAST_LABELS,
    GROUP_LABELS,
    OUTCOME_LABELS,
    RATING_OUTCOMES,
)
from mindpain.meditators.analysis import EFFECT_LABELS, METHOD_LABELS

# The labels below are the presentation layer's: they live here, not in
# mindpain.core.vocabulary, because every result's content key fingerprints the code its module
# imports (mindpain.core.checksums.code_closure), the vocabulary included; a label added there
# would invalidate every committed and cached result. Nothing that computes imports this.

#: Display names of the outcome models (trial, end-to-end calibration, multiverse), as a
#: reader says them; ``paper`` is the test the paper reports.
MODEL_LABELS = {"change_score": "change score (t test)", "permutation": "permutation test",
                "ancova": "ANCOVA", "ancova_hc3": "ANCOVA, HC3 SE", "mixedlm": "mixed model",
                "mixed_anova": "mixed ANOVA", "paper": "the paper's test"}
#: Display names of the twin's worlds and of the end-to-end calibration's scenarios.
WORLD_LABELS = {"ideal": "ideal world", "realistic": "realistic world",
                "ideal_mar": "ideal world, MAR dropout"}
#: Display names of the correlation methods linking signatures and ratings (chapter 4).
LINK_METHOD_LABELS = {"rm_corr": "repeated-measures r", "change_on_change":
                      "partial r of the changes (arm held fixed)"}

#: What a missing value shows as.
MISSING = "—"
#: HTML class of every displayed table (the book's CSS targets it).
TABLE_CLASS = "mindpain-table"
#: Smallest p value written out; smaller ones show as ``<0.001``.
P_FLOOR = 0.001


@dataclass(frozen=True)
class Column:
    """How one results column is shown.

    Attributes
    ----------
    header : str
        The header a reader sees, with the unit where the column has one.
    kind : str
        ``"label"`` (codes mapped through :data:`VALUE_LABELS`), ``"text"``, ``"int"``,
        ``"bool"`` (yes/no), ``"num"`` (``digits`` decimals) or ``"p"`` (3 decimals, below
        :data:`P_FLOOR` as ``<0.001``).
    digits : int
        Decimals of a ``"num"`` column.
    meaning : str
        What the column holds, where its header alone could mislead (the two truths of the
        twin): every table that shows the column says it in its note.
    """

    header: str
    kind: str = "num"
    digits: int = 3
    meaning: str = ""


#: Labels of coded values, by column name (a value without a label shows as it is).
VALUE_LABELS: dict[str, Mapping] = {
    "outcome": OUTCOME_LABELS, "signature": OUTCOME_LABELS, "readout": OUTCOME_LABELS,
    "contrast": CONTRAST_LABELS, "model": MODEL_LABELS, "world": WORLD_LABELS,
    "scenario": WORLD_LABELS, "group": GROUP_LABELS, "effect": EFFECT_LABELS,
    "method": {**METHOD_LABELS, **LINK_METHOD_LABELS}, "rating": OUTCOME_LABELS,
}

#: What the recoverable truth is (said under every table that shows it).
RECOVERABLE_MEANING = ("Recoverable (estimand): the effect this pipeline, in this world and on "
                       "this grid, can recover; the value its 95% intervals are meant to "
                       "cover.")
#: What the generator's planted value is (said under every table that shows it).
PLANTED_MEANING = ("Planted in the generator: the twin's latent value as its ideal "
                   "measurement model reads it; the pipeline can attenuate it.")

#: Every results column the chapters show, by its machine name: header (with unit) and format.
COLUMNS: dict[str, Column] = {
    # who and what
    "outcome": Column("Outcome", "label"), "contrast": Column("Contrast", "label"),
    "model": Column("Model", "label"), "world": Column("World", "label"),
    "scenario": Column("Scenario", "label"), "group": Column("Group", "label"),
    "signature": Column("Signature", "label"), "readout": Column("Signature", "label"),
    "rating": Column("Rating", "label"), "method": Column("Method", "label"),
    "effect": Column("Effect", "label"), "analysis": Column("Analysis", "text"),
    "quantity": Column("Quantity", "text"), "kind": Column("Kind", "text"),
    "pattern": Column("Twin pattern", "text"), "region": Column("Region", "text"),
    "section": Column("Section", "text"), "parameter": Column("Parameter", "text"),
    "value": Column("Value", "text"), "status": Column("Status", "text"),
    "note": Column("Note", "text"), "unit": Column("Unit", "text"),
    "evidence": Column("Evidence", "text"),
    "participant_id": Column("Participant", "text"), "session": Column("Session", "text"),
    "cohort": Column("Cohort", "text"), "sex": Column("Sex", "text"),
    "age": Column("Age (years)", "num", 0),
    # counts
    "n": Column("n", "int"), "n1": Column("n, arm 1", "int"), "n2": Column("n, arm 2", "int"),
    "df": Column("df", "int"), "replications": Column("Replications", "int"),
    "n_per_arm": Column("n per arm", "int"), "n_sessions": Column("Sessions", "int"),
    "n_voxels": Column("Voxels", "int"), "n_specs": Column("Specifications", "int"),
    "n_significant": Column("Significant specifications", "int"),
    "permutations": Column("Permutations", "int"),
    # effect sizes (standardised: SD units) on their scales
    "estimate_d": Column("d, change-score scale", "num", 2),
    "estimate": Column("Estimate", "num", 2),
    "planted": Column("Planted in the generator", "num", 2, PLANTED_MEANING),
    "reported_d": Column("Paper d, paper scale", "num", 2),
    "reported_d_change": Column("Paper d, change-score scale", "num", 2),
    "d_paper": Column("d, paper scale", "num", 2),
    "d_change": Column("d, change-score scale", "num", 2),
    "planted_d": Column("Planted in the generator: d, change-score scale", "num", 2,
                        PLANTED_MEANING),
    "planted_d_paper": Column("Planted in the generator: d, paper scale", "num", 2,
                              PLANTED_MEANING),
    "recoverable_d": Column("Recoverable (estimand): d, change-score scale", "num", 2,
                            RECOVERABLE_MEANING),
    "recoverable_d_paper": Column("Recoverable (estimand): d, paper scale", "num", 2,
                                  RECOVERABLE_MEANING),
    "recoverable": Column("Recoverable (estimand)", "num", 2, RECOVERABLE_MEANING),
    "latent_d": Column("Latent d", "num", 2), "true_d": Column("True d", "num", 2),
    "mean_estimate": Column("Mean estimate (d)", "num", 3),
    "median_d": Column("Median d", "num", 2),
    "expected_significant_d": Column("Expected d if significant", "num", 2),
    "mde_d": Column("MDE d, change-score scale", "num", 2),
    "mde_d_paper": Column("MDE d, paper scale", "num", 2),
    "ci_low": Column("95% CI, low", "num", 2), "ci_high": Column("95% CI, high", "num", 2),
    "ci90_low": Column("90% CI, low", "num", 2), "ci90_high": Column("90% CI, high", "num", 2),
    "bias": Column("Bias (d)", "num", 3), "se": Column("SE (d)", "num", 3),
    "mean_ci_width": Column("Mean CI width (d)", "num", 3),
    # tests
    "t": Column("t", "num", 2), "reported_t": Column("Paper t", "num", 2),
    "median_t": Column("Median t", "num", 2), "reported_p": Column("Paper p", "p"),
    "mc_se_median_t": Column("Monte-Carlo SE, median t", "num", 2), "p": Column("p", "p"),
    "p_adj": Column("p (Holm)", "p"), "median_p": Column("Median p", "p"),
    "tost_p": Column("TOST p", "p"), "bf10": Column("BF10", "num", 2),
    "equivalent": Column("Equivalent", "bool"),
    # rates and shares (fractions of replications)
    "coverage": Column("Coverage (share)", "num", 3),
    "power": Column("Power (share)", "num", 3),
    "power_simulated": Column("Power, simulated (share)", "num", 3),
    "power_analytic": Column("Power, analytic (share)", "num", 3),
    "power_at_paper_d": Column("Power at the paper's d (share)", "num", 3),
    "type_s": Column("Type S error (share)", "num", 3),
    "exaggeration": Column("Exaggeration (ratio)", "num", 2),
    "shrinkage": Column("True effect (share of the estimate)", "num", 2),
    "mc_se": Column("Monte-Carlo SE", "num", 3),
    "share_significant": Column("Significant (share)", "num", 3),
    "null_share_mean": Column("Significant under the null (mean share)", "num", 3),
    "p_share": Column("p of the share (permutation)", "p"),
    "p_median": Column("p of the median (permutation)", "p"),
    "r": Column("r", "num", 3), "r2": Column("r²", "num", 3), "slope": Column("Slope", "num", 2),
    "loading": Column("Loading", "num", 3), "latent": Column("Latent response", "text"),
    "expected_slope": Column("Expected slope (loading)", "num", 2),
    "voxels": Column("Voxels", "int"), "weights": Column("Weights (sign)", "text"),
    "slope_ratio": Column("Slope / expected", "num", 2),
    "cosine": Column("Cosine similarity", "num", 3),
    "stated": Column("Stated similarity", "num", 3),
    # flags
    "t_within": Column("Median t near the paper's t", "bool"),
    "p_within": Column("Median p within ×2 of the paper's p", "bool"),
    "dof": Column("df", "int"), "mean_estimate_se": Column("Monte-Carlo SE of the mean",
                                                           "num", 3),
    "coverage_in_mask": Column("Coverage, in-mask truth (share)", "num", 3),
    "bias_in_mask": Column("Bias, in-mask truth (d)", "num", 3),
    "mc_se_in_mask": Column("Monte-Carlo SE, in-mask truth", "num", 3),
    "planted_d_paper_in_mask": Column("Planted d in mask, paper scale", "num", 2),
    "reported": Column("Reported by the paper", "bool"),
    "null_share_q95": Column("Significant under the null (95th percentile share)", "num", 3),
    "covers_planted": Column("CI covers planted", "bool"),
    "covers_recoverable": Column("CI covers recoverable", "bool"),
    "coverage_recoverable": Column("Coverage of the recoverable (share)", "num", 3,
                                   RECOVERABLE_MEANING),
    "mc_se_recoverable": Column("Monte-Carlo SE, recoverable", "num", 3),
    "converged": Column("Converged", "bool"), "actual_n": Column("The study's n", "bool"),
}


@dataclass(frozen=True)
class DisplayTable:
    """A table ready to read: every cell a string, one header per column, a note.

    Attributes
    ----------
    frame : pandas.DataFrame
        The cells as text (headers as columns, a plain range index that is never shown).
    note : str
        Shown under the table (what "—" means, and anything else a reader needs).
    numeric : tuple of str
        Headers of the columns aligned right (numbers).
    wrap : tuple of str
        Headers of the columns whose cells may wrap (free text); every other cell keeps
        its line, and the table scrolls sideways inside its box when it is wider than it.
    styles : dict
        Header -> function from a cell's text to its inline CSS (e.g. a status colour).

    Notes
    -----
    Shown by IPython, Jupyter and myst-nb's ``glue`` through :meth:`_repr_html_` (a plain
    ``<table class="mindpain-table">``, every row) and ``__repr__`` (text).
    """

    frame: pd.DataFrame
    note: str = ""
    numeric: tuple[str, ...] = ()
    styles: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    wrap: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.frame)

    def __getitem__(self, header: str) -> pd.Series:
        """Return the cells of one column, by its header."""
        return self.frame[header]

    def to_html(self) -> str:
        """Return the table as HTML: one ``<table>`` with its header row, all rows, the note."""
        def cell(tag, text, column, scope=""):
            right = column in self.numeric
            classes = ' class="mindpain-num"' if right else ""
            css = [self.styles[column](text) if column in self.styles and tag == "td" else "",
                   f"text-align: {'right' if right else 'left'}",
                   "white-space: nowrap" if tag == "td" and column not in self.wrap else "",
                   "min-width: 22em" if tag == "td" and column in self.wrap else "",
                   "padding: 0.2em 0.6em"]
            css = "; ".join(c for c in css if c)
            style = f' style="{html.escape(css)}"' if css else ""
            return f"<{tag}{scope}{classes}{style}>{html.escape(text)}</{tag}>"

        head = "".join(cell("th", c, c, ' scope="col"') for c in self.frame.columns)
        body = "\n".join("<tr>" + "".join(cell("td", v, c) for c, v in row.items()) + "</tr>"
                         for _, row in self.frame.iterrows())
        note = (f'\n<p class="mindpain-table-note">{html.escape(self.note)}</p>'
                if self.note else "")
        # The box scrolls sideways on a narrow screen: focusable, so a keyboard can scroll it.
        return (f'<div class="mindpain-table-box" tabindex="0" '
                f'style="overflow-x: auto; max-width: 100%">'
                f'<table class="{TABLE_CLASS} table">\n'
                f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"
                f"{note}</div>")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        text = self.frame.to_string(index=False)
        return f"{text}\n{self.note}" if self.note else text


def is_missing(value, kind: str = "num") -> bool:
    """Whether ``value`` is missing (``None``, NaN; an empty string except in text columns)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return kind != "text" or value is None
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _format(value, spec: Column, labels: Mapping | None, name: str) -> str:
    if is_missing(value, spec.kind):
        return MISSING
    if spec.kind == "bool":
        return "yes" if bool(value) else "no"
    if spec.kind == "int":
        number = float(value)
        if not number.is_integer():
            raise ValueError(f"column {name!r}: expected whole numbers, got {value!r}")
        return f"{int(number):d}"
    if spec.kind == "p":
        number = float(value)
        return f"<{P_FLOOR:g}" if number < P_FLOOR else f"{number:.3f}"
    if spec.kind == "num":
        if isinstance(value, str):
            return value
        number = float(value)
        if math.isinf(number):
            return "∞" if number > 0 else "−∞"
        return f"{number:.{spec.digits}f}"
    if spec.kind == "label" and labels is not None:
        return str(labels.get(value, value))
    return str(value)


def format_cell(value, kind: str = "num", digits: int = 3) -> str:
    """Write one value as every display table does (``"—"`` when missing, see :class:`Column`).

    >>> format_cell(0.0004, "p"), format_cell(-0.4321, digits=2), format_cell(float("nan"))
    ('<0.001', '-0.43', '—')
    """
    return _format(value, Column("", kind, digits), None, "value")


def _spec(name: str, series: pd.Series, headers: Mapping[str, str],
          kinds: Mapping[str, str]) -> Column:
    known = COLUMNS.get(name)
    if known is None and name in OUTCOME_LABELS:  # one column per outcome (wide tables)
        unit = "rating, 0-100" if name in RATING_OUTCOMES else "signature response"
        known = Column(f"{OUTCOME_LABELS[name]} ({unit})", "num", 2)
    if known is None and name not in headers:
        raise KeyError(f"column {name!r} has no header: add it to COLUMNS or pass headers=")
    if known is None:
        if pd.api.types.is_bool_dtype(series):
            kind = "bool"
        elif pd.api.types.is_integer_dtype(series):
            kind = "int"
        elif pd.api.types.is_float_dtype(series):
            kind = "num"
        else:
            kind = "label" if name in VALUE_LABELS else "text"
        known = Column(name, kind)
    header = headers.get(name, known.header)
    kind = kinds.get(name, known.kind)
    return Column(header, kind, known.digits)


def readable_table(frame: pd.DataFrame, columns: Sequence[str] | None = None, *,
                   headers: Mapping[str, str] | None = None,
                   kinds: Mapping[str, str] | None = None,
                   digits: Mapping[str, int] | None = None,
                   missing: str | None = None, note: str = "",
                   labels: Mapping[str, Mapping] | None = None,
                   styles: Mapping[str, Callable[[str], str]] | None = None) -> DisplayTable:
    """Return a results table as a :class:`DisplayTable` a reader can read.

    Parameters
    ----------
    frame : pandas.DataFrame
        The results table; a named index (or several levels) is shown as columns.
    columns : sequence of str, optional
        Which columns to show, in this order (default: all).
    headers : mapping, optional
        Headers for columns that :data:`COLUMNS` does not know, or that read better another
        way in this table.
    kinds, digits : mapping, optional
        Column -> format (see :class:`Column`) or number of decimals, where this table
        differs from :data:`COLUMNS`.
    missing : str, optional
        Why a cell is missing: required when any shown cell is (it becomes "— <missing>" in
        the note under the table).
    note : str
        Anything else the note says.
    labels : mapping, optional
        Column -> value labels, added to (and overriding) :data:`VALUE_LABELS`.
    styles : mapping, optional
        Column -> function from a cell's text to its inline CSS.

    Returns
    -------
    DisplayTable
        Every row of ``frame``; headers unique and never empty.

    Raises
    ------
    KeyError
        A column has no header, or a requested column is not in the table.
    ValueError
        A shown cell is missing and ``missing`` does not say why, a header is empty or
        repeated, or an integer column holds a fraction.
    """
    headers, kinds, digits = dict(headers or {}), dict(kinds or {}), dict(digits or {})
    value_labels = {**VALUE_LABELS, **(labels or {})}
    if isinstance(frame.columns, pd.MultiIndex):
        raise ValueError("flatten the column levels into one header per column first")
    named = [n for n in frame.index.names if n is not None]
    data = frame.reset_index(level=named) if named else frame
    data = data.reset_index(drop=True)
    columns = list(data.columns if columns is None else columns)
    absent = [c for c in columns if c not in data.columns]
    if absent:
        raise KeyError(f"columns {absent} are not in the table (it has {list(data.columns)})")
    cells, numeric, shown_styles, wrap = {}, [], {}, []
    for name in columns:
        spec = _spec(name, data[name], headers, kinds)
        if name in digits:
            spec = Column(spec.header, spec.kind, digits[name])
        if not spec.header.strip():
            raise ValueError(f"column {name!r}: empty header")
        if spec.header in cells:
            raise ValueError(f"header {spec.header!r} is used twice")
        cells[spec.header] = [_format(v, spec, value_labels.get(name), name)
                              for v in data[name]]
        if spec.kind in ("int", "num", "p"):
            numeric.append(spec.header)
        if spec.kind == "text" and max((len(v) for v in cells[spec.header]), default=0) > 40:
            wrap.append(spec.header)
        if styles and name in styles:
            shown_styles[spec.header] = styles[name]
    shown = pd.DataFrame(cells, columns=list(cells), index=pd.RangeIndex(len(data)))
    has_missing = bool((shown == MISSING).to_numpy().any())
    if has_missing and not missing:
        where = [c for c in shown.columns if (shown[c] == MISSING).any()]
        raise ValueError(f"missing values in {where}: say why with missing=")
    meanings = list(dict.fromkeys(COLUMNS[c].meaning for c in columns
                                  if c in COLUMNS and COLUMNS[c].meaning))
    notes = (([f"{MISSING} {missing}"] if has_missing else []) + ([note] if note else [])
             + meanings)
    return DisplayTable(shown, note=" ".join(notes), numeric=tuple(numeric),
                        styles=shown_styles, wrap=tuple(wrap))
