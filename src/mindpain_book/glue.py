"""What the chapters glue into their prose: short Markdown texts.

Every number and sentence the prose shows comes from computation through myst-nb's ``glue``;
:func:`glue_md` is the chapters' one way to glue a piece of text shown with ``{glue:md}``
(a plain value is glued with ``myst_nb.glue`` directly).
"""

from __future__ import annotations


def glue_md(key: str, text: str) -> None:
    """Glue ``text`` under ``key`` as Markdown, without showing it in the cell's output.

    Parameters
    ----------
    key : str
        Name the prose refers to, as in ``{glue:md}`key```.
    text : str
        Markdown (inline markup and links render in the sentence it is glued into).
    """
    from IPython.display import Markdown
    from myst_nb import glue

    glue(key, Markdown(text), display=False)


def glue_row(prefix: str, table, columns, **match) -> None:
    """Glue the values of ``columns`` of the one row of ``table`` that ``match`` selects.

    Each value is glued as a float under ``prefix_column`` (for ``{glue:text}``).

    Parameters
    ----------
    prefix : str
        Start of every key.
    table : pandas.DataFrame
        The table.
    columns : iterable of str
        Numeric columns to glue.
    **match
        Column -> value; exactly one row must match all of them.

    Raises
    ------
    ValueError
        When no row or more than one row matches.
    """
    from myst_nb import glue

    rows = table
    for column, value in match.items():
        rows = rows[rows[column] == value]
    if len(rows) != 1:
        raise ValueError(f"glue_row {prefix}: {len(rows)} rows match {match}; expected one")
    row = rows.iloc[0]
    for column in columns:
        glue(f"{prefix}_{column}", float(row[column]), display=False)


def build_log(message: str) -> None:
    """Append a line about the build (files written, work reused) to the build log.

    Chapters show readers results, not the build's book-keeping: a line such as "wrote
    ``trial_effects.tsv``" or "0 runs computed, 708 unchanged" goes to the build log, never
    to a cell's output. The log is ``$MINDPAIN_BUILD_LOG`` when set, else
    ``_build/logs/chapters.log`` in the project; it lies outside the data and results
    folders, so it never enters a checksum or a comparison of two builds.

    Parameters
    ----------
    message : str
        One line (newlines are replaced by " | ").
    """
    import datetime
    import os
    from pathlib import Path

    from mindpain.core.config import PROJECT_ROOT

    path = Path(os.environ.get("MINDPAIN_BUILD_LOG")
                or PROJECT_ROOT / "_build" / "logs" / "chapters.log")
    path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    line = " | ".join(str(message).splitlines())
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{stamp} {Path.cwd().name}: {line}\n")


def glue_summary(prefix: str, summary: dict) -> None:
    """Glue a ``*_summary`` dict: numbers with ``glue``, phrases as Markdown, as ``prefix_key``.

    Numbers are shown with ``{glue:text}`prefix_key:.2f``` and phrases with
    ``{glue:md}`prefix_key```; booleans and tables in the dict are not glued (the chapter
    reads them itself).

    Parameters
    ----------
    prefix : str
        Start of every key (e.g. ``cover_effects``).
    summary : dict
        Name -> number or phrase (as the package's ``*_summary`` functions return).
    """
    import numbers

    from myst_nb import glue

    for name, value in summary.items():
        key = f"{prefix}_{name}"
        if isinstance(value, str):
            glue_md(key, value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            glue(key, int(value) if isinstance(value, numbers.Integral) else float(value),
                 display=False)
