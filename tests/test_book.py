"""The whole book builds on the small twin with -W, and the site stays offline.

The build executes every chapter (a failing cell fails it) into its own output folder, so
its execution cache is never shared with the book's full-preset cache.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from mindpain.buildtools import external_resources

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("book")
    env = dict(os.environ, MINDPAIN_PRESET="small", MINDPAIN_WORK=str(out / "work"),
               MINDPAIN_RESULTS=str(out / "results"), MPLBACKEND="Agg")
    env.pop("MINDPAIN_BIDS", None)
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(exe), "build", str(ROOT), "--path-output", str(out), "-W",
                           "--keep-going"], env=env, capture_output=True, text=True,
                          timeout=1800)
    html = out / "_build" / "html"
    if proc.returncode != 0:
        reports = "\n".join(p.read_text()[-3000:] for p in (html / "reports").rglob("*.err.log")) \
            if (html / "reports").is_dir() else ""
        pytest.fail(f"book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}\n{reports}")
    return html


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
    assert all(src.endswith("_static/mathjax/tex-svg.js") for src in scripts), set(scripts)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not installed "
                    "(`make test` installs it)")
def test_pages_render_offline_in_chromium(built_site):
    from playwright.sync_api import sync_playwright

    problems = []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:",
                                                                "about:"))
                else problems.append(f"request {r.url}"))
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        for html in _pages(built_site):
            page.goto(html.as_uri(), wait_until="load")
            page.wait_for_timeout(1500)
            assert page.title(), html
        context.close()
    assert problems == []
