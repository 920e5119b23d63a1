"""Search ranking: a search for a concept lists the chapters first, the API reference last.

Sphinx's full-text search weights a match in an object's name (``mindpain.signatures.NPS…``)
above a match in a chapter's text, so a search for "NPS" listed API pages before any chapter.
``search_scorer.js`` (Sphinx's ``html_search_scorer``, inlined into ``language_data.js``, so
no script is added to ``_static``) keeps Sphinx's weights within three tiers shown in this
order: the chapters, the book's other pages, the API reference.
"""

from __future__ import annotations

from pathlib import Path

#: The scorer, a JavaScript file read by Sphinx when it writes the search index.
SCORER = Path(__file__).with_name("search_scorer.js")


def _use_scorer(app, config) -> None:
    if not config.html_search_scorer:
        config.html_search_scorer = str(SCORER)


def setup(app):
    """Register the search scorer with Sphinx (unless ``html_search_scorer`` is set)."""
    app.connect("config-inited", _use_scorer)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
