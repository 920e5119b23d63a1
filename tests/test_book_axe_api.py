"""axe-core finds no serious or critical accessibility violation on the API reference.

Every page of ``book/api/`` (one per module and the index) of the site built once per test
run; the other pages are checked by ``test_book_axe.py``.
"""

from __future__ import annotations

import pytest
from _site_helpers import is_api_page, needs_chromium, site_pages

from mindpain_book import api, sitecheck

pytestmark = pytest.mark.slow


@needs_chromium
def test_axe_core_finds_no_serious_or_critical_violation_on_the_api_pages(built_site):
    pages = [page for page in site_pages(built_site) if is_api_page(built_site, page)]
    assert {page.stem for page in pages} >= set(api.package_modules()) | {"index"}
    assert sitecheck.axe_violations(pages, jobs=2) == {}
