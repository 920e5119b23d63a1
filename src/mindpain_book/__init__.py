"""Book tooling, apart from the science package: build helpers and the Sphinx extension.

:mod:`~mindpain_book.buildtools`
    What the Makefile calls (``python -m mindpain_book.buildtools <command>``): the command
    line over the modules below.
:mod:`~mindpain_book.execution`
    The build cache key (``prepare-book``), the data staged before the chapters
    (``stage-data``) and the chapters executed side by side (``execute``).
:mod:`~mindpain_book.reproducibility`
    The reproducibility report's data: commit, environment, BLAS, data manifest, checksums.
:mod:`~mindpain_book.api`
    The API reference pages, one per module (``api-pages``).
:mod:`~mindpain_book.sitecheck`
    Checks of the built site: offline, alt text, frame titles, figure numbers, axe-core
    (``check-site``).
:mod:`~mindpain_book.verify`
    The results tables built twice from scratch and compared byte for byte (``verify``).
:mod:`~mindpain_book.table_record`
    The full preset's result tables held against recorded checksums
    (``python -m mindpain_book.table_record check|record``).
:mod:`~mindpain_book.table_compare`
    The result tables held against the published reference values within per-column
    tolerances, for a build on another machine (``make reproduce-check``).
:mod:`~mindpain_book.glue`
    The chapters' one way to glue a piece of Markdown text into their prose.
:mod:`~mindpain_book.sphinxext`
    The book's Sphinx extension (``_config.yml``), one part per concern: offline MathJax,
    tables numbered as tables, alt text and HTML fixes, the API pages, downloads and the
    report page.

Installed with the package (``pip install -e .``); nothing in :mod:`mindpain` imports it.
"""
