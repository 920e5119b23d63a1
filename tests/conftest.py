"""Shared fixtures: a seeded rng, the data directory, and one small twin per test run.

``make test`` runs the suite on both cores (pytest-xdist, ``-n 2 --dist loadfile``): each
worker is its own process, so a session fixture would be made once per worker. The twins
are therefore made in the run's shared temporary folder, under the package's own folder
lock (:func:`mindpain.folders.folder_lock`, taken by ``generate_twin``): the first worker
generates a twin, the other waits and finds it current. Test files are handed to the workers
longest first (:data:`HEAVY_FIRST`), so the build of the book does not start last.

Every test that uses a session twin is marked ``twin``; ``make check`` (the quick tier) leaves
out those and the ``slow`` ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_SEED = 20220701

#: Fixtures that need a session twin: a test using one (directly or through another
#: fixture) is marked ``twin``.
TWIN_FIXTURES = ("small_twin", "ideal_twin")

#: Test files in the order the workers should take them: the longest first (measured with
#: ``pytest --durations``, see benchmarks/results.md); the others follow in their usual order.
HEAVY_FIRST = ("test_book.py", "test_own_data.py", "test_multiverse.py", "test_first_level.py",
               "test_endtoend.py", "test_design.py", "test_safety_first_level.py")

if not os.environ.get("MINDPAIN_DATA") and SHARED_DATA.is_dir():
    os.environ["MINDPAIN_DATA"] = str(SHARED_DATA)


def pytest_collection_modifyitems(config, items):
    """Mark the tests that use a session twin; put the longest test files first."""
    for item in items:
        if any(name in getattr(item, "fixturenames", ()) for name in TWIN_FIXTURES):
            item.add_marker(pytest.mark.twin)
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: keeps the rest


def _run_root(tmp_path_factory) -> Path:
    """The temporary folder every worker of this run shares (the run's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture
def rng():
    """A seeded random generator (a fresh one per test)."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def small_twin(tmp_path_factory) -> Path:
    """The small twin, generated once per test run (seed fixed), shared by the workers."""
    from mindpain.twin import generate_twin

    out = _run_root(tmp_path_factory) / "shared-twin" / "twin-small"
    return generate_twin(out, preset="small", seed=TEST_SEED, if_current=True, n_jobs=2,
                         progress=False)


@pytest.fixture(scope="session")
def ideal_twin(tmp_path_factory) -> Path:
    """The small twin in the ideal world (BOLD made by the analysis model), once per run."""
    from mindpain.twin import generate_twin

    out = _run_root(tmp_path_factory) / "shared-twin-ideal" / "twin-small-ideal"
    return generate_twin(out, preset="small", seed=TEST_SEED, world="ideal", if_current=True,
                         n_jobs=2, progress=False)
