"""Book tooling, apart from the science package: build helpers and the Sphinx extension.

:mod:`~mindpain_book.buildtools`
    What the Makefile calls: build-cache keys, the reproducibility report, site checks,
    API pages and ``verify`` (results tables built twice, compared byte for byte).
:mod:`~mindpain_book.sphinxext`
    The book's Sphinx extension (``_config.yml``): result-table downloads, the report page,
    offline MathJax and HTML fixes.

Installed with the package (``pip install -e .``); nothing in :mod:`mindpain` imports it.
"""
