"""Checks of the built site: offline, accessible, readable on a phone, findable.

``python -m mindpain_book.buildtools check-site HTML_DIR [--axe]`` (:func:`check_site`)
fails when a built page loads a script, style, image or frame from outside
(:func:`external_resources`), when an image has no alt text, a viewer frame no title or a
chapter's figure no per-chapter number (:func:`site_problems`); with ``--axe``, also when
axe-core finds a serious or critical accessibility violation (:func:`axe_violations`).

The site test also uses, in headless Chromium (:mod:`mindpain_book.browser`), the pages
wider than a phone (:func:`page_widths`) and the site's own search (:func:`search_results`);
and, on the HTML, the tables' ``NaN`` cells, empty header cells and truncations
(:func:`table_problems`) and the glossary's terms (:func:`glossary_terms`).
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

from mindpain_book import browser
from mindpain_book.axe import axe_script
from mindpain_book.browser import CHROMIUM

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


def axe_violations(pages, impacts=("serious", "critical"), chromium: str = CHROMIUM,
                   jobs: int = 1) -> dict:
    """Run axe-core (:mod:`mindpain_book.axe`) on each page and its frames in headless Chromium.

    Parameters
    ----------
    pages : sequence of path-like
        The built HTML pages.
    impacts : tuple of str
        The axe impacts reported.
    chromium : str
        The Chromium executable.
    jobs : int
        Browsers run side by side, each on every ``jobs``-th page (the result is the same).

    Returns
    -------
    dict
        Page -> list of ``"rule (impact): n nodes: first target"`` for each violation whose
        impact is in ``impacts``; pages without such violations are left out. Requests
        other than ``file:``/``data:``/``blob:``/``about:`` (blocked) are listed under
        ``"requests"``.
    """
    pages = list(pages)
    if jobs > 1 and len(pages) > 1:
        from concurrent.futures import ProcessPoolExecutor

        found = {}
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            parts = pool.map(axe_violations, [pages[i::jobs] for i in range(jobs)],
                             [impacts] * jobs, [chromium] * jobs)
            for part in parts:
                requests = part.pop("requests", [])
                found.update(part)
                if requests:
                    found["requests"] = sorted(set(found.get("requests", [])) | set(requests))
        return found
    script = axe_script().read_text(encoding="utf-8")
    found = {}
    with browser.chromium(executable=chromium) as chrome:
        for path in pages:
            page = chrome.open(path)
            for frame in page.frames:
                frame.evaluate(script)
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes: "
                   f"{v['nodes'][0]['target'] if v['nodes'] else ''}"
                   for v in result["violations"] if v.get("impact") in impacts]
            if bad:
                found[str(path)] = bad
        if chrome.outside:
            found["requests"] = sorted(set(chrome.outside))
    return found


_WIDTHS = """() => ({page: Math.max(document.documentElement.scrollWidth,
                                  document.body ? document.body.scrollWidth : 0),
                   viewport: document.documentElement.clientWidth})"""


def page_widths(pages, width: int = browser.PHONE_WIDTH, chromium: str = CHROMIUM) -> dict:
    """Pages wider than a ``width``-px viewport: they would scroll sideways.

    Returns
    -------
    dict
        Page -> its scroll width in CSS pixels, for each page wider than the viewport.
    """
    wide = {}
    with browser.chromium(width=width, executable=chromium) as chrome:
        for path in pages:
            sizes = chrome.open(path).evaluate(_WIDTHS)
            if sizes["page"] > sizes["viewport"]:
                wide[str(path)] = sizes["page"]
    return wide


class _TableAudit(HTMLParser):
    """Cells that read ``NaN``, header cells without text, pandas' truncation notes."""

    _MISSING = {"nan", "<na>", "nat"}

    def __init__(self):
        super().__init__()
        self.nan_cells = 0
        self.empty_headers = 0
        self._cell = None
        self._text = []

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th"):
            values = dict(attrs)
            named = (values.get("aria-label") or values.get("title") or "").strip()
            self._cell, self._text = (tag, bool(named)), []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            text = " ".join("".join(self._text).split())
            if text.lower() in self._MISSING:
                self.nan_cells += 1
            if self._cell[0] == "th" and not text and not self._cell[1]:
                self.empty_headers += 1
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._text.append(data)


_TRUNCATED = re.compile(r"\d+\s+rows\s+×\s+\d+\s+columns")


def table_problems(html: str) -> list[str]:
    """List what makes a page's tables hard to read (empty when nothing does).

    ``NaN`` (or ``<NA>``, ``NaT``) cells, header cells with no text, and tables pandas cut
    short ("66 rows × 10 columns").
    """
    audit = _TableAudit()
    audit.feed(html)
    problems = []
    if audit.nan_cells:
        problems.append(f"{audit.nan_cells} NaN cells")
    if audit.empty_headers:
        problems.append(f"{audit.empty_headers} empty header cells")
    cut = _TRUNCATED.findall(re.sub(r"<[^>]+>", " ", html))
    if cut:
        problems.append(f"truncated tables: {', '.join(cut)}")
    return problems


def glossary_terms(html: str) -> list[str]:
    """Return the terms of a page's Sphinx glossary (``<dt id="term-...">``), in page order."""
    terms = []
    for dt in re.findall(r'<dt id="term-[^"]*"[^>]*>(.*?)</dt>', html, flags=re.S):
        text = re.sub(r"<a class=\"headerlink\".*?</a>", "", dt, flags=re.S)
        terms.append(" ".join(re.sub(r"<[^>]+>", "", text).split()))
    return terms


_RESULTS = """() => {
  const status = document.querySelector('#search-results .search-summary');
  if (!status || !/finished|did not match/i.test(status.innerText)) return null;
  return [...document.querySelectorAll('#search-results ul.search > li > a')]
    .map(a => a.getAttribute('href'));
}"""


def search_results(html_dir, query: str, chromium: str = CHROMIUM,
                   timeout_ms: int = 30_000) -> list[str]:
    """Run the built site's own search page for ``query`` in Chromium.

    Returns
    -------
    list of str
        The result links in the order the page lists them (paths relative to the site,
        with their anchors).
    """
    from urllib.parse import quote

    with browser.chromium(executable=chromium) as chrome:
        page = chrome.open(Path(html_dir) / "search.html", wait_ms=0, query=f"?q={quote(query)}")
        handle = page.wait_for_function(_RESULTS, timeout=timeout_ms)
        return handle.json_value()


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
