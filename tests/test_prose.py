"""Every number in the chapters' prose comes from computation (myst-nb glue), not typing.

Markdown cells are stripped of roles (``{glue:text}`...```), code spans, math, links and
directive blocks; what remains may hold no number except conventions listed below (a 95%
interval, chapter numbers, AR(1), definitions such as "exactly 0").
"""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.md"))
STRIP = [re.compile(p, re.S) for p in (r"```.*?```", r"\{[a-z:-]+\}`[^`]*`", r"`[^`]*`",
                                        r"\$\$.*?\$\$", r"\$[^$\n]*\$", r"\]\([^)]*\)")]
# Conventions, not results: nominal levels, definitions, names and cross-references.
ALLOWED = re.compile(
    r"95 ?%|95 ± 3 ?%|[Cc]hapters? \d|AR\(1\)|exactly 0|is 0|are 0|NaN → 0|NaN or 0"
    r"|NaN set to 0|become 0|below 1/3|above 3|collection 1425|rate of 5 ?%|at 5 ?%"
    r"|0[–-]100|\b0 \(|to 0\b|of 0\b|norm is 0|\b1/ "
)
NUMBER = re.compile(r"(?<![\w.\-/])[-−±]?\d+(?:[.,]\d+)?(?![\w])")


def typed_numbers(text: str) -> list[str]:
    """Numbers left in markdown prose once glue, code, math and conventions are removed."""
    for pattern in STRIP:
        text = pattern.sub(" ", text)
    found = []
    for line in text.splitlines():
        if line.lstrip().startswith((":", "#")):
            continue
        line = ALLOWED.sub(" ", line)
        found += [f"{m.group()!r} in {line.strip()[:90]!r}" for m in NUMBER.finditer(line)]
    return found


def test_the_checker_flags_a_typed_number():
    assert typed_numbers("MBSR reduced the NPS by d = -0.43 in 28 people.")
    assert not typed_numbers("MBSR reduced it by d = {glue:text}`d_mbsr:.2f`, 95% CI.")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_typed_numbers_in_prose(path):
    cells = [c.source for c in jupytext.read(path).cells if c.cell_type == "markdown"]
    found = [hit for cell in cells for hit in typed_numbers(cell)]
    assert found == [], "\n".join(found)
