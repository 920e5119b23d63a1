"""Headless Chromium for the site checks and the screenshots, with the network blocked.

Debian's ``/usr/bin/chromium`` driven by Playwright from PyPI (never ``playwright install``).
Every request that is not ``file:``, ``data:``, ``blob:`` or ``about:`` is aborted and
recorded, so a page that would fetch something from outside is caught, not served.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Debian's Chromium (``make test`` installs it with apt-get).
CHROMIUM = "/usr/bin/chromium"
#: Flags for a quiet, offline headless Chromium.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: Viewport widths in CSS pixels: a desktop window and a phone.
DESKTOP_WIDTH, PHONE_WIDTH = 1400, 390
_LOCAL = ("file:", "data:", "blob:", "about:")
#: Resolves once a loaded page has settled: its fonts loaded and, where the page loads
#: MathJax, its first typesetting done (``MathJax.startup.promise``), instead of a fixed wait.
SETTLED = """async () => {
  await document.fonts.ready;
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
}"""


#: A ``<meta http-equiv="refresh">`` (the landing page redirects so), read from the page's file.
_META_REFRESH = re.compile(r"""<meta[^>]+http-equiv\s*=\s*["']?refresh""", re.IGNORECASE)


def redirects(path) -> bool:
    """Whether the HTML file ``path`` redirects with a meta refresh (read from its head)."""
    head = Path(path).read_bytes()[:8192].decode("utf-8", errors="replace")
    return _META_REFRESH.search(head) is not None


class Browser:
    """One Chromium page and the outside requests it attempted (:attr:`outside`)."""

    def __init__(self, page):
        self.page = page
        self.outside: list[str] = []

    def open(self, path, wait_ms: int | None = None, query: str = ""):
        """Load a built page from disk (``query`` appended to its URL) and let it settle.

        Settled: the page a meta refresh leads to loaded (:func:`redirects`), its web fonts
        loaded and, on a page with formulas, MathJax's first typesetting finished
        (:data:`SETTLED`); then ``wait_ms`` more milliseconds, if given.
        """
        from playwright.sync_api import Error

        first = Path(path).resolve().as_uri() + query
        self.page.goto(first, wait_until="load")
        if redirects(path):
            # A meta refresh navigates after the load event, possibly after the page has
            # settled: wait for the page it leads to (known from the file, so nothing is
            # evaluated in the page being left), or a check run next would lose its
            # document halfway ("execution context was destroyed").
            self.page.wait_for_url(lambda url: url != first, wait_until="load")
        for attempt in range(3):  # a page that navigates by script loads again
            try:
                self.page.evaluate(SETTLED)
                break
            except Error as err:
                if "context was destroyed" not in str(err) or attempt == 2:
                    raise
                self.page.wait_for_load_state("load")
        if wait_ms:
            self.page.wait_for_timeout(wait_ms)
        return self.page

    def resize(self, width: int, height: int = 900) -> None:
        """Set the viewport to ``width`` × ``height`` CSS pixels."""
        self.page.set_viewport_size({"width": width, "height": height})


@contextmanager
def chromium(width: int = DESKTOP_WIDTH, height: int = 900,
             executable: str = CHROMIUM) -> Iterator[Browser]:
    """Yield a :class:`Browser` on a fresh profile, network blocked, at ``width`` px.

    Raises
    ------
    FileNotFoundError
        When ``executable`` does not exist (one line saying how to install it).
    """
    from playwright.sync_api import sync_playwright

    if not Path(executable).exists():
        raise FileNotFoundError(f"{executable}: Chromium not found; `make test` installs "
                                "Debian's chromium with apt-get (as root)")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=executable, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height})
        browser = Browser(context.pages[0] if context.pages else context.new_page())

        context.route(re.compile(r"^(?!file:|data:|blob:|about:)"), lambda r: r.abort())
        browser.page.on("request", lambda r: None if r.url.startswith(_LOCAL)
                        else browser.outside.append(r.url))
        try:
            yield browser
        finally:
            context.close()
