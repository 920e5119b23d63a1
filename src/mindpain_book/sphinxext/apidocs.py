"""The API reference: its pages written before each build, docstrings fitted to them.

The pages (:mod:`mindpain_book.api`) are written when the configuration is read, before
sphinx-external-toc expands the table of contents; autodoc's docstrings get their free
section headings as rubrics and their ``|x|`` escaped.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.util import logging

from mindpain_book.api import write_api_pages

logger = logging.getLogger(__name__)


def _rubric_headings(app, what, name, obj, options, lines) -> None:
    """Turn section headings left in a docstring after napoleon into rubrics.

    Module docstrings use free sections ("Multiplicity", "Outputs"); as real sections they
    would nest headings inside the API page and collide as labels across pages.
    """
    i = 0
    while i < len(lines) - 1:
        title, rule = lines[i].strip(), lines[i + 1].strip()
        if (title and rule and len(set(rule)) == 1 and rule[0] in "-=~^"
                and len(rule) >= len(title) and not title.startswith("..")):
            lines[i:i + 2] = [f".. rubric:: {title}", ""]
        i += 1


_BARS = re.compile(r"(?<![\\\w])\|(\S[^|]*?\S|\S)\|(?![\w_])")


def _escape_bars(app, what, name, obj, options, lines) -> None:
    """Escape ``|x|`` (absolute values in prose) so reST does not read a substitution.

    Text inside backticks (code, math roles) is left as it is.
    """
    for i, line in enumerate(lines):
        if "|" not in line or line.lstrip().startswith(("|", "+")):
            continue
        parts = re.split(r"(`+[^`]*`+)", line)
        lines[i] = "".join(part if part.startswith("`") else _BARS.sub(r"\\|\1\\|", part)
                           for part in parts)


def _api_pages(app, config) -> None:
    """Write the API reference pages (one per module) before the table of contents is read."""
    folder = Path(app.srcdir) / "book" / "api"
    if folder.is_dir():
        for path in write_api_pages(folder):
            logger.info("API page written: %s", path.name)


def setup(app):
    """Register the API pages and the docstring fixes with Sphinx."""
    # Before sphinx-external-toc expands the toc's globs (its config-inited handler).
    app.connect("config-inited", _api_pages, priority=100)
    app.connect("autodoc-process-docstring", _rubric_headings, priority=600)
    app.connect("autodoc-process-docstring", _escape_bars, priority=610)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
