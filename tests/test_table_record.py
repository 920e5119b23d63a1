"""The recorded checksums of the full preset's result tables: record, check, differences."""

from __future__ import annotations

import hashlib

import pytest

from mindpain.core.errors import MindpainError
from mindpain_book import table_record


def _tables(folder, **tables):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in tables.items():
        (folder / f"{name}.tsv").write_text(text)
    (folder / "a.json").write_text("{}")  # sidecars are not tables
    return folder


def test_record_then_check_passes_and_is_sha256sum_format(tmp_path, capsys):
    tables = _tables(tmp_path / "t", a="x\n1\n", b="y\n2\n")
    record = tmp_path / "r.sha256"
    assert table_record.main(["record", "--tables", str(tables), "--record", str(record)]) == 0
    lines = record.read_text().splitlines()
    a, b = (hashlib.sha256(text).hexdigest() for text in (b"x\n1\n", b"y\n2\n"))
    assert lines == [f"{a}  a.tsv", f"{b}  b.tsv"]
    assert table_record.main(["check", "--tables", str(tables), "--record", str(record)]) == 0
    assert "2 tables, 0 differ" in capsys.readouterr().out


def test_check_names_every_difference(tmp_path, capsys):
    tables = _tables(tmp_path / "t", a="x\n1\n", b="y\n2\n")
    record = tmp_path / "r.sha256"
    table_record.main(["record", "--tables", str(tables), "--record", str(record)])
    (tables / "a.tsv").write_text("x\n1.0000000000000002\n")
    (tables / "b.tsv").unlink()
    (tables / "c.tsv").write_text("z\n")
    assert table_record.main(["check", "--tables", str(tables), "--record", str(record)]) == 1
    out = capsys.readouterr().out
    assert "a.tsv: sha256" in out and "b.tsv: missing" in out and "c.tsv: not in the record" in out


def test_bad_inputs_get_one_line_errors(tmp_path, capsys):
    tables = _tables(tmp_path / "t", a="x\n")
    bad = tmp_path / "bad.sha256"
    bad.write_text("not-a-hash  a.tsv\n")
    assert table_record.main(["check", "--tables", str(tables), "--record", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and "line 1" in err
    with pytest.raises(MindpainError, match="no result table"):
        table_record.table_hashes(tmp_path / "empty")
    missing = tmp_path / "none.sha256"
    assert table_record.main(["check", "--tables", str(tables), "--record", str(missing)]) == 2
    assert not missing.exists()
