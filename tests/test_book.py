"""The whole book builds on the small twin with -W, and the site stays offline.

The build (``book_build`` in ``tests/conftest.py``) executes every chapter (a failing cell
fails it) into its own output folder, once per test run; the accessibility checks of its
pages are in ``test_book_axe*.py``, so the two workers can share them.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from _site_helpers import CHROMIUM, CHROMIUM_ARGS, needs_chromium, site_pages

from mindpain.core.checksums import sha256
from mindpain_book import api, reproducibility, sitecheck
from mindpain_book.sitecheck import external_resources

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _pages(html: Path) -> list[Path]:
    return [html / "index.html", *sorted((html / "notebooks").glob("*.html"))]


def test_every_chapter_is_built(built_site):
    toc = (ROOT / "_toc.yml").read_text()
    chapters = [line.split("file:")[1].strip() for line in toc.splitlines() if "file:" in line]
    for chapter in chapters:
        assert (built_site / f"{chapter}.html").is_file(), chapter


def test_no_page_references_outside_resources(built_site):
    assert external_resources(built_site) == {}


def test_mathjax_is_served_locally(built_site):
    assert (built_site / "_static" / "mathjax" / "tex-svg.js").is_file()
    scripts = [src for page in built_site.rglob("*.html")
               for src in re.findall(r'<script[^>]*src="([^"]*mathjax[^"]*)"', page.read_text())]
    assert scripts, "no page loads MathJax; the formulas would show as raw TeX"
    # An incremental build adds Sphinx's "?v=<checksum>" (the file exists by then).
    assert all(src.split("?")[0].endswith("_static/mathjax/tex-svg.js") for src in scripts), \
        set(scripts)


@needs_chromium
def test_pages_render_offline_in_chromium(built_site):
    from playwright.sync_api import sync_playwright

    problems = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            # every tab runs its timers at full speed, as the one in front would
            args=[*CHROMIUM_ARGS, "--disable-background-timer-throttling",
                  "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"])
        # Each page in a tab of its own, all left to run their scripts for the same 1.5 s
        # after loading (the pages wait side by side, not one after the other).
        tabs = {}
        for html in _pages(built_site):
            page = context.new_page()
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:",
                                                                    "about:"))
                    else problems.append(f"request {r.url}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.goto(html.as_uri(), wait_until="load")
            tabs[html] = page
        next(iter(tabs.values())).wait_for_timeout(1500)
        for html, page in tabs.items():
            assert page.title(), html
        context.close()
    assert problems == []


def test_every_image_has_alt_text_every_frame_a_title_every_figure_a_number(built_site):
    assert sitecheck.site_problems(built_site) == []
    chapters = sorted((built_site / "notebooks").glob("*.html"))
    numbers = {page.stem: sitecheck.audit_page(page.read_text()).caption_numbers
               for page in chapters}
    assert all(numbers.values()), numbers
    for i, page in enumerate(chapters, start=1):
        assert all(re.match(rf"^(Figure|Table) {i}\.\d+$", n) for n in numbers[page.stem]), \
            (page.stem, numbers[page.stem])
    # Glued tables are numbered as tables, and in-text references carry the same numbers.
    trial = (built_site / "notebooks" / "04_randomized_trial.html").read_text()
    assert re.search(r'<span class="caption-number">Table 4\.\d+ </span>', trial)
    assert re.search(r'<span class="std std-numref">Figure 4\.\d+</span>', trial)


def test_viewers_are_titled_frames_with_a_static_image(built_site):
    for chapter, count in (("02_first_level", 2), ("03_pain_signatures", 3)):
        page = (built_site / "notebooks" / f"{chapter}.html").read_text()
        audit = sitecheck.audit_page(page)
        assert audit.frames >= count and audit.frames_without_title == [], chapter
        assert page.count('class="mindpain-viewer-static"') == audit.frames, chapter


def test_results_tables_are_downloadable_from_their_chapter(built_site):
    wanted = {"04_randomized_trial": ["trial_effects", "trial_coverage"],
              "05_long_term_meditators": ["meditator_effects", "meditator_coverage"]}
    for chapter, tables in wanted.items():
        page = built_site / "notebooks" / f"{chapter}.html"
        links = re.findall(r'href="([^"]*_downloads/tables/[^"]+)"', page.read_text())
        for table in tables:
            for ext in (".tsv", ".json"):
                link = next(link for link in links if link.endswith(table + ext))
                assert (page.parent / link).resolve().is_file(), link


def test_source_notebooks_are_downloadable(built_site):
    import nbformat

    for page in sorted((built_site / "notebooks").glob("*.html")):
        text = page.read_text()
        sources = re.findall(r'href="([^"]*_sources/[^"]+\.md)"', text)
        executed = re.findall(r'href="([^"]*_downloads/notebooks/[^"]+\.ipynb)"', text)
        assert sources and executed, page.name
        assert all((page.parent / s).resolve().is_file() for s in sources), sources
        nb = nbformat.read(page.parent / executed[0], as_version=4)
        assert any(cell.get("outputs") for cell in nb.cells), executed[0]


def test_api_reference_has_a_page_per_module_linked_from_the_chapters(built_site):
    for module in api.package_modules():
        page = built_site / "book" / "api" / f"{module}.html"
        assert page.is_file(), module
        assert f'id="module-{module}"' in page.read_text(), module
    assert (ROOT / "book" / "api" / "index.md").read_text() == api.api_pages()["index.md"]
    linked = [page.name for page in (built_site / "notebooks").glob("*.html")
              if "api/mindpain." in page.read_text()]
    assert len(linked) >= 4, linked


def test_the_api_reference_documents_each_object_once(built_site):
    # A package re-exports what its modules define: the object is documented on its
    # module's page only, and the package's page links to it from its list of names.
    import importlib

    anchors = {}
    for page in sorted((built_site / "book" / "api").glob("*.html")):
        for target in re.findall(r'<dt class="sig sig-object py" id="([^"]+)"', page.read_text()):
            anchors.setdefault(target, page.name)
    by_object = {}
    for target in anchors:
        module, _, name = target.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue  # a method or attribute of a class: its class is counted
        if callable(obj):
            by_object.setdefault(id(obj), []).append(target)
    twice = {k: v for k, v in by_object.items() if len(v) > 1}
    assert twice == {}, list(twice.values())[:5]
    listed = 0
    for package in api.package_modules():
        names = api.reexports(package)
        text = (built_site / "book" / "api" / f"{package}.html").read_text()
        for name, path in names.items():
            assert f'id="{package}.{name}"' not in text, f"{package}.{name} documented again"
            assert path in anchors, f"{path} (re-exported by {package}) has no entry"
            assert re.search(rf'href="{re.escape(anchors[path])}#{re.escape(path)}"', text), \
                f"{package}'s page does not link {name} to {path}"
            listed += 1
    assert listed >= 150, listed


def test_the_sidebar_of_an_api_page_lists_the_parts_and_chapters_not_every_module(built_site):
    # The module pages are reached from the API index (by section) and by previous/next
    # links; a sidebar of every module was over half of each API page's elements.
    folder = built_site / "book" / "api"
    for name in ("mindpain.bids.html", "mindpain.core.errors.html", "index.html"):
        text = (folder / name).read_text()
        nav = text[text.index('class="bd-links bd-docs-nav'):]
        nav = nav[:nav.index("</nav>")]
        assert re.findall(r'href="[^"]*mindpain[._][^"]*\.html"', nav) == [], name
        # the API reference is the current branch, its entry marked so
        assert re.search(r'class="toctree-l1 current active"><a[^>]*href="(#|index\.html)"',
                         nav), name
    index = (folder / "index.html").read_text()
    assert all(f'href="{m}.html#module-{m}"' in index for m in api.package_modules())


def test_reproducibility_report_matches_the_files_on_disk(built_site, book_build, shared_work):
    page = (built_site / "book" / "reproducibility.html").read_text()
    manifest = reproducibility.read_manifest(built_site / "_downloads" / "reproducibility" /
                                        "manifest.tsv")
    env = {"MINDPAIN_PRESET": "small", "MINDPAIN_WORK": str(shared_work),
           "MINDPAIN_RESULTS": str(book_build / "results")}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        mp.delenv("MINDPAIN_BIDS", raising=False)
        roots = {root: path for root, _, path in reproducibility.data_roots()}
    roots_seen = {root for root, *_ in manifest}
    assert {"dataset", "derivatives", "results"} <= roots_seen
    for root, path, size, sha in manifest:
        file = roots[root] / path
        assert file.stat().st_size == size, file
        assert sha256(file) == sha, file
    results = [(path, sha) for root, path, _, sha in manifest if root == "results"]
    assert any(path == "trial_effects.tsv" for path, _ in results)
    for path, sha in results:  # every results table's hash is on the page itself
        assert sha in page, path
    assert reproducibility.git_commit().split()[0] in page
    for name in ("threadpoolctl", "nilearn", "numpy"):
        assert f"<p>{name}</p>" in page, name
    assert "04_randomized_trial" in page  # the execution table
    assert str(ROOT) not in page and os.uname().nodename not in page


@needs_chromium
def test_no_page_scrolls_sideways_on_a_phone(built_site):
    # Every page but the API reference and the landing redirect (index.html -> book/intro).
    pages = [page for page in site_pages(built_site)
             if "api" not in page.parent.parts and page.name != "index.html"]
    assert {"01_trial_and_data.html", "glossary.html"} <= {page.name for page in pages}
    assert sitecheck.page_widths(pages, width=390) == {}


def test_chapter_tables_are_whole_with_no_nan_and_no_empty_header(built_site):
    chapters = sorted((built_site / "notebooks").glob("*.html"))
    assert len(chapters) == 6
    problems = {page.stem: sitecheck.table_problems(page.read_text()) for page in chapters}
    assert {stem: found for stem, found in problems.items() if found} == {}


def test_glossary_defines_the_books_terms(built_site):
    terms = sitecheck.glossary_terms((built_site / "book" / "glossary.html").read_text())
    assert len(set(terms)) >= 15, terms
    assert {"NPS", "SIIPS1", "MBSR", "HEP", "WL", "LTM", "ITT", "TOST", "MDE", "HC3", "REML",
            "BIDS", "GLM", "HRF"} <= set(terms)


def test_citations_read_author_and_year(built_site):
    page = (built_site / "notebooks" / "01_trial_and_data.html").read_text()
    text = " ".join(re.sub(r"<[^>]+>", "", page).split())
    assert "(Wager et al., 2013)" in text  # in parentheses ({cite:p}, the {cite} default)
    assert "Wielgosz et al. (2022)" in text  # in the sentence ({cite:t})
    assert not re.search(r"\[[A-Z][A-Za-z]*\+?\d\d\]", text), "label citations like [WKP+22]"


@needs_chromium
def test_a_search_for_a_concept_lists_a_chapter_first(built_site):
    results = sitecheck.search_results(built_site, "NPS")
    assert results and results[0].startswith("notebooks/"), results[:5]
    # The API reference comes after every other page.
    in_api = ["/api/" in link for link in results]
    assert in_api == sorted(in_api), results
