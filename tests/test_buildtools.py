"""Build helpers: the execution-cache key and the offline check of built pages."""

from __future__ import annotations

from mindpain.buildtools import external_resources, main, prepare_book


def test_cache_is_cleared_when_the_preset_or_seed_changes(tmp_path):
    cache = tmp_path / ".jupyter_cache"
    assert prepare_book("full", 1, tmp_path) is True
    cache.mkdir()
    (cache / "entry").write_text("full-preset outputs")
    assert prepare_book("full", 1, tmp_path) is False
    assert (cache / "entry").exists()
    (tmp_path / ".doctrees").mkdir()
    assert prepare_book("small", 1, tmp_path) is True
    assert not cache.exists() and not (tmp_path / ".doctrees").exists()
    cache.mkdir()
    assert prepare_book("small", 2, tmp_path) is True
    assert not cache.exists()


def test_cache_is_cleared_when_the_dataset_changes(tmp_path, monkeypatch):
    prepare_book("full", 1, tmp_path)
    (tmp_path / ".jupyter_cache").mkdir()
    monkeypatch.setenv("MINDPAIN_BIDS", str(tmp_path / "my-bids"))
    assert prepare_book("full", 1, tmp_path) is True


def test_external_resources_are_found_but_links_are_not(tmp_path):
    (tmp_path / "index.html").write_text(
        '<a href="https://doi.org/10.1176/appi.ajp.21020145">paper</a>'
        '<script src="_static/local.js"></script>')
    (tmp_path / "page.html").write_text(
        '<script src="https://cdn.example.org/mathjax.js"></script>'
        '<link rel="stylesheet" href="//fonts.example.org/x.css">'
        '<img src="data:image/png;base64,AAAA">')
    found = external_resources(tmp_path)
    assert list(found) == [str(tmp_path / "page.html")]
    assert len(found[str(tmp_path / "page.html")]) == 2
    assert main(["check-site", str(tmp_path)]) == 1
    (tmp_path / "page.html").unlink()
    assert main(["check-site", str(tmp_path)]) == 0
