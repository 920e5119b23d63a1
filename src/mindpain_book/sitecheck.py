"""Checks of the built site: offline, accessible, figures numbered per chapter.

``python -m mindpain_book.buildtools check-site HTML_DIR [--axe]`` (:func:`check_site`)
fails when a built page loads a script, style, image or frame from outside
(:func:`external_resources`), when an image has no alt text, a viewer frame no title or a
chapter's figure no per-chapter number (:func:`site_problems`); with ``--axe``, also when
axe-core finds a serious or critical accessibility violation (:func:`axe_violations`).
"""

from __future__ import annotations

import re
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

_LOADING = {"script": "src", "img": "src", "iframe": "src", "audio": "src", "video": "src",
            "source": "src", "embed": "src", "link": "href"}


class _ResourceFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.external = []

    def handle_starttag(self, tag, attrs):
        attr = _LOADING.get(tag)
        if attr is None:
            return
        values = dict(attrs)
        if tag == "link" and values.get("rel") not in ("stylesheet", "preload", "icon",
                                                        "modulepreload"):
            return
        url = values.get(attr) or ""
        if re.match(r"^(https?:)?//", url):
            self.external.append(f"<{tag} {attr}={url}>")


def external_resources(html_dir) -> dict:
    """Map each built page to the outside resources it would load (empty when offline)."""
    found = {}
    for page in sorted(Path(html_dir).rglob("*.html")):
        finder = _ResourceFinder()
        finder.feed(page.read_text(errors="replace"))
        if finder.external:
            found[str(page)] = finder.external
    return found


def _describes(alt: str | None, src: str | None) -> bool:
    """Whether ``alt`` is text about an image rather than empty or its file name."""
    alt = (alt or "").strip()
    if not alt or alt == (src or "").strip():
        return False
    return not re.fullmatch(r"[\w./-]*\.(png|jpe?g|gif|svg|webp)", alt, flags=re.I)


class _PageAudit(HTMLParser):
    """Images without alt text, frames without a title, and figure caption numbers."""

    def __init__(self):
        super().__init__()
        self.images_without_alt = []
        self.frames_without_title = []
        self.frames = 0
        self.figures = 0
        self.caption_numbers = []
        self._figure_depth = 0
        self._caption_number = False
        self._figure_numbered = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "img" and not _describes(values.get("alt"), values.get("src")):
            self.images_without_alt.append(values.get("src", "?")[:80])
        if tag == "iframe":
            self.frames += 1
            if not (values.get("title") or "").strip():
                self.frames_without_title.append(values.get("src", "srcdoc")[:80])
            if values.get("srcdoc"):
                inner = _PageAudit()
                inner.feed(values["srcdoc"])
                self.images_without_alt += inner.images_without_alt
                self.frames_without_title += inner.frames_without_title
        if tag == "figure":
            self.figures += 1
            self._figure_numbered.append(False)
        if tag == "span" and "caption-number" in (values.get("class") or "").split():
            self._caption_number = True

    def handle_endtag(self, tag):
        if tag == "figure" and self._figure_numbered:
            if not self._figure_numbered.pop():
                self.caption_numbers.append("")
        if tag == "span":
            self._caption_number = False

    def handle_data(self, data):
        if self._caption_number and data.strip():
            self.caption_numbers.append(data.strip())
            if self._figure_numbered:
                self._figure_numbered[-1] = True
            self._caption_number = False


def audit_page(html: str) -> _PageAudit:
    """Parse one built page for :func:`site_problems`."""
    audit = _PageAudit()
    audit.feed(html)
    return audit


_CAPTION = re.compile(r"^(Figure|Table) (\d+)\.(\d+)$")


def site_problems(html_dir, chapters_dir: str = "notebooks") -> list[str]:
    """List accessibility and numbering problems of a built site (empty when none).

    Every ``<img>`` (also inside a viewer frame's ``srcdoc``) needs non-empty alt text and
    every ``<iframe>`` a title; on chapter pages (under ``chapters_dir``) every figure needs
    a per-chapter number, "Figure C.N" or "Table C.N", with one chapter number C per page.
    """
    html_dir = Path(html_dir)
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.relative_to(html_dir).parts:
            continue
        audit = audit_page(page.read_text(errors="replace"))
        name = page.relative_to(html_dir).as_posix()
        problems += [f"{name}: image without alt text: {src}" for src in audit.images_without_alt]
        problems += [f"{name}: frame without title: {src}" for src in audit.frames_without_title]
        if page.parent.name != chapters_dir:
            continue
        chapters = set()
        for number in audit.caption_numbers:
            match = _CAPTION.match(number)
            if not match:
                problems.append(f"{name}: figure without a per-chapter number: {number!r}")
            else:
                chapters.add(match.group(2))
        if len(chapters) > 1:
            problems.append(f"{name}: figures numbered in several chapters: {sorted(chapters)}")
    return problems


def axe_script() -> Path:
    """axe-core's ``axe.min.js`` as shipped in the ``axe-playwright-python`` wheel."""
    from importlib import resources

    path = Path(str(resources.files("axe_playwright_python"))) / "axe.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: axe-core not found; install axe-playwright-python")
    return path


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def axe_violations(pages, impacts=("serious", "critical"), chromium: str = CHROMIUM) -> dict:
    """Run axe-core on each page (and its frames) in headless Chromium.

    Returns
    -------
    dict
        Page -> list of ``"rule (impact): n nodes: first target"`` for each violation whose
        impact is in ``impacts``; pages without such violations are left out. Requests
        other than ``file:``/``data:``/``blob:``/``about:`` are listed under ``"requests"``.
    """
    from playwright.sync_api import sync_playwright

    script = axe_script().read_text(encoding="utf-8")
    found, outside = {}, []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(
            ("file:", "data:", "blob:", "about:")) else outside.append(r.url))
        for path in pages:
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            for frame in page.frames:
                frame.evaluate(script)
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes: "
                   f"{v['nodes'][0]['target'] if v['nodes'] else ''}"
                   for v in result["violations"] if v.get("impact") in impacts]
            if bad:
                found[str(path)] = bad
        context.close()
    if outside:
        found["requests"] = sorted(set(outside))
    return found


def check_site(html_dir, axe: bool = False) -> int:
    """Check a built site (``check-site``); print each problem, return the exit status.

    Parameters
    ----------
    html_dir : path-like
        The built HTML (``_build/html``).
    axe : bool
        Also run axe-core in headless Chromium (:func:`axe_violations`).

    Returns
    -------
    int
        0 when the site passes, 1 when a check fails, 2 when ``html_dir`` holds no site.
    """
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        print(f"{html_dir}: no index.html; build the book first", file=sys.stderr)
        return 2
    bad = external_resources(html_dir)
    for page, urls in bad.items():
        print(f"{page}: loads from outside: {', '.join(urls)}", file=sys.stderr)
    problems = site_problems(html_dir)
    if axe:
        pages = [p for p in sorted(html_dir.rglob("*.html"))
                 if "_static" not in p.relative_to(html_dir).parts]
        problems += [f"{page}: {line}" for page, lines in axe_violations(pages).items()
                     for line in lines]
    for line in problems:
        print(line, file=sys.stderr)
    if not bad and not problems:
        print(f"{html_dir}: no page loads anything from outside; every image has alt "
              "text, every frame a title, every chapter figure a number"
              + ("; axe-core: no serious or critical violation" if axe else ""))
    return 1 if bad or problems else 0
