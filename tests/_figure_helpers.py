"""Helper shared by the figure tests: a figure fits the book's column and its text is legible."""

from __future__ import annotations

from mindpain.figures.style import COLUMN_PX, MIN_FONT_PX, legibility


def assert_legible(fig) -> dict:
    """Assert the figure is at most the column's width and no text is below 8 px there."""
    measured = legibility(fig)
    assert measured["width_px"] <= COLUMN_PX + 1e-6, f"wider than the column: {measured}"
    assert measured["min_font_px"] >= MIN_FONT_PX, f"text too small: {measured}"
    return measured
