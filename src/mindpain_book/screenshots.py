"""Full-page screenshots of the built site's pages, for reviewers.

``python -m mindpain_book.buildtools screenshots HTML_DIR --out DIR [--all]`` (``make
screenshots``) saves the landing page and every chapter, or with ``--all`` every page but
the API reference, at a desktop width (1,400 px) and a phone width (390 px) as PNG files
``DIR/<page>-1400.png`` and ``DIR/<page>-390.png``, in headless Chromium with the network
blocked (:mod:`mindpain_book.browser`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from mindpain_book import browser

#: Viewport widths of the screenshots, in CSS pixels.
WIDTHS = (browser.DESKTOP_WIDTH, browser.PHONE_WIDTH)


def site_pages(html_dir, everything: bool = False) -> list[Path]:
    """Return the landing page and the chapters (``everything``: every page but the API's)."""
    html_dir = Path(html_dir)
    if not everything:
        return [html_dir / "index.html", *sorted((html_dir / "notebooks").glob("*.html"))]
    return [page for page in sorted(html_dir.rglob("*.html"))
            if not {"_static", "_sources", "api", "reports"} & set(
                page.relative_to(html_dir).parts[:-1])
            and page.name not in ("genindex.html", "search.html", "py-modindex.html")]


def _name(html_dir: Path, page: Path) -> str:
    return page.relative_to(html_dir).with_suffix("").as_posix().replace("/", "-")


def take_screenshots(html_dir, out, everything: bool = False, widths=WIDTHS) -> list[Path]:
    """Save a full-page PNG of each page of :func:`site_pages` at each width.

    Parameters
    ----------
    html_dir : path-like
        The built site (``_build/html``).
    out : path-like
        Folder for the PNG files (made if absent; files of the same names are replaced).
    everything : bool
        Every page but the API reference, not only the landing page and the chapters.
    widths : sequence of int
        Viewport widths in CSS pixels.

    Returns
    -------
    list of Path
        The files written, ``<page>-<width>.png``.
    """
    html_dir, out = Path(html_dir), Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    pages = site_pages(html_dir, everything)
    with browser.chromium() as chrome:
        for width in widths:
            chrome.resize(width)
            for page in pages:
                target = out / f"{_name(html_dir, page)}-{width}.png"
                tmp = target.with_name(f".mindpain-tmp-{target.name}")
                chrome.open(page, wait_ms=1500).screenshot(path=str(tmp), full_page=True)
                os.replace(tmp, target)
                written.append(target)
    if chrome.outside:
        print(f"blocked requests to outside: {', '.join(sorted(set(chrome.outside)))}",
              file=sys.stderr)
    return written


def main(html_dir, out, everything: bool = False) -> int:
    """Command ``screenshots``: print each file written; 2 when ``html_dir`` holds no site."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").is_file():
        print(f"{html_dir}: no index.html; build the book first (make book)", file=sys.stderr)
        return 2
    try:
        written = take_screenshots(html_dir, out, everything)
    except FileNotFoundError as err:
        print(err, file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
