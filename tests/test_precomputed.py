"""Committed tables are adopted only under their exact content key."""

from __future__ import annotations

import json

from mindpain.core.store import adopt, cached_table


def _commit(folder, name, key):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("a\tb\n1.0\t2.5\n")
    (folder / name).with_suffix(".json").write_text(json.dumps({"key": key, "columns": {}}))


def test_current_copy_is_adopted(tmp_path):
    committed, results = tmp_path / "committed", tmp_path / "results"
    key = {"seed": 1, "code": "abc"}
    _commit(committed, "t.tsv", key)
    assert adopt(results / "t.tsv", key, folder=committed)
    assert (results / "t.tsv").read_text() == (committed / "t.tsv").read_text()
    assert json.loads((results / "t.json").read_text())["key"] == key


def test_stale_or_missing_copy_is_not_adopted(tmp_path):
    committed, results = tmp_path / "committed", tmp_path / "results"
    _commit(committed, "t.tsv", {"seed": 1, "code": "old"})
    assert not adopt(results / "t.tsv", {"seed": 1, "code": "new"}, folder=committed)
    assert not adopt(results / "u.tsv", {"seed": 1, "code": "old"}, folder=committed)
    assert not (results / "t.tsv").exists()


def test_cached_table_computes_adopts_or_reads(tmp_path):
    """One helper: a current local table is read, else a current committed one adopted,
    else the table computed; a committed copy under another key is never used."""
    import pandas as pd

    committed, results = tmp_path / "committed", tmp_path / "results"
    key = {"seed": 1, "code": "abc"}
    _commit(committed, "t.tsv", key)
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"a": [3.0], "b": [4.5]})

    adopted = cached_table(results / "t.tsv", key, compute, {}, committed=committed)
    assert calls == [] and adopted["b"].tolist() == [2.5]
    again = cached_table(results / "t.tsv", key, compute, {}, committed=committed)
    assert calls == [] and again.equals(adopted)
    fresh = cached_table(results / "u.tsv", key, compute, {}, committed=committed)
    assert calls == [1] and fresh["b"].tolist() == [4.5]
    other = {"seed": 1, "code": "new"}
    stale = cached_table(results / "t.tsv", other, compute, {}, committed=committed)
    assert calls == [1, 1] and stale["b"].tolist() == [4.5]
    assert json.loads((results / "t.json").read_text())["key"] == other
