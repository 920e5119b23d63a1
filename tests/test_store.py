"""The result store: sidecars, compressed tables, keyed results, replication caches."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from mindpain.core.errors import MindpainError
from mindpain.core.store import (
    ReplicationCache,
    check_key,
    key_tag,
    load_current,
    read_table,
    renew_key,
    same_as_written,
    sidecar,
    table_path,
    tables_dir,
    write_table,
)

TABLE = pd.DataFrame({"name": ["a", "b", "none"], "value": [0.1, float("nan"), 1 / 3],
                      "n": [1, 2, 3]})
COLUMNS = {"name": "a label", "value": "a number", "n": "a count"}


def test_sidecar_drops_every_suffix():
    assert sidecar("x/t.tsv").name == "t.json"
    assert sidecar("x/t.tsv.gz").name == "t.json"
    assert sidecar("x/t.tsv.gz").parent.name == "x"


def test_table_path_prefers_out_dir(tmp_path):
    class Cfg:
        results_dir = tmp_path / "results"

    assert tables_dir(Cfg()) == tmp_path / "results"
    assert table_path(Cfg(), "t.tsv") == tmp_path / "results" / "t.tsv"
    assert table_path(Cfg(), "t.tsv", tmp_path / "other") == tmp_path / "other" / "t.tsv"


@pytest.mark.parametrize("name", ["t.tsv", "t.tsv.gz"])
def test_table_round_trip_and_stable_bytes(tmp_path, name):
    path = write_table(TABLE, tmp_path / name, COLUMNS, key={"k": 1}, note="x")
    back = read_table(path)
    pd.testing.assert_frame_equal(back, TABLE)
    assert back.loc[2, "name"] == "none"  # only n/a means missing
    meta = json.loads(sidecar(path).read_text())
    assert meta == {"columns": COLUMNS, "key": {"k": 1}, "note": "x"}
    first = path.read_bytes()
    write_table(TABLE, path, COLUMNS, key={"k": 1}, note="x")
    assert path.read_bytes() == first
    if name.endswith(".gz"):
        # no time and no file name in the gzip header: the bytes depend on the table only
        assert first[4:8] == b"\0\0\0\0" and not first[3] & 0x08
        plain = write_table(TABLE, tmp_path / "p.tsv", COLUMNS)
        assert gzip.decompress(first) == plain.read_bytes()


def test_load_current_checks_the_key(tmp_path):
    path = tmp_path / "t.tsv"
    with pytest.raises(MindpainError, match="no precomputed thing; run it"):
        load_current(path, {"k": 1}, "run it", "thing")
    write_table(TABLE, path, COLUMNS, key={"k": 1, "n": 5})
    table, meta = load_current(path, {"k": 1, "n": 5}, "run it", "thing")
    assert meta["key"] == {"k": 1, "n": 5} and len(table) == 3
    with pytest.raises(MindpainError, match=r"stale \(k changed\); run it"):
        load_current(path, {"k": 2, "n": 5}, "run it", "thing")
    # an ignored field may differ
    load_current(path, {"k": 1, "n": 9}, "run it", "thing", ignore=("n",))
    with pytest.raises(MindpainError, match=r"stale \(n changed\)"):
        check_key(sidecar(path), {"k": 1, "n": 9}, "run it", "thing")
    renew_key(path, {"k": 2, "n": 5})
    load_current(path, {"k": 2, "n": 5}, "run it", "thing")
    assert json.loads(sidecar(path).read_text())["columns"] == COLUMNS


def test_key_tag_leaves_out_fields():
    a = key_tag({"seed": 1, "code": "x", "n": 2}, leave_out=("code", "n"))
    assert a == key_tag({"seed": 1, "code": "y", "n": 3}, leave_out=("code", "n"))
    assert a != key_tag({"seed": 2, "code": "x", "n": 2}, leave_out=("code", "n"))
    assert len(a) == 16


def _fill(cache: ReplicationCache, groups=(None,)):
    for group in groups:
        for r in range(3):
            cache.write(TABLE.assign(n=r), r, wall_s=1.0 + r, cpu_s=0.5, group=group)


def test_replication_cache_keeps_reproduced_files(tmp_path):
    folder = tmp_path / "cache"
    cache = ReplicationCache(folder, "old", "%.10g")
    assert cache.check_code(lambda g: None, same_as_written("%.10g"))  # new folder
    _fill(cache, groups=("a", "b"))
    assert cache.has(2, "a") and not cache.has(3, "a")
    assert cache.read(range(3), "b")["n"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert cache.timing(range(4), "a") == ([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])
    calls = []

    def recompute(group):
        calls.append(group)
        return TABLE.assign(n=0)

    # other code that reproduces replication 0 of every group: kept and relabelled
    newer = ReplicationCache(folder, "new", "%.10g")
    assert newer.check_code(recompute, same_as_written("%.10g"), groups=("a", "b"))
    assert calls == ["a", "b"] and newer.has(2, "b")
    assert json.loads((folder / "code.json").read_text()) == {"code": "new"}
    # the same code again: nothing recomputed
    assert newer.check_code(recompute, same_as_written("%.10g"), groups=("a", "b"))
    assert calls == ["a", "b"]


def test_replication_cache_sets_aside_files_it_cannot_reproduce(tmp_path):
    folder = tmp_path / "cache"
    cache = ReplicationCache(folder, "old")
    cache.check_code(lambda g: None, same_as_written())
    _fill(cache)
    newer = ReplicationCache(folder, "new")
    kept = newer.check_code(lambda g: TABLE.assign(n=0, value=0.0), same_as_written())
    assert not kept and not newer.has(0)
    stale = tmp_path / "cache.stale-old"
    assert len(list(stale.glob("replication-*.tsv"))) == 3  # set aside, never deleted
    # a folder without a label is stale too
    (folder / "code.json").unlink()
    _fill(newer)
    assert not ReplicationCache(folder, "new").check_code(lambda g: TABLE.assign(n=0),
                                                          same_as_written())
    assert (tmp_path / "cache.stale-unknown").is_dir()


def test_same_as_written_compares_at_the_written_precision():
    same = same_as_written("%.3g")
    assert same(TABLE, TABLE.assign(value=TABLE["value"] + 1e-9))
    assert not same(TABLE, TABLE.assign(value=TABLE["value"] + 1e-2))
    assert not same_as_written()(TABLE, TABLE.assign(value=TABLE["value"] + 1e-12))
