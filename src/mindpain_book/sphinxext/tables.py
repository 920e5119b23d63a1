"""Tables numbered as tables.

A glued table (``{glue:figure}`` of a DataFrame) arrives as a figure; it becomes a
:class:`table_figure`, numbered with the tables ("Table 4.2") rather than the figures.
"""

from __future__ import annotations

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.writers.html5 import HTML5Translator


class table_figure(nodes.figure):  # noqa: N801 (docutils names node classes in lower case)
    """A glued table: rendered like a figure, numbered with the tables."""


def _holds_table(figure: nodes.Element) -> bool:
    if any(True for _ in figure.findall(nodes.image)):
        return False
    if any(True for _ in figure.findall(nodes.table)):
        return True
    return any("<table" in raw.astext() and "<iframe" not in raw.astext()
               for raw in figure.findall(nodes.raw))


class TableFigures(SphinxTransform):
    """Turn figures that hold a table (and no image) into :class:`table_figure` nodes."""

    default_priority = 400

    def apply(self, **kwargs) -> None:  # noqa: D102 (see the class)
        for figure in list(self.document.findall(nodes.figure)):
            if type(figure) is not nodes.figure or not _holds_table(figure):
                continue
            table = table_figure(figure.rawsource, *figure.children, **figure.attributes)
            table.source, table.line = figure.source, figure.line
            figure.replace_self(table)
            for node_id in table["ids"]:
                self.document.ids[node_id] = table


def setup(app):
    """Register the table node (numbered as ``table``) and its transform with Sphinx."""
    app.add_enumerable_node(table_figure, "table",
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.add_transform(TableFigures)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
