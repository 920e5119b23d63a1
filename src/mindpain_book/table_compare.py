"""The book's result tables held against the published reference values, number by number.

Byte identity (:mod:`mindpain_book.table_record`) is the check for a refactoring on one
machine; across machines the realistic twin's floating point differs in its last bits, and
the BOLD's rounding to integers turns a few of those into a spike of one unit in a rare
voxel and volume, a visible difference (see ``book/reproducibility.md``), so a reader who
re-executes the book on another machine compares numbers instead. The reference values are
the full preset's tables with their JSON sidecars, committed in :data:`REFERENCE`
(``make reproduce-check``).

What "reproduced" means, per column (the kind is read from how the reference table writes
the column, so no list per table is kept: :func:`column_kinds`):

* **value** (every cell a decimal number with a point or an exponent, i.e. a float column):
  ``|x - ref| <= RTOL * |ref| + ATOL`` (:data:`RTOL`, :data:`ATOL`), both missing counts as
  equal;
* **count** (every cell an integer, i.e. an integer column: participants, sessions,
  replications): exactly equal;
* **label** (anything else: names, contrasts, ``True``/``False``, notes): the same text.

Both tables must have the same columns in the same order and the same number of rows.

``python -m mindpain_book.table_compare check [--tables DIR] [--reference DIR] [--bytes]``
    One line per table (reproduced or not, its largest difference and where), then a
    summary line; exit 0 when every reference table is reproduced and no other table
    exists, 1 otherwise, 2 on unreadable input. ``--bytes`` asks for byte identity instead
    (the same-machine mode).
``python -m mindpain_book.table_compare record [--tables DIR] [--reference DIR]``
    Copy the tables and their sidecars into the reference folder (each file atomically).
    Only for a change meant to change results; say so in the commit.
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from mindpain.core.config import PROJECT_ROOT
from mindpain.core.errors import MindpainError
from mindpain.core.io import NA_VALUES, atomic_path, read_tsv

#: The published reference values: the full preset's result tables and their sidecars.
REFERENCE = PROJECT_ROOT / "benchmarks" / "reference"
#: The tables folder the book writes into (see :attr:`mindpain.core.config.Config.results_dir`).
TABLES = PROJECT_ROOT / "results" / "tables"
#: Relative tolerance of a value: a thousandth of it. Measured (small preset, the tables
#: computed with OpenBLAS's Sandybridge kernels against its Haswell ones, which this project's
#: machines use): values moved by up to 5.4e-4 of themselves (trial_effects: a CI bound), as
#: a BOLD value rounded the other way moves a voxel's first-level estimate. Finer than any
#: value the book prints (d to two decimals).
RTOL = 1e-3
#: Absolute floor of the tolerance of a value, for values at or near zero: the largest
#: difference measured on a value below 0.1 was 2.7e-5 (same comparison).
ATOL = 1e-4
#: The kinds of column: what each holds and how it is compared.
KINDS = {"value": ("a float column (estimates, intervals, p-values, statistics)",
                   "|x - ref| <= RTOL * |ref| + ATOL; missing only where the reference is"),
         "count": ("an integer column (participants, sessions, replications)",
                   "exactly equal"),
         "label": ("any other column (names, contrasts, True/False, notes)", "the same text")}

_INTEGER = re.compile(r"[+-]?\d+")
_MISSING = set(NA_VALUES)


@dataclass(frozen=True)
class Comparison:
    """The comparison of one table with its reference.

    Attributes
    ----------
    name : str
        File name of the table (``trial_effects.tsv``).
    status : str
        ``reproduced``, ``DIFFERS``, ``missing`` (a reference table the build did not
        write) or ``unexpected`` (a table the reference does not have).
    detail : str
        The largest difference and where it is, or what does not match.
    worst : float
        Largest difference of a value divided by its tolerance (0 when every value is
        equal; infinite when a count, a label or the shape differs).
    """

    name: str
    status: str
    detail: str
    worst: float = 0.0

    @property
    def ok(self) -> bool:
        """Whether the table is reproduced."""
        return self.status == "reproduced"

    def line(self) -> str:
        """One line: ``<name>  <status>  <detail>``."""
        return f"{self.name:<28} {self.status:<11} {self.detail}"


def read_text_table(path) -> pd.DataFrame:
    """Read a results TSV keeping every cell's text (missing as ``n/a``).

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the file cannot be read as a tab-separated table.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)  # a row too long
            return read_tsv(path, dtype=str, na_values=(), index_col=False).fillna("")
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.ParserWarning) as err:
        raise MindpainError(f"not a readable tab-separated table ({err})", path) from err


