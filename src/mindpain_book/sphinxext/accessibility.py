"""Accessibility: alt text for every image, and fixes of the theme's HTML for axe-core.

Every image gets alt text: the ``:alt:`` of its figure directive, else its caption (an
image with neither is a build warning, so ``-W`` fails). The theme's collapsible navigation
entries (``<summary>`` with only an icon) get an accessible name; the bibliography's
citation list loses a wrong ``role="list"`` (:data:`HTML_FIXES`).
"""

from __future__ import annotations

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


#: Fixes of the written HTML for axe-core: icon-only navigation toggles get a name; docutils'
#: citation list drops ``role="list"`` (its entries are not list items, which axe flags).
HTML_FIXES = (
    ('<summary><span class="toctree-toggle" role="presentation">',
     '<summary aria-label="Show or hide the pages of this section">'
     '<span class="toctree-toggle" role="presentation">'),
    ('<div role="list" class="citation-list">', '<div class="citation-list">'),
)


def _fix_html(app, exception) -> None:
    """Apply :data:`HTML_FIXES` to every written page (idempotent)."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = fixed = page.read_text(encoding="utf-8")
        for old, new in HTML_FIXES:
            fixed = fixed.replace(old, new)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    """Register the alt-text transform and the HTML fixes with Sphinx."""
    app.add_transform(ImageAltText)
    app.connect("build-finished", _fix_html)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
