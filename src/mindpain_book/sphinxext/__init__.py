"""Sphinx extension for the reader's side of the book: offline, numbered, accessible.

``_config.yml`` loads ``mindpain_book.sphinxext``; its :func:`setup` loads one extension per
concern:

:mod:`~mindpain_book.sphinxext.offline`
    MathJax 3 copied from the installed wheel into ``_static/mathjax``; the Thebe loader
    that Jupyter Book 1 adds to every page (a script on unpkg.com) dropped.
:mod:`~mindpain_book.sphinxext.tables`
    A glued table (``{glue:figure}`` of a DataFrame) is numbered with the tables
    ("Table 4.2") rather than the figures.
:mod:`~mindpain_book.sphinxext.layout`
    The book's style sheet: on a phone no page scrolls sideways; wide tables and outputs
    scroll in their own box, figures scale to the column.
:mod:`~mindpain_book.sphinxext.search`
    The search lists the chapters first, the book's other pages next, the API reference last.
:mod:`~mindpain_book.sphinxext.citations`
    Author-year citations in round brackets ("(Wielgosz et al., 2022)").
:mod:`~mindpain_book.sphinxext.accessibility`
    Every image gets alt text (its figure's ``:alt:``, else its caption; neither is a build
    warning, so ``-W`` fails); icon-only navigation toggles get an accessible name and the
    citation list loses a wrong ``role="list"``.
:mod:`~mindpain_book.sphinxext.apidocs`
    The API reference pages, written before each build; docstring headings as rubrics,
    ``|x|`` escaped.
:mod:`~mindpain_book.sphinxext.downloads`
    Results tables (``mindpain_table_downloads`` in ``_config.yml``) offered as TSV and JSON
    under the chapter that shows them; each executed chapter ends with links to its source
    and to the executed notebook.
:mod:`~mindpain_book.sphinxext.report`
    The reproducibility report's directives (``mindpain-commit``, ``mindpain-environment``,
    ``mindpain-signatures``, ``mindpain-manifest``, ``mindpain-results``,
    ``mindpain-execution``, ``mindpain-reproduction``); the page that uses them is read
    last and on every build.
"""

from __future__ import annotations

import gc

#: The garbage collector's thresholds while Sphinx builds the book (Python's default:
#: 700, 10, 10). Sphinx and docutils allocate millions of small objects that live until the
#: build ends, so at the default every few hundred allocations start a young collection and
#: the full collections come often and walk the whole heap: in the small twin's build they
#: took 27 of jupyter-book's 60 CPU seconds. Young collections every 10,000 allocations:
#: 54 -> 40-41 CPU s for the same build, peak memory 630 -> 640-655 MB; switching the
#: collector off saved 6 CPU s more but took 1.85 GB (benchmarks/results.md, session 15).
GC_THRESHOLDS = (10_000, 10, 10)

#: The extensions :func:`setup` loads, in this order.
EXTENSIONS = ("offline", "tables", "layout", "search", "citations", "accessibility", "apidocs",
              "downloads", "report")


def setup(app):
    """Register the extension with Sphinx (each part as its own extension).

    Also sets the collector's thresholds for the rest of the build (:data:`GC_THRESHOLDS`).
    """
    gc.set_threshold(*GC_THRESHOLDS)
    for name in EXTENSIONS:
        app.setup_extension(f"{__name__}.{name}")
    return {"version": "2", "parallel_read_safe": False, "parallel_write_safe": True}
