"""Build helpers: the execution-cache key and the offline check of built pages."""

from __future__ import annotations

import hashlib
import re

from mindpain_book.buildtools import main
from mindpain_book.execution import prepare_book
from mindpain_book.sitecheck import external_resources


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


def test_site_problems_finds_missing_alt_titles_and_numbers(tmp_path):
    from mindpain_book.sitecheck import site_problems

    chapters = tmp_path / "notebooks"
    chapters.mkdir()
    good = ('<figure><img src="a.png" alt="Bar chart of ratings by group"><figcaption><p>'
            '<span class="caption-number">Figure 2.1 </span>text</p></figcaption></figure>'
            '<iframe title="viewer" srcdoc="&lt;img alt=&quot;slices&quot; src=&quot;x&quot;&gt;">'
            '</iframe>')
    (chapters / "02.html").write_text(good)
    assert site_problems(tmp_path) == []
    bad = ('<figure><img src="../_images/a.png" alt="../_images/a.png"><figcaption><p>'
           '<span class="caption-number">Fig. 20 </span>text</p></figcaption></figure>'
           '<figure><img src="b.png" alt="b.png"></figure>'
           '<iframe srcdoc="&lt;img src=&quot;x&quot;&gt;"></iframe>'
           '<figure><img src="c.png" alt="A map"><figcaption><p><span class="caption-number">'
           'Figure 3.1 </span>x</p></figcaption></figure><figure><figcaption><p>'
           '<span class="caption-number">Table 4.1 </span>x</p></figcaption></figure>')
    (chapters / "03.html").write_text(bad)
    problems = site_problems(tmp_path)
    assert sum("without alt" in p for p in problems) == 3  # file-name alts and the frame's img
    assert sum("frame without title" in p for p in problems) == 1
    assert any("'Fig. 20'" in p for p in problems)
    assert any("figure without a per-chapter number: ''" in p for p in problems)
    assert any("several chapters" in p for p in problems)


def test_manifest_round_trip_and_build_comparison(tmp_path):
    from mindpain_book.reproducibility import (
        hash_tree,
        read_manifest,
        sha256sum_text,
        write_manifest,
    )
    from mindpain_book.verify import compare_builds

    root = tmp_path / "tables"
    (root / "sub").mkdir(parents=True)
    (root / "a.tsv").write_text("x\t1\n")
    (root / "sub" / "b.json").write_text("{}")
    cache = {}
    rows = hash_tree(root, cache)
    assert [r[0] for r in rows] == ["a.tsv", "sub/b.json"]
    assert rows[0][2] == hashlib.sha256(b"x\t1\n").hexdigest() and len(cache) == 2
    assert hash_tree(root, cache) == rows
    assert sha256sum_text(rows).splitlines()[0] == f"{rows[0][2]}  a.tsv"
    report = {"files": [("results", *r) for r in rows],
              "roots": [{"root": "results"}, {"root": "pain21"}]}
    write_manifest(report, tmp_path / "out")
    assert read_manifest(tmp_path / "out" / "manifest.tsv") == report["files"]
    assert not (tmp_path / "out" / "pain21.sha256").exists()
    first = [("results", *r) for r in rows]
    (root / "a.tsv").write_text("x\t2\n")
    second = [("results", *r) for r in hash_tree(root)]
    assert compare_builds(first, first) == []
    assert compare_builds(first, second) == ["results/a.tsv: differs"]
    assert compare_builds(first, second[1:]) == ["results/a.tsv: only in the first build"]


def test_every_module_has_an_api_page_in_the_book():
    from mindpain_book.api import OTHER_MODULES, ROOT_API, api_pages, api_sections

    unplaced = api_sections().get(OTHER_MODULES, [])
    assert unplaced == [], f"place these modules in a section of API_SECTIONS: {unplaced}"
    assert api_sections(["mindpain", "mindpain.stats", "mindpain.stats.tables", "x.y"]) == {
        "Foundations: vocabulary, configuration, errors, files": ["mindpain"],
        "Statistics": ["mindpain.stats", "mindpain.stats.tables"], OTHER_MODULES: ["x.y"]}
    for name, text in api_pages().items():
        assert (ROOT_API / name).read_text() == text, f"book/api/{name} is stale: make api"


