"""axe-core finds no serious or critical accessibility violation on the book's pages.

The pages of the site built once per test run (``book_build`` in ``tests/conftest.py``) but
the API reference's, which ``test_book_axe_api.py`` checks: two files, so the two workers
of ``make test`` can check them side by side once the site is built.
"""

from __future__ import annotations

import pytest
from _site_helpers import is_api_page, needs_chromium, site_pages

from mindpain_book import axe, sitecheck

pytestmark = pytest.mark.slow


@needs_chromium
def test_axe_core_finds_no_serious_or_critical_violation(built_site):
    # axe-core from the npm registry (pinned in mindpain_book.axe), not an older bundled copy.
    assert axe.axe_script().read_text()[:40].startswith(f"/*! axe v{axe.AXE_VERSION}")
    pages = [page for page in site_pages(built_site) if not is_api_page(built_site, page)]
    assert len(pages) > 10
    assert sitecheck.axe_violations(pages, jobs=2) == {}
