"""The one bridge between the analyses and the twin's planted truth.

No module outside :mod:`mindpain.twin` reaches the planted truth except through here, by one
of two doors:

* **a dataset's truth**, read from the files the twin wrote into it:
  :func:`read_trial_truth` (``planted_effects.tsv``) and :func:`read_meditator_truth`
  (``planted_meditator_effects.tsv``), both in the twin's truth folder
  (:data:`~mindpain.core.vocabulary.TWIN_TRUTH_DIR`). A real dataset has no such folder: both
  return ``None`` and the chapters say that there is no planted truth to compare with.
  The files are checked when read; a bad one raises a one-line
  :class:`~mindpain.core.errors.MindpainError` naming it and what was expected.
* **the generator's truth** of a preset: :func:`planted_trial_effects` and
  :func:`planted_meditator_effects`, for the simulations that draw their own replications
  from the twin's participant level (calibration, design analysis, end to end) and have no
  dataset to read. They delegate to :mod:`mindpain.twin`, where the derivations are.

The twin writes both tables with :func:`mindpain.core.io.write_tsv` at full precision (each float
as its shortest round-trip text), and pandas' default parser reads that text back exactly
(pandas 3 deprecates the ``float_precision`` choice), so the file gives exactly the
generator's float64 values (``tests/test_truth.py`` checks it for every preset).

The module sits between the twin and the statistics: it imports the vocabulary, the
foundations and (lazily, for the generator's door) the twin; the analyses import it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.io import read_tsv
from mindpain.core.vocabulary import (
    DOSE_METHODS,
    GROUP_METHODS,
    PLANTED_MEDITATOR_FILE,
    PLANTED_TRIAL_FILE,
    TRIAL_CONTRASTS,
    TRIAL_OUTCOMES,
    TWIN_TRUTH_DIR,
)

if TYPE_CHECKING:
    from mindpain.twin.params import Parameters

#: Columns of ``planted_effects.tsv``: name -> ``"text"`` or ``"number"``.
TRIAL_TRUTH_COLUMNS = {
    "outcome": "text", "contrast": "text", "planted_d": "number", "planted_t": "number",
    "planted_d_paper": "number", "recoverable_d_paper": "number", "latent_d": "number",
    "reported_d": "number",
    "status": "text", "true_change_difference": "number", "observed_change_sd": "number"}
#: Columns of ``planted_meditator_effects.tsv``: name -> ``"text"`` or ``"number"``.
MEDITATOR_TRUTH_COLUMNS = {
    "outcome": "text", "effect": "text", "method": "text", "planted": "number",
    "recoverable": "number", "parameter": "text", "parameter_value": "number", "status": "text"}
#: Values each key column may take.
_ALLOWED = {"outcome": TRIAL_OUTCOMES, "contrast": TRIAL_CONTRASTS,
            "effect": ("group", "retreat", "daily", "lifetime"),
            "method": GROUP_METHODS + DOSE_METHODS}


# ---------------------------------------------------------------- the generator's truth


def planted_trial_effects(params: Parameters, keep=None) -> pd.DataFrame:
    """Return the generator's planted effect of every trial contrast for ``params``.

    For simulations that generate their own replications; an analysed dataset's truth is
    :func:`read_trial_truth`. See :func:`mindpain.twin.model.planted_trial_effects`; with
    ``keep`` (boolean over the generator's in-mask voxels), the effects as a scorer reading
    only those voxels sees them.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (:func:`mindpain.twin.params.load_parameters`): their world and
        transfer choose the planting (the twin of a world with the transfer;
        ``transfer=False``: the participant-level model's own).
    keep : numpy.ndarray, optional
        Boolean over the generator's in-mask voxels.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRIAL_TRUTH_COLUMNS`.
    """
    from mindpain.twin.model import planted_trial_effects as generator

    return generator(params, keep)


def recoverable_trial_effects(params: Parameters) -> pd.DataFrame:
    """Return the trial effects a pipeline run on the twin of ``params`` can recover.

    For simulations whose CIs are checked against the truth (the multiverse's replications):
    the recoverable effect (the planted effect read through the world's measured pipeline
    transfer, :func:`mindpain.twin.model.recoverable_d_paper`) beside the generator's.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters of a preset and world, with the transfer.

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, recoverable_d_paper, planted_d_paper``: one row per outcome and
        contrast, on the paper's scale.
    """
    table = planted_trial_effects(params)
    return table[["outcome", "contrast", "recoverable_d_paper", "planted_d_paper"]].copy()


def planted_meditator_effects(params: Parameters) -> pd.DataFrame:
    """Return the generator's planted value of every meditator estimand for ``params``.

    For simulations that generate their own replications; an analysed dataset's truth is
    :func:`read_meditator_truth`. See
    :func:`mindpain.twin.meditators.planted_meditator_effects`.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters of a preset and world.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`MEDITATOR_TRUTH_COLUMNS`.
    """
    from mindpain.twin.meditators import planted_meditator_effects as generator

    return generator(params)


# ---------------------------------------------------------------- a dataset's truth


def truth_path(bids_dir, name: str) -> Path | None:
    """Path of the twin's truth table ``name`` in ``bids_dir``, or ``None`` for real data.

    A dataset is a twin when it has the twin's truth folder
    (:data:`~mindpain.core.vocabulary.TWIN_TRUTH_DIR`); a twin without the table was written by
    an older mindpain.

    Raises
    ------
    mindpain.core.errors.MindpainError
        ``bids_dir`` is not a folder, or it is a twin whose truth folder lacks ``name``.
    """
    root = Path(bids_dir)
    if not root.is_dir():
        raise MindpainError("is not a folder; expected a BIDS dataset", root)
    folder = root / TWIN_TRUTH_DIR
    if not folder.is_dir():
        return None
    path = folder / name
    if not path.is_file():
        raise MindpainError(f"is missing from the twin's truth folder (a twin written by an "
                            f"older mindpain); expected the planted table {name}: regenerate "
                            "the twin (mindpain twin --if-current)", path)
    return path


def has_planted_truth(bids_dir) -> bool:
    """Whether ``bids_dir`` is a twin carrying its planted truth (``False`` for real data)."""
    return (Path(bids_dir) / TWIN_TRUTH_DIR).is_dir()


def read_trial_truth(bids_dir) -> pd.DataFrame | None:
    """Read the planted trial effects the twin wrote into ``bids_dir`` (``None``: real data).

    Parameters
    ----------
    bids_dir : str or path-like
        BIDS dataset folder (the twin, or a user's dataset).

    Returns
    -------
    pandas.DataFrame or None
        Columns :data:`TRIAL_TRUTH_COLUMNS`, one row per outcome and contrast, exactly as
        :func:`planted_trial_effects` computes them for the twin's preset.

    Raises
    ------
    mindpain.core.errors.MindpainError
        The table is missing from a twin, unreadable, lacks a column, has a non-numeric
        value in a numeric column, an unknown outcome or contrast, or a repeated row.
    """
    path = truth_path(bids_dir, PLANTED_TRIAL_FILE)
    return None if path is None else read_truth_table(
        path, TRIAL_TRUTH_COLUMNS, ("outcome", "contrast"), "the twin's planted trial effects")


def read_meditator_truth(bids_dir) -> pd.DataFrame | None:
    """Read the planted meditator effects the twin wrote into ``bids_dir`` (``None``: real data).

    Returns
    -------
    pandas.DataFrame or None
        Columns :data:`MEDITATOR_TRUTH_COLUMNS`, one row per outcome, effect and method,
        exactly as :func:`planted_meditator_effects` computes them for the twin's preset.

    Raises
    ------
    mindpain.core.errors.MindpainError
        As :func:`read_trial_truth`.
    """
    path = truth_path(bids_dir, PLANTED_MEDITATOR_FILE)
    return None if path is None else read_truth_table(
        path, MEDITATOR_TRUTH_COLUMNS, ("outcome", "effect", "method"),
        "the twin's planted meditator effects")


def read_truth_table(path, columns: dict, keys: tuple, what: str) -> pd.DataFrame:
    """Read and check one planted-truth table (floats exactly as written).

    Parameters
    ----------
    path : path-like
        The TSV file.
    columns : dict
        Column name -> ``"text"`` or ``"number"``; every one must be present.
    keys : tuple of str
        Columns that identify a row (values checked against the vocabulary; no repeats).
    what : str
        What the table is, for error messages.

    Returns
    -------
    pandas.DataFrame
        The columns in the order of ``columns``; ``n/a`` is missing.
    """
    text = [c for c, kind in columns.items() if kind == "text"]
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise MindpainError(f"cannot be read as text ({type(err).__name__}); expected {what}",
                            path) from None
    width = [line.count("\t") + 1 for line in lines]
    ragged = [i for i, n in enumerate(width) if n != width[0] and lines[i].strip()]
    if ragged:  # pandas would silently take extra fields as an index: refuse instead
        i = ragged[0]
        raise MindpainError(f"line {i + 1} has {width[i]} fields, the header {width[0]}; "
                            f"expected {what} as a tab-separated table", path)
    try:
        table = read_tsv(path, dtype=dict.fromkeys(text, str))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MindpainError(f"cannot be read as a TSV table ({first}); expected {what}",
                            path) from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise MindpainError(f"has no column(s) {', '.join(missing)}; expected {what} with "
                            f"the columns {', '.join(columns)}", path)
    if table.empty:
        raise MindpainError(f"has no rows; expected {what}", path)
    for col, kind in columns.items():
        if kind == "number" and not pd.api.types.is_numeric_dtype(table[col]):
            bad = pd.to_numeric(table[col], errors="coerce").isna() & table[col].notna()
            i = int(bad.to_numpy().nonzero()[0][0])
            raise MindpainError(f"column {col} has the value {table[col].iloc[i]!r} on line "
                                f"{i + 2}; expected a number or n/a ({what})", path)
    for col in keys:
        allowed = _ALLOWED[col]
        bad = ~table[col].isin(allowed)
        if bad.any():
            i = int(bad.to_numpy().nonzero()[0][0])
            raise MindpainError(f"column {col} has the value {table[col].iloc[i]!r} on line "
                                f"{i + 2}; expected one of {', '.join(allowed)} ({what})", path)
    dup = table.duplicated(list(keys))
    if dup.any():
        i = int(dup.to_numpy().nonzero()[0][0])
        row = ", ".join(str(table[k].iloc[i]) for k in keys)
        raise MindpainError(f"repeats the row {row} on line {i + 2}; expected one row per "
                            f"{', '.join(keys)} ({what})", path)
    return table[list(columns)]
