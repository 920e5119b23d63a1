"""Citations by author and year, in round brackets: "(Wielgosz et al., 2022)".

sphinxcontrib-bibtex's ``author_year`` style puts citations in square brackets. This module
registers ``author_year_round``, the same style with round brackets, which ``_config.yml``
selects (``bibtex_reference_style``): ``{cite:p}`` (and ``{cite}``) gives "(Wielgosz et al.,
2022)", ``{cite:t}`` gives "Wielgosz et al. (2022)". The reference list is sorted by author;
its alphabetic labels ("[WKP+22]"), which no citation shows any more, are hidden by the
book's style sheet.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sphinxcontrib.bibtex.plugin import register_plugin
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle

#: The style's name, for ``bibtex_reference_style``.
STYLE = "author_year_round"


def _round() -> BracketStyle:
    return BracketStyle(left="(", right=")")


@dataclass
class RoundAuthorYearStyle(AuthorYearReferenceStyle):
    """sphinxcontrib-bibtex's author-year citations with round brackets."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round)
    bracket_textual: BracketStyle = field(default_factory=_round)
    bracket_author: BracketStyle = field(default_factory=_round)
    bracket_label: BracketStyle = field(default_factory=_round)
    bracket_year: BracketStyle = field(default_factory=_round)


def setup(app):
    """Register the citation style with sphinxcontrib-bibtex."""
    register_plugin("sphinxcontrib.bibtex.style.referencing", STYLE, RoundAuthorYearStyle)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
