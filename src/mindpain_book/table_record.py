"""The book's result tables on the full preset, held against a recorded list of checksums.

A refactoring must leave every result of the book byte for byte as it was. The tables the
chapters write (``results/tables/*.tsv``) are the book's results; their sha256 after
``make book PRESET=full`` is recorded in :data:`RECORD` (``sha256sum`` format, so the list
can also be checked with ``sha256sum -c`` from the tables folder). This is the same-machine
check; on another machine the tables agree in their numbers, not their bytes:
:mod:`mindpain_book.table_compare` (``make reproduce-check``) holds them against the
published reference values within tolerances.

``python -m mindpain_book.table_record check [--tables DIR] [--record FILE]``
    Exit 0 when every recorded table is present with its recorded checksum and no other
    table exists; else print one line per difference and exit 1.
``python -m mindpain_book.table_record record [--tables DIR] [--record FILE]``
    Write the list anew from the tables folder (atomically). Do this only when a change is
    meant to change results, and say so in the commit.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mindpain.core.checksums import sha256
from mindpain.core.config import PROJECT_ROOT
from mindpain.core.errors import MindpainError
from mindpain.core.io import atomic_path

#: Checksums of the full preset's result tables, as ``<sha256>  <file name>`` lines.
RECORD = PROJECT_ROOT / "benchmarks" / "results_tables_full.sha256"
#: The tables folder the book writes into (see :attr:`mindpain.core.config.Config.results_dir`).
TABLES = PROJECT_ROOT / "results" / "tables"


def table_hashes(folder) -> dict[str, str]:
    """Return ``{file name: sha256}`` of the ``*.tsv`` tables in ``folder``.

    Parameters
    ----------
    folder : str or path-like
        A results tables folder.

    Returns
    -------
    dict
        Sorted by file name.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If ``folder`` holds no table.
    """
    folder = Path(folder)
    tables = sorted(folder.glob("*.tsv")) if folder.is_dir() else []
    if not tables:
        raise MindpainError("no result table (*.tsv); expected the tables of `make book`",
                            folder)
    return {p.name: sha256(p) for p in tables}


def read_record(path) -> dict[str, str]:
    """Read a ``sha256sum``-format list: ``{file name: sha256}``.

    Raises
    ------
    mindpain.core.errors.MindpainError
        If the file is missing or a line is not ``<64 hex digits>  <name>``.
    """
    path = Path(path)
    if not path.is_file():
        raise MindpainError("file not found; expected a list of table checksums "
                            "(python -m mindpain_book.table_record record)", path)
    record = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        digest, _, name = line.partition("  ")
        if len(digest) != 64 or not name or any(c not in "0123456789abcdef" for c in digest):
            raise MindpainError(f"line {number} is not '<sha256>  <table name>'", path)
        record[name] = digest
    return record


def write_record(path, hashes: dict[str, str]) -> Path:
    """Write ``hashes`` as a ``sha256sum``-format list (atomically); return the path."""
    with atomic_path(Path(path)) as tmp:
        Path(tmp).write_text("".join(f"{h}  {n}\n" for n, h in sorted(hashes.items())))
    return Path(path)


def differences(record: dict[str, str], hashes: dict[str, str]) -> list[str]:
    """Return one line per table that differs between ``record`` and ``hashes``."""
    lines = [f"{n}: missing (recorded {record[n][:12]})" for n in sorted(record)
             if n not in hashes]
    lines += [f"{n}: not in the record (sha256 {hashes[n][:12]})" for n in sorted(hashes)
              if n not in record]
    lines += [f"{n}: sha256 {hashes[n][:12]}, recorded {record[n][:12]}"
              for n in sorted(record) if n in hashes and hashes[n] != record[n]]
    return lines


def main(argv=None) -> int:
    """Command line: ``check`` or ``record`` (see the module's documentation)."""
    parser = argparse.ArgumentParser(prog="python -m mindpain_book.table_record",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("check", "record"))
    parser.add_argument("--tables", type=Path, default=TABLES)
    parser.add_argument("--record", type=Path, default=RECORD)
    args = parser.parse_args(argv)
    try:
        hashes = table_hashes(args.tables)
        if args.command == "record":
            write_record(args.record, hashes)
            print(f"{args.record}: {len(hashes)} tables recorded")
            return 0
        problems = differences(read_record(args.record), hashes)
    except MindpainError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for line in problems:
        print(line)
    print(f"{len(hashes)} tables, {len(problems)} differ from {args.record.name}")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
