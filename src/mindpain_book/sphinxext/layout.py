"""Layout on every screen: the book's style sheet, ``static/mindpain.css``, and its sidebar.

At a phone's width (390 px) no page scrolls sideways: wide tables, outputs and display math
scroll inside their own box, figures and viewer frames scale to the column, and long file
names wrap. The style sheet is served from this package's ``static`` folder (CSS only: Jupyter
Book 1 adds every ``.js`` file of a static folder to every page).

The sidebar shows the book's parts and chapters only (the theme's ``collapse_navbar``, and
``max_navbar_depth`` 1): the API reference's module pages are reached from its index, which
lists them by section, and from each other by the previous/next links, not from a sidebar
of over a hundred modules. With every page's whole tree, a screen reader met over a hundred
links before the text and rendering them was the largest part of the site's build time;
with the API branch open on the API pages, that branch was still 57% of their elements
(axe-core's contrast check walks each of them: benchmarks/results.md, session 15).
"""

from __future__ import annotations

from pathlib import Path

#: The folder added to ``html_static_path``, and the style sheet in it.
STATIC = Path(__file__).with_name("static")
STYLESHEET = "mindpain.css"


def _add_static(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))
    # Jupyter Book 1 makes html_theme_options from _config.yml's html section; add to it.
    config.html_theme_options.setdefault("collapse_navbar", True)
    config.html_theme_options.setdefault("max_navbar_depth", 1)


def setup(app):
    """Register the style sheet (and the collapsed sidebar) with Sphinx."""
    app.connect("config-inited", _add_static)
    app.add_css_file(STYLESHEET)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