def _kind(cells) -> str:
    present = [c for c in cells if c not in _MISSING]
    if not present:
        return "label"
    if all(_INTEGER.fullmatch(c) for c in present):
        return "count"
    try:
        [float(c) for c in present]
    except ValueError:
        return "label"
    return "value"


def column_kinds(reference: pd.DataFrame) -> dict[str, str]:
    """Return ``{column: kind}`` of a reference table read by :func:`read_text_table`.

    :func:`mindpain.core.io.write_tsv` writes an integer column without a decimal point and a
    float column as each float's shortest round-trip text (``12.0``, ``3.1e-05``), so the
    text says the column's type: all integers is a ``count``, all numbers is a ``value``,
    anything else a ``label``.

    Examples
    --------
    >>> column_kinds(pd.DataFrame({"n": ["12", "n/a"], "d": ["0.5", "1.0"], "x": ["a", "1"]}))
    {'n': 'count', 'd': 'value', 'x': 'label'}
    """
    return {col: _kind(reference[col]) for col in reference.columns}


def _number(cell: str) -> float:
    return math.nan if cell in _MISSING else float(cell)


def compare_table(name: str, table: pd.DataFrame, reference: pd.DataFrame,
                  rtol: float = RTOL, atol: float = ATOL) -> Comparison:
    """Compare one table with its reference (both read by :func:`read_text_table`).

    Parameters
    ----------
    name : str
        The table's file name, for the report.
    table, reference : pandas.DataFrame
        The computed table and the reference, every cell as text.
    rtol, atol : float
        Tolerance of a value: ``|x - ref| <= rtol * |ref| + atol``.

    Returns
    -------
    Comparison
        Its :attr:`~Comparison.detail` names the largest difference of a value (absolute,
        and as a fraction of its tolerance) with its column and row (from 1, as in the
        file below its header), or the first count, label or shape that differs.
    """
    if list(table.columns) != list(reference.columns):
        return Comparison(name, "DIFFERS", f"columns {list(table.columns)}, reference "
                          f"{list(reference.columns)}", math.inf)
    if len(table) != len(reference):
        return Comparison(name, "DIFFERS", f"{len(table)} rows, reference {len(reference)}",
                          math.inf)
    worst, where, largest = 0.0, "", 0.0
    for col, kind in column_kinds(reference).items():
        for row, (got, ref) in enumerate(zip(table[col], reference[col], strict=True), 1):
            if kind != "value":
                if got != ref:
                    return Comparison(name, "DIFFERS", f"{kind} {col}, row {row}: {got!r}, "
                                      f"reference {ref!r}", math.inf)
                continue
            try:
                x, r = _number(got), _number(ref)
            except ValueError:
                return Comparison(name, "DIFFERS", f"value {col}, row {row}: {got!r} is "
                                  "not a number", math.inf)
            if math.isnan(x) and math.isnan(r) or x == r:
                continue
            diff = abs(x - r)
            ratio = diff / (rtol * abs(r) + atol) if math.isfinite(diff) else math.inf
            if ratio > worst:  # a missing value against a number: infinite
                worst, largest = ratio, diff
                where = f"{col}, row {row}: {got}, reference {ref}"
    if worst == 0.0:
        return Comparison(name, "reproduced", "every value identical", 0.0)
    status = "reproduced" if worst <= 1.0 else "DIFFERS"
    return Comparison(name, status, f"largest difference {largest:.2g} = {worst:.2g} of "
                      f"its tolerance ({where})", worst)


def table_names(folder, what: str) -> list[str]:
    """Return the sorted ``*.tsv`` file names in ``folder``.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If ``folder`` holds no table (``what`` says what was expected there).
    """
    folder = Path(folder)
    names = sorted(p.name for p in folder.glob("*.tsv")) if folder.is_dir() else []
    if not names:
        raise MindpainError(f"no table (*.tsv); expected {what}", folder)
    return names


