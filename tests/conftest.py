"""Shared fixtures: a seeded rng, the data directory, and one small twin per session."""

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

if not os.environ.get("MINDPAIN_DATA") and SHARED_DATA.is_dir():
    os.environ["MINDPAIN_DATA"] = str(SHARED_DATA)


@pytest.fixture
def rng():
    """A seeded random generator (a fresh one per test)."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def small_twin(tmp_path_factory) -> Path:
    """The small twin, generated once per test session (seed fixed)."""
    from mindpain.twin import generate_twin

    out = tmp_path_factory.mktemp("twin") / "twin-small"
    return generate_twin(out, preset="small", seed=TEST_SEED, n_jobs=2, progress=False)


@pytest.fixture(scope="session")
def ideal_twin(tmp_path_factory) -> Path:
    """The small twin in the ideal world (BOLD made by the analysis model), once per session."""
    from mindpain.twin import generate_twin

    out = tmp_path_factory.mktemp("twin-ideal") / "twin-small-ideal"
    return generate_twin(out, preset="small", seed=TEST_SEED, world="ideal", n_jobs=2,
                         progress=False)
