"""Every fact of the study's vocabulary has one definition: :mod:`mindpain.core.vocabulary`.

The test reads the package's source (it runs nothing) and fails where a module types a
vocabulary fact again: a scalar fact (:data:`SCALARS`: the task label, the default seed, the
framewise-displacement column, the twin's confounds folder), or a literal tuple, list, set or
dict whose content is one of the vocabulary's collections (arms, groups, sessions, outcomes,
contrasts, labels, presets, worlds, metrics, trial types, motion parameters). Subsets are
choices of an analysis (e.g. the two outcomes of the multiverse) and are allowed.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from mindpain.core import vocabulary

PACKAGE = Path(vocabulary.__file__).parents[1]
#: Scalar facts found by exact value (strings and ints whose value only they can mean).
SCALARS = ("TASK", "DEFAULT_SEED", "FRAMEWISE_DISPLACEMENT", "TWIN_CONFOUNDS_DIR")
#: Every module of the source tree (the package and the book tooling beside it).
SOURCES = sorted(p for p in PACKAGE.parent.rglob("*.py") if p != Path(vocabulary.__file__))


def _collections() -> dict[str, object]:
    """Vocabulary names whose value is a collection of at least two strings, or a dict."""
    out = {}
    for name in dir(vocabulary):
        value = getattr(vocabulary, name)
        if name.isupper() and isinstance(value, (tuple, dict)) and len(value) >= 2:
            out[name] = value
    return out


def _literal(node):
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def _same_fact(value, fact) -> bool:
    if isinstance(fact, dict):
        return isinstance(value, dict) and value == fact
    return (isinstance(value, (tuple, list, set, frozenset)) and len(value) == len(fact)
            and all(isinstance(v, str) for v in value) and set(value) == set(fact))


def duplicates(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    """Places in ``path`` that type a vocabulary fact again (``file:line: NAME``)."""
    facts = _collections()
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Constant):
            found += [f"{where}: {name}" for name in SCALARS
                      if type(node.value) is type(getattr(vocabulary, name))
                      and node.value == getattr(vocabulary, name)]
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set, ast.Dict)):
            value = _literal(node)
            if value is None:
                continue
            names = [name for name, fact in facts.items() if _same_fact(value, fact)]
            found += [f"{where}: {' = '.join(names)}"] if names else []
    return found


def test_sources_are_found():
    assert len(SOURCES) > 20
    assert PACKAGE / "trial" / "analysis.py" in SOURCES
    assert PACKAGE.parent / "mindpain_book" / "glue.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE.parent)))
def test_no_vocabulary_fact_is_typed_twice(path):
    found = duplicates(path)
    assert not found, f"{found}: import these from mindpain.core.vocabulary instead"


def test_the_detector_finds_a_copy(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('ARMS = ("WL", "MBSR", "HEP")\nTASK = "heat"\nLABELS = '
                     + repr(vocabulary.OUTCOME_LABELS) + "\nSUBSET = ('nps', 'siips1')\n"
                     + "WORLDS = ['realistic', 'ideal']\nFD = 'framewise_displacement'\n"
                     + "SEED = 20220701\nNOT_SEED = 20220701.0\n")
    found = sorted(line.split(": ", 1)[1] for line in duplicates(probe, root=tmp_path))
    assert found == ["ARMS = NAIVE_GROUPS", "DEFAULT_SEED", "FRAMEWISE_DISPLACEMENT",
                     "OUTCOME_LABELS", "TASK", "WORLDS"]


def test_vocabulary_imports_nothing_heavy():
    tree = ast.parse(Path(vocabulary.__file__).read_text())
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imports)
