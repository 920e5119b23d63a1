"""The checksum cache (MINDPAIN_HASH_CACHE) never returns a stale digest."""

from __future__ import annotations

import hashlib
import os

import pytest

from mindpain import io


def _true(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def cached(tmp_path, monkeypatch):
    db = tmp_path / "cache" / "sha256.sqlite"
    monkeypatch.setenv(io.HASH_CACHE_ENV, str(db))
    monkeypatch.setattr(io, "HASH_CACHE_SETTLE_S", 0.0)
    io._HASH_DB.clear()
    yield db
    io._HASH_DB.clear()


def _age(path, seconds=10):
    """Make a file look written ``seconds`` ago (its status-change time stays now)."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - int(seconds * 1e9)))


def test_reuses_digest_of_unchanged_file(cached, tmp_path, monkeypatch):
    f = tmp_path / "a.bin"
    f.write_bytes(b"x" * 5000)
    first = io.sha256(f)
    assert first == _true(f) and cached.is_file()
    calls = []
    monkeypatch.setattr(io, "_hash_file", lambda p, c: calls.append(p) or "never")
    assert io.sha256(f) == first and not calls


@pytest.mark.parametrize("change", ["same_size_rewrite", "append", "replace", "touch_back"])
def test_changed_file_is_hashed_again(cached, tmp_path, change):
    f = tmp_path / "a.bin"
    f.write_bytes(b"a" * 4096)
    io.sha256(f)
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
    assert io.sha256(f) == _true(f)


def test_broken_cache_is_ignored(tmp_path, monkeypatch):
    db = tmp_path / "cache.sqlite"
    db.write_text("not a database")
    monkeypatch.setenv(io.HASH_CACHE_ENV, str(db))
    io._HASH_DB.clear()
    f = tmp_path / "a.bin"
    f.write_bytes(b"z" * 100)
    assert io.sha256(f) == _true(f)
    io._HASH_DB.clear()


def test_fresh_file_is_not_cached(tmp_path, monkeypatch):
    """A file written within the settle time is hashed but not remembered."""
    db = tmp_path / "c.sqlite"
    monkeypatch.setenv(io.HASH_CACHE_ENV, str(db))
    io._HASH_DB.clear()
    f = tmp_path / "a.bin"
    f.write_bytes(b"q" * 100)
    io.sha256(f)
    con = io._hash_db(str(db))
    assert con.execute("SELECT COUNT(*) FROM sha256").fetchone()[0] == 0
    io._HASH_DB.clear()