def compare_folders(tables, reference, exact: bool = False) -> list[Comparison]:
    """Compare every table of ``tables`` with the one of the same name in ``reference``.

    Parameters
    ----------
    tables, reference : path-like
        The folder the build wrote (``results/tables``) and the reference folder.
    exact : bool
        Ask for byte identity instead of agreement within the tolerances.

    Returns
    -------
    list of Comparison
        One per table in either folder, sorted by name.
    """
    tables, reference = Path(tables), Path(reference)
    have = set(table_names(tables, "the result tables of `make book`"))
    want = set(table_names(reference, "the reference tables (benchmarks/reference)"))
    out = []
    for name in sorted(have | want):
        if name not in have:
            out.append(Comparison(name, "missing", "in the reference, not written by the "
                                  "build", math.inf))
        elif name not in want:
            out.append(Comparison(name, "unexpected", "written by the build, not in the "
                                  "reference", math.inf))
        elif exact:
            same = (tables / name).read_bytes() == (reference / name).read_bytes()
            out.append(Comparison(name, "reproduced" if same else "DIFFERS",
                                  "byte-identical" if same else "bytes differ",
                                  0.0 if same else math.inf))
        else:
            out.append(compare_table(name, read_text_table(tables / name),
                                     read_text_table(reference / name)))
    return out


def rule_rows() -> list[list[str]]:
    """Rows ``[kind, what it holds, how it is compared]`` of :data:`KINDS`, tolerances filled in.

    For the reproducibility page (the ``mindpain-reproduction`` directive), so the numbers
    it shows are the ones the check uses.
    """
    return [[kind, what, rule.replace("RTOL", f"{RTOL:g}").replace("ATOL", f"{ATOL:g}")]
            for kind, (what, rule) in KINDS.items()]


def reference_rows(reference=REFERENCE) -> list[list]:
    """Rows ``[table, rows, value columns, count columns, label columns]`` of the reference.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the folder holds no table or a table cannot be read.
    """
    rows = []
    for name in table_names(reference, "the reference tables (benchmarks/reference)"):
        frame = read_text_table(Path(reference) / name)
        kinds = list(column_kinds(frame).values())
        rows.append([name, len(frame), *(kinds.count(k) for k in KINDS)])
    return rows


def record(tables, reference) -> list[Path]:
    """Copy every table of ``tables`` and its JSON sidecar into ``reference``; return them.

    Each file is written under a temporary name and renamed into place. Tables the
    reference has and the build did not write are left alone (the check names them).
    """
    tables, reference = Path(tables), Path(reference)
    written = []
    for name in table_names(tables, "the result tables of `make book`"):
        for source in (tables / name, (tables / name).with_suffix(".json")):
            if source.is_file():
                with atomic_path(reference / source.name) as tmp:
                    shutil.copyfile(source, tmp)
                written.append(reference / source.name)
    return written


def summary(comparisons: list[Comparison], exact: bool = False) -> str:
    """Return the check's last line: how many tables were reproduced, and what that means."""
    good = sum(c.ok for c in comparisons)
    rule = ("byte for byte" if exact else
            f"within tolerance (values: relative {RTOL:g} plus {ATOL:g}; counts and labels "
            "exact)")
    return f"{good} of {len(comparisons)} tables reproduced {rule}"


def main(argv=None) -> int:
    """Command line: ``check`` or ``record`` (see the module's documentation)."""
    parser = argparse.ArgumentParser(prog="python -m mindpain_book.table_compare",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("check", "record"))
    parser.add_argument("--tables", type=Path, default=TABLES,
                        help="folder of the computed tables (default: %(default)s)")
    parser.add_argument("--reference", type=Path, default=REFERENCE,
                        help="folder of the reference tables (default: %(default)s)")
    parser.add_argument("--bytes", action="store_true",
                        help="require byte identity (same machine) instead of tolerances")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            written = record(args.tables, args.reference)
            print(f"{args.reference}: {len(written)} files recorded")
            return 0
        comparisons = compare_folders(args.tables, args.reference, exact=args.bytes)
    except MindpainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for comparison in comparisons:
        print(comparison.line())
    print(summary(comparisons, exact=args.bytes))
    return 0 if all(c.ok for c in comparisons) else 1


if __name__ == "__main__":
    raise SystemExit(main())
