"""io: readers beside the writers, the one sha256, the code fingerprint, cached tables."""

from __future__ import annotations

import hashlib
import sys

import numpy as np
import pandas as pd
import pytest

from mindpain.core.checksums import code_closure, code_fingerprint, sha256
from mindpain.core.io import read_json, read_tsv, write_json, write_tsv
from mindpain.core.store import cached_table


def test_a_table_reads_back_exactly(tmp_path):
    frame = pd.DataFrame({"a": [0.1 + 0.2, np.nan, 1e-300], "note": ["", "n/a-like", "x"]})
    path = write_tsv(tmp_path / "t.tsv", frame)
    back = read_tsv(path)
    np.testing.assert_array_equal(back["a"].to_numpy(), frame["a"].to_numpy())
    assert back["note"].tolist() == ["", "n/a-like", "x"]      # only n/a is missing
    assert read_tsv(path, keep_default_na=True)["note"].isna().tolist() == [True, False, False]


def test_json_reads_back(tmp_path):
    data = {"b": 1, "a": [1, 2]}
    assert read_json(write_json(tmp_path / "x.json", data)) == data


def test_one_sha256_any_chunk(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"mindpain" * 1000)
    expected = hashlib.sha256(path.read_bytes()).hexdigest()
    assert sha256(path) == sha256(path, chunk=7) == expected


def test_code_fingerprint_ignores_docstrings_and_comments(tmp_path):
    path = tmp_path / "m.py"
    path.write_text('"""Doc."""\n\ndef f(x):\n    """Doc."""\n    return x + 1\n')
    before = code_fingerprint([path])
    path.write_text('"""Other doc."""\n# a comment\n\ndef f(x):\n    return x + 1  # note\n')
    assert code_fingerprint([path]) == before
    path.write_text('def f(x):\n    return x + 2\n')
    assert code_fingerprint([path]) != before


def _package(root, files: dict) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_code_closure_follows_every_kind_of_import(tmp_path, monkeypatch):
    _package(tmp_path, {
        "cpkg/__init__.py": "",
        "cpkg/a.py": "import os\n\ndef f():\n    from cpkg import b\n    return b\n",
        "cpkg/b.py": "from .sub import c\nfrom cpkg.sub.d import g\n",
        "cpkg/sub/__init__.py": "",
        "cpkg/sub/c.py": "from ..e import x\n",
        "cpkg/sub/d.py": "def g():\n    return 1\n",
        "cpkg/sub/params.toml": "x = 1\n",
        "cpkg/e.py": "x = 1\n",
        "cpkg/unused.py": "import cpkg.a\n",
    })
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "cpkg", raising=False)
    got = {p.relative_to(tmp_path / "cpkg").as_posix() for p in code_closure("cpkg.a")}
    assert got == {"__init__.py", "a.py", "b.py", "e.py", "sub/__init__.py", "sub/c.py",
                   "sub/d.py", "sub/params.toml"}
    assert code_closure("cpkg.e") == [tmp_path / "cpkg" / "__init__.py",
                                      tmp_path / "cpkg" / "e.py"]
    with pytest.raises(ValueError, match="cpkg.missing"):
        code_closure("cpkg.missing")


def test_code_closure_of_the_end_to_end_result_spans_the_pipeline():
    from mindpain.endtoend import code_files

    names = {p.relative_to(p.parents[1]).as_posix() if p.parent.name != "mindpain"
             else p.name for p in code_files()}
    assert {"endtoend/__init__.py", "endtoend/runner.py", "endtoend/glm.py",
            "endtoend/coverage.py", "first_level/runs.py", "first_level/glm.py",
            "twin/parameters.toml", "bids/query.py", "scoring/engine.py", "trial/models.py",
            "truth.py"} <= names
    assert not any(n.startswith(("figures/", "mindpain_book")) for n in names)


def test_cached_table_computes_once_per_key(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"v": [1.5, np.nan]})

    path = tmp_path / "t.tsv"
    first = cached_table(path, {"k": 1}, compute, {"v": "a value"})
    again = cached_table(path, {"k": 1}, compute, {"v": "a value"})
    pd.testing.assert_frame_equal(first, again)
    assert len(calls) == 1
    cached_table(path, {"k": 2}, compute, {"v": "a value"})
    assert len(calls) == 2
    assert read_json(path.with_suffix(".json")) == {"key": {"k": 2}, "columns": {"v": "a value"}}
