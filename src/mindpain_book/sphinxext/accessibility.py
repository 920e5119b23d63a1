"""Accessibility: alt text for every image, and fixes of the theme's HTML for axe-core.

Every image gets alt text: the ``:alt:`` of its figure directive, else its caption (an
image with neither is a build warning, so ``-W`` fails). The written HTML of the theme,
myst-nb and the bibliography is fixed where axe-core finds a violation (:data:`HTML_FIXES`):
buttons whose name differs from what they show, unfocusable scrolling tables, content
outside a landmark, roles the elements may not have.
"""

from __future__ import annotations

import re
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    head, sep, _ = text.partition(". ")
    return head + "." if sep else text


class ImageAltText(SphinxTransform):
    """Give every image alt text: its figure's ``:alt:``, else the figure's caption."""

    default_priority = 410

    def apply(self, **kwargs) -> None:  # noqa: D102 (see the class)
        for image in self.document.findall(nodes.image):
            if image.get("alt", "").strip():
                continue
            figure = image.parent
            while figure is not None and not isinstance(figure, nodes.figure):
                figure = figure.parent
            captions = [] if figure is None else list(figure.findall(nodes.caption))
            if captions:
                image["alt"] = _first_sentence(captions[0].astext())
            else:
                logger.warning("image %s has neither alt text nor a caption; add `:alt:`",
                               image.get("uri", "?"), location=image)


#: Fixes of the written HTML for axe-core (axe-core 4.14, :mod:`mindpain_book.axe`), as
#: ``(regular expression, replacement)``:
#:
#: - the theme's collapsible navigation entries (``<summary>`` with only an icon) get a name;
#: - the theme's search field buttons show "Search Ctrl+K" but were labelled "Search"
#:   (``label-content-name-mismatch``): their name now comes from what they show;
#: - the colour-mode button's icons carry titles ("Light", "Dark"; Font Awesome turns them
#:   into SVG ``<title>`` text) that are not its label "Color mode"
#:   (``label-content-name-mismatch``): the icons lose their titles and are hidden from
#:   assistive technology, the button keeps its label;
#: - myst-nb's "Show code cell source" toggles were labelled "Toggle hidden content"
#:   (``label-content-name-mismatch``): their name now comes from what they show;
#: - a table output that scrolls sideways on a narrow screen can be focused (and so scrolled)
#:   from the keyboard (``scrollable-region-focusable``);
#: - the primary sidebar (the book's title, search and table of contents) is a navigation
#:   landmark, so no content lies outside a landmark (``region``);
#: - the bibliography's citation list drops ``role="list"`` (its entries are not list items)
#:   and its entries the deprecated ``role="doc-biblioentry"`` (``aria-allowed-role``,
#:   ``aria-deprecated-role``).
HTML_FIXES = (
    (r'<summary><span class="toctree-toggle" role="presentation">',
     '<summary aria-label="Show or hide the pages of this section">'
     '<span class="toctree-toggle" role="presentation">'),
    (r'(<button class="btn search-button-field search-button__button[^"]*" title="Search") '
     r'aria-label="Search"', r"\1"),
    (r'(<i class="theme-switch [^"]*" data-mode="\w+")\s+title="[^"]*"', r'\1 aria-hidden="true"'),
    (r'<summary aria-label="Toggle hidden content">', "<summary>"),
    (r'<div class="output text_html">(?=(?:(?!<iframe|<img|<div class="output).){0,20000}?'
     r"<table)", '<div class="output text_html" tabindex="0">'),
    (r'<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar">',
     '<div id="pst-primary-sidebar" class="bd-sidebar-primary bd-sidebar" role="navigation" '
     'aria-label="Book">'),
    (r'<div role="list" class="citation-list">', '<div class="citation-list">'),
    (r'(<div class="citation" id="[^"]*") role="doc-biblioentry"', r"\1"),
)
_FIXES = tuple((re.compile(pattern, flags=re.S), new) for pattern, new in HTML_FIXES)


def fix_html(text: str) -> str:
    """Apply :data:`HTML_FIXES` to one page's HTML (idempotent)."""
    for pattern, new in _FIXES:
        text = pattern.sub(new, text)
    return text


def _fix_html(app, exception) -> None:
    """Apply :data:`HTML_FIXES` to every written page."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = fix_html(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    """Register the alt-text transform and the HTML fixes with Sphinx."""
    app.add_transform(ImageAltText)
    app.connect("build-finished", _fix_html)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
