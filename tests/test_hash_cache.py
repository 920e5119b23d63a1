"""The checksum cache (MINDPAIN_HASH_CACHE) never returns a stale digest."""

from __future__ import annotations

import hashlib
import os

import pytest

from mindpain.core import checksums


def _true(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cached(tmp_path, monkeypatch):
    db = tmp_path / "cache" / "sha256.sqlite"
    monkeypatch.setenv(checksums.HASH_CACHE_ENV, str(db))
    monkeypatch.setattr(checksums, "HASH_CACHE_SETTLE_S", 0.0)
    checksums._HASH_DB.clear()
    yield db
    checksums._HASH_DB.clear()


def _age(path, seconds=10):
    """Make a file look written ``seconds`` ago (its status-change time stays now)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_reuses_digest_of_unchanged_file(cached, tmp_path, monkeypatch):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 5000)
    first = checksums.sha256(f)
    assert first == _true(f) and cached.is_file()
    calls = []
    monkeypatch.setattr(checksums, "_hash_file", lambda p, c: calls.append(p) or "never")
    assert checksums.sha256(f) == first and not calls


@pytest.mark.parametrize("change", ["same_size_rewrite", "append", "replace", "touch_back"])
def test_changed_file_is_hashed_again(cached, tmp_path, change):
    f = tmp_path / "a.bin"
    f.write_bytes(b"a" * 4096)
    checksums.sha256(f)
    st = f.stat()
    if change == "same_size_rewrite":
        f.write_bytes(b"b" * 4096)
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # even with the old mtime restored
    elif change == "append":
        with open(f, "ab") as fh:
            fh.write(b"c")
    elif change == "replace":
        g = tmp_path / "b.bin"
        g.write_bytes(b"d" * 4096)
        os.replace(g, f)
    else:
        _age(f, 100)
    assert checksums.sha256(f) == _true(f)


def test_broken_cache_is_ignored(tmp_path, monkeypatch):
    db = tmp_path / "cache.sqlite"
    db.write_text("not a database")
    monkeypatch.setenv(checksums.HASH_CACHE_ENV, str(db))
    checksums._HASH_DB.clear()
    f = tmp_path / "a.bin"
    f.write_bytes(b"z" * 100)
    assert checksums.sha256(f) == _true(f)
    checksums._HASH_DB.clear()


def test_fresh_file_is_not_cached(tmp_path, monkeypatch):
    """A file written within the settle time is hashed but not remembered."""
    db = tmp_path / "c.sqlite"
    monkeypatch.setenv(checksums.HASH_CACHE_ENV, str(db))
    checksums._HASH_DB.clear()
    f = tmp_path / "a.bin"
    f.write_bytes(b"q" * 100)
    checksums.sha256(f)
    con = checksums._hash_db(str(db))
    assert con.execute("SELECT COUNT(*) FROM sha256").fetchone()[0] == 0
    checksums._HASH_DB.clear()


def test_first_level_check_is_skipped_only_while_no_file_changed(cached, tmp_path,
                                                                 monkeypatch):
    """A passed whole-dataset first-level check is reused until any file changes."""
    from types import SimpleNamespace

    from mindpain import pipeline
    from mindpain.core.config import get_config
    from mindpain.first_level import runs as first_level

    bids = tmp_path / "bids"
    (bids / "sub-01").mkdir(parents=True)
    (bids / "sub-01" / "bold.nii.gz").write_bytes(b"bold")
    cfg = get_config(preset="small", work_dir=tmp_path / "work", bids_dir=bids)
    out = pipeline.first_level_dir(cfg)
    calls = []

    def fake_run(bids_dir, out_dir, **kwargs):
        calls.append(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "map.nii.gz").write_bytes(b"map")
        return SimpleNamespace(ok=True, failed=[])

    monkeypatch.setattr(first_level, "run_first_level", fake_run)
    for _ in range(3):
        assert pipeline.ensure_first_level(cfg) == out
    assert len(calls) == 1  # checked once, then remembered
    (out / "map.nii.gz").write_bytes(b"mop")  # an output changed: check again
    pipeline.ensure_first_level(cfg)
    assert len(calls) == 2
    (bids / "sub-01" / "events.tsv").write_text("onset\n")  # an input added
    pipeline.ensure_first_level(cfg)
    pipeline.ensure_first_level(cfg)
    assert len(calls) == 3
    _age(bids / "sub-01" / "bold.nii.gz", 0)  # touched: the status-change time moves
    pipeline.ensure_first_level(cfg)
    assert len(calls) == 4
    monkeypatch.delenv(checksums.HASH_CACHE_ENV)  # without the cache every call checks
    pipeline.ensure_first_level(cfg)
    pipeline.ensure_first_level(cfg)
    assert len(calls) == 6
