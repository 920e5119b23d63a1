"""Checks of the participant-by-session table the trial and meditator models read.

Both analyses start from one table: a row per participant and session with
``participant_id, session, group`` and outcome columns (:func:`mindpain.pipeline.load_outcomes`
builds it from a dataset; a user may bring their own). :func:`check_outcomes_table` holds the
checks they share, with one wording for each error.
"""

from __future__ import annotations

import pandas as pd

from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import GROUPS

#: Identifying columns of an outcomes table.
ID_COLUMNS = ("participant_id", "session", "group")


def id_list(values, limit: int = 5) -> str:
    """Return up to ``limit`` of ``values`` comma-separated, with how many more there are.

    Examples
    --------
    >>> id_list(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    values = list(values)
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return ", ".join(map(str, values[:limit])) + more


def check_outcomes_table(table, required=ID_COLUMNS, outcomes=()) -> pd.DataFrame:
    """Check an outcomes table and return a copy with its identifying columns as text.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per participant and session.
    required : sequence of str
        Identifying columns that must be present and complete (at least ``group`` and
        ``participant_id``).
    outcomes : sequence of str
        Outcome columns that must be present (their values are checked by the caller).

    Returns
    -------
    pandas.DataFrame
        A copy; ``required`` columns converted to ``str``.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If ``table`` is not a DataFrame, a column is missing, an identifying value is
        missing, a group is not one of :data:`mindpain.core.vocabulary.GROUPS`, or a participant
        is in more than one group.

    Examples
    --------
    >>> rows = pd.DataFrame({"participant_id": ["01", "01"], "session": ["pre", "post"],
    ...                      "group": ["MBSR", "MBSR"], "nps": [1.0, 0.5]})
    >>> check_outcomes_table(rows, outcomes=["nps"])["group"].tolist()
    ['MBSR', 'MBSR']
    """
    if not isinstance(table, pd.DataFrame):
        raise MindpainError(f"outcomes table: expected a pandas DataFrame, got "
                            f"{type(table).__name__}")
    expected = (*required, *outcomes)
    missing = [c for c in expected if c not in table.columns]
    if missing:
        raise MindpainError(f"outcomes table: missing column(s) {', '.join(missing)}; expected "
                            f"{', '.join(expected)}")
    data = table.copy()
    for col in required:
        if data[col].isna().any():
            raise MindpainError(f"outcomes table: column {col!r} has missing values")
        data[col] = data[col].astype(str)
    bad = sorted(set(data["group"]) - set(GROUPS))
    if bad:
        raise MindpainError(f"outcomes table: group label(s) {', '.join(map(repr, bad))}; "
                            f"expected one of {', '.join(GROUPS)}")
    n_groups = data.groupby("participant_id")["group"].nunique()
    if (n_groups > 1).any():
        who = n_groups.index[n_groups > 1]
        arms = data.groupby("participant_id")["group"].agg(lambda g: "/".join(sorted(set(g))))
        raise MindpainError("outcomes table: participant(s) in more than one group: "
                            f"{id_list(f'{p} ({arms[p]})' for p in who)}; "
                            "each participant has one group")
    return data