def test_a_package_page_links_what_the_package_re_exports_instead_of_documenting_it():
    from mindpain_book.api import api_pages, reexports

    names = reexports("mindpain.bids")
    assert names["find_runs"] == "mindpain.bids.query.find_runs"  # a function
    assert names["CONFOUND_MAX"] == "mindpain.bids.tables.CONFOUND_MAX"  # a constant
    assert "query" not in names  # a submodule has a page of its own
    assert reexports("mindpain.bids.query") == {}  # a module, not a package
    assert "Signature" not in reexports("mindpain.signatures")  # defined by the package
    page = api_pages()["mindpain.bids.md"]
    assert ":ignore-module-all:" in page
    query = next(line for line in page.splitlines()
                 if line.startswith("- {py:mod}`mindpain.bids.query`"))
    assert "{py:obj}`find_runs <mindpain.bids.query.find_runs>`" in query
    assert ":ignore-module-all:" not in api_pages()["mindpain.bids.query.md"]


def test_report_parts_name_no_host_or_path():
    import os

    from mindpain_book.reproducibility import (
        blas_info,
        git_commit,
        package_versions,
        python_info,
    )

    text = repr([python_info(), package_versions(), blas_info()])
    assert os.uname().nodename not in text and "/work/" not in text
    assert ["numpy", __import__("numpy").__version__] in package_versions()
    assert blas_info()[0][:3] == ["user_api", "internal_api", "version"]
    assert re.fullmatch(r"[0-9a-f]{40}( \(with uncommitted changes\))?|unknown.*", git_commit())


def test_docstring_fixes_for_the_api_pages():
    from mindpain_book.sphinxext.apidocs import _escape_bars, _rubric_headings

    lines = ["Largest |a - b| over maps, :math:`|x|`.", "", "Multiplicity", "------------",
             "text"]
    _escape_bars(None, "module", "m", None, None, lines)
    _rubric_headings(None, "module", "m", None, None, lines)
    assert lines[0] == "Largest \\|a - b\\| over maps, :math:`|x|`."
    assert lines[2:4] == [".. rubric:: Multiplicity", ""]


def test_a_file_recording_its_build_folder_is_told_apart_from_a_real_difference(tmp_path):
    from mindpain_book.verify import _same_but_location

    first, second = tmp_path / "first", tmp_path / "second"
    for folder, value in ((first, "1"), (second, "2")):
        folder.mkdir()
        (folder / "desc.json").write_text(f'{{"URL": "file://{folder}/twin"}}')
        (folder / "table.tsv").write_text(f"x\\t{value}\\n")
    assert _same_but_location(first, second, "desc.json")
    assert not _same_but_location(first, second, "table.tsv")


def test_parallel_execution_is_reused_by_jupyter_book(tmp_path):
    """`buildtools execute` fills the cache so that jupyter-book executes nothing again."""
    import subprocess
    import sys
    from pathlib import Path

    from mindpain_book.execution import _chapters_in_toc, execute_chapters

    (tmp_path / "_config.yml").write_text(
        "title: t\nonly_build_toc_files: true\nexecute:\n  execute_notebooks: cache\n"
        "  timeout: 120\n  allow_errors: false\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: intro\nchapters:\n  - file: a\n  - file: b\n")
    (tmp_path / "intro.md").write_text("# Intro\n\nNo code here.\n")
    header = ("---\njupytext:\n  text_representation:\n    format_name: myst\n"
              "kernelspec:\n  display_name: Python 3\n  name: python3\n---\n\n")
    for name, value in (("a", 6), ("b", 7)):
        (tmp_path / f"{name}.md").write_text(
            header + f"# {name}\n\n```{{code-cell}} ipython3\nprint({value} * 7)\n```\n")
    assert [p.name for p in _chapters_in_toc(tmp_path)] == ["a.md", "b.md"]
    build = tmp_path / "_build"
    assert execute_chapters(build, jobs=2, root=tmp_path) == 0
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(exe), "build", str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("Using cached notebook") == 2, proc.stdout[-3000:]
    assert "Executing notebook" not in proc.stdout
    assert "49" in (build / "html" / "b.html").read_text()
