"""Layout on every screen: the book's style sheet, ``static/mindpain.css``.

At a phone's width (390 px) no page scrolls sideways: wide tables, outputs and display math
scroll inside their own box, figures and viewer frames scale to the column, and long file
names wrap. The style sheet is served from this package's ``static`` folder (CSS only: Jupyter
Book 1 adds every ``.js`` file of a static folder to every page).
"""

from __future__ import annotations

from pathlib import Path

#: The folder added to ``html_static_path``, and the style sheet in it.
STATIC = Path(__file__).with_name("static")
STYLESHEET = "mindpain.css"


def _add_static(app, config) -> None:
    if str(STATIC) not in config.html_static_path:
        config.html_static_path.append(str(STATIC))


def setup(app):
    """Register the style sheet with Sphinx."""
    app.connect("config-inited", _add_static)
    app.add_css_file(STYLESHEET)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
