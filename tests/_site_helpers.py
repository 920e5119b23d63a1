"""What the tests of the built site share: the Chromium they drive and the pages they read."""

from __future__ import annotations

from pathlib import Path

import pytest

from mindpain_book.browser import CHROMIUM, CHROMIUM_ARGS

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "is_api_page", "needs_chromium", "site_pages"]

needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian chromium not "
                                    "installed (`make test` installs it)")


def site_pages(html: Path) -> list[Path]:
    """Every HTML page of the site ``html`` but Sphinx's static files and the build reports."""
    return [page for page in sorted(html.rglob("*.html"))
            if not {"_static", "reports"} & set(page.relative_to(html).parts)]


def is_api_page(html: Path, page: Path) -> bool:
    """Whether ``page`` is one of the API reference's pages (``book/api/``)."""
    return page.relative_to(html).parts[:2] == ("book", "api")
