"""Shared fixtures: a seeded rng, the data directory, and one small twin per test run.

``make test`` runs the suite on both cores (pytest-xdist, ``-n 2 --dist loadscope``: a work
unit is a test file, or a test class, as each chapter of ``test_own_data.py`` is): each
worker is its own process, so a session fixture would be made once per worker. The twins,
the book's build, the user-dataset copies and the chapters' work folder are therefore made
in the run's shared temporary folder, under the package's own folder lock
(:func:`mindpain.core.folders.folder_lock`, taken by ``generate_twin``): the first worker
makes one, the other waits and finds it made. Units are handed to the workers longest
first (:data:`HEAVY_FIRST`), so the build of the book does not start last.

``make check`` (the quick tier, lint and unit tests) leaves out the ``slow`` tests and the
``heavy`` ones: every test that uses a session twin, and the tests of :data:`HEAVY` (the
costliest others, by CPU seconds measured with ``benchmarks/cpu_durations.py``).
``make test`` runs them all.
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from mindpain.twin.params import load_parameters

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
TEST_SEED = 20220701

#: Fixtures that need a session twin: a test using one (directly or through another
#: fixture) is marked ``heavy``.
TWIN_FIXTURES = ("small_twin", "ideal_twin")

#: Other tests marked ``heavy`` (node-id prefixes: a file, a test, all its parameters), with
#: their CPU seconds on the benchmark machine (benchmarks/results.md, quick tier): together
#: about 190 of the 270 CPU seconds that the tests neither slow nor using a twin took.
HEAVY = {
    "tests/test_endtoend.py": "end-to-end replications through BOLD and first level (45 s)",
    "tests/test_twin_realism.py": "realistic runs simulated and fitted (22 s)",
    "tests/test_safety_twin.py::test_two_processes_making_one_twin_at_once_both_succeed":
        "two processes generate a twin (22 s)",
    "tests/test_twin.py::test_measurement_noise_matches_the_participant_level_model":
        "simulates many participants (15 s)",
    "tests/test_twin.py::test_patterns_are_built_without_any_signature_map": "builds the "
        "twin's patterns (10 s)",
    "tests/test_buildtools.py::test_parallel_execution_is_reused_by_jupyter_book":
        "runs jupyter-book (14 s)",
    "tests/test_trial.py::test_analysis_is_deterministic_and_ignores_ltm": "13 s",
    "tests/test_trial.py::test_mixedlm_agrees_with_independent_estimates": "8 s",
    "tests/test_trial.py::test_small_preset_copes": "5 s",
    "tests/test_score_cli.py::test_30000_paths_from_file": "8 s",
    "tests/test_multiverse.py::test_batched_models_match_the_trial_stage": "8 s",
    "tests/test_safety_cli.py::test_no_traceback_in_a_real_process": "a process each (15 s)",
    "tests/test_twin_dropout.py::test_one_dropout_is_chosen_with_probability_proportional":
        "4 s",
    "tests/test_meditators.py::test_analysis_is_deterministic": "4 s",
    "tests/test_meditators.py::test_dose_response_matches_statsmodels_and_pingouin": "4 s",
    "tests/test_evidence.py::test_tost_decision_equals_the_90_percent_interval": "3 s",
}

#: Work units in the order the workers should take them, the longest first (measured with
#: ``pytest --durations``, see benchmarks/results.md); the others follow in their usual order.
#: A unit (:func:`work_unit`) is a test file, or a test class: ``test_own_data.py`` has one
#: class per chapter, so its chapters are units of their own. The units that read the build
#: (the checks of the built site, ``test_book_axe*.py``, and the multiverse where the build
#: ran it) come after the chapters on a user's dataset, so a worker takes them once the book
#: is built (:func:`book_build`), not to wait for it. Chapter 2 goes first (it
#: fits both copies' first level, which the others read) and chapter 4 last: by then the
#: book's build has left the small end-to-end replications in the shared work folder.
HEAVY_FIRST = ("test_book.py", "test_own_data.py::TestChapter02",
               "test_own_data.py::TestChapter03", "test_own_data.py::TestChapter01",
               "test_own_data.py::TestChapter05", "test_own_data.py::TestChapter06",
               "test_own_data.py::TestChapter04", "test_book_axe_api.py", "test_book_axe.py",
               "test_multiverse.py::TestOnTheBooksBuild",
               "test_first_level.py", "test_endtoend.py",
               "test_design.py", "test_safety_first_level.py")


def work_unit(item) -> str:
    """The work unit of a test: its file's name, or ``file::Class`` for a test class.

    ``make test`` hands whole units to its workers (pytest-xdist ``--dist loadscope``: a
    module's functions, or one class), so a unit's module fixtures are made once.
    """
    cls = getattr(item, "cls", None)
    return item.path.name + (f"::{cls.__name__}" if cls is not None else "")


if not os.environ.get("MINDPAIN_DATA") and SHARED_DATA.is_dir():
    os.environ["MINDPAIN_DATA"] = str(SHARED_DATA)


def pytest_configure(config):
    """Collect garbage less often in the test processes, as the book's build does
    (:data:`mindpain_book.sphinxext.GC_THRESHOLDS`): a worker holds a large heap (every
    module of the stack, the built site's pages). Measured over a full run (benchmarks/results.md,
    session 15): all collections in the test processes took 42 of their 262 CPU seconds
    before, most of them statsmodels' explicit ones (:mod:`mindpain.stats.multiplicity`), and
    10 of 272 with these thresholds and without those."""
    from mindpain_book.sphinxext import GC_THRESHOLDS

    gc.set_threshold(*GC_THRESHOLDS)


def pytest_collection_modifyitems(config, items):
    """Mark the heavy tests (a session twin, :data:`HEAVY`); put the longest work units
    (:func:`work_unit`) first."""
    for item in items:
        if (any(name in getattr(item, "fixturenames", ()) for name in TWIN_FIXTURES)
                or any(item.nodeid.startswith(prefix) for prefix in HEAVY)):
            item.add_marker(pytest.mark.heavy)
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item), len(rank)))  # stable: keeps the rest


def _run_root(tmp_path_factory) -> Path:
    """The temporary folder every worker of this run shares (the run's own without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture
def rng():
    """A seeded random generator (a fresh one per test)."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def small_twin(shared_work) -> Path:
    """The small twin, generated once per test run (seed fixed), shared by the workers.

    It is the twin of the work folder :func:`shared_work` (``twin-small``, the realistic
    world, :data:`TEST_SEED`), where the book's build (:func:`book_build`) looks for it, so
    the build finds it made (``generate_twin(..., if_current=True)``) instead of making a
    second one.
    """
    from mindpain.twin import generate_twin

    return generate_twin(shared_work / "twin-small", preset="small", seed=TEST_SEED,
                         if_current=True, n_jobs=2, progress=False)


def twin_run_in_memory(twin: Path, session: str, run: int, world: str = "realistic"):
    """One run of the small twin ``twin`` (written by ``mindpain twin``): its BIDS run spec
    and the same run made again in memory (:func:`mindpain.twin.run.make_run`).

    Returns
    -------
    tuple
        ``(spec, data)``: the first subject's run ``run`` of ``session`` as
        :func:`mindpain.bids.find_runs` lists it, and its simulated data.
    """
    from mindpain import bids
    from mindpain.pipeline import twin_confounds_dir
    from mindpain.twin.participants import draw_participants, draw_truth
    from mindpain.twin.run import make_run

    specs = bids.find_runs(twin, confounds_dir=twin_confounds_dir(twin))
    spec = next(s for s in specs if s.session == session and s.run == run)
    params = load_parameters("small", world)
    participants = draw_participants(params, TEST_SEED)
    truth = draw_truth(participants, params, TEST_SEED)
    pid = f"sub-{spec.subject}"
    rec = truth[(truth.participant_id == pid) & (truth.session == session)].iloc[0].to_dict()
    hot = participants.set_index("participant_id").loc[pid, "hot_temperature"]
    return spec, make_run(params, TEST_SEED, rec, run, float(hot))


@pytest.fixture(scope="session")
def ideal_twin(tmp_path_factory) -> Path:
    """The small twin in the ideal world (BOLD made by the analysis model), once per run."""
    from mindpain.twin import generate_twin

    out = _run_root(tmp_path_factory) / "shared-twin-ideal" / "twin-small-ideal"
    return generate_twin(out, preset="small", seed=TEST_SEED, world="ideal", if_current=True,
                         n_jobs=2, progress=False)


def _made_once(folder: Path, make) -> Path:
    """``folder``, made by ``make(folder)`` once per test run for every worker.

    The first worker to ask makes it under the package's folder lock
    (:func:`mindpain.core.folders.folder_lock`) and marks it ``MADE``; the others wait and
    find it made. A failure is recorded (``FAILED``, with its message), so every worker that
    asks fails with it instead of making the folder again; a folder left half-made by an
    interrupted maker (in this run's own temporary folder) is made anew.
    """
    from mindpain.core.folders import folder_lock

    with folder_lock(folder):
        if not (folder / "MADE").is_file() and not (folder / "FAILED").is_file():
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            try:
                make(folder)
                (folder / "MADE").write_text("made\n")
            except Exception as err:
                (folder / "FAILED").write_text(str(err))
    if (folder / "FAILED").is_file():
        pytest.fail((folder / "FAILED").read_text())
    return folder


def _build_book(out: Path, work: Path) -> Path:
    """Build the whole book on the small twin into ``out`` (as ``make book`` does).

    ``work`` is its work folder (the twin, its derivatives, the caches).

    The data first, then the chapters two at a time into the build's execution cache, from
    which jupyter-book renders (a chapter that fails there is run again by jupyter-book,
    which reports its error). Returns the site (``out/_build/html``); raises
    :class:`RuntimeError` with the build's output when a step fails.
    """
    import subprocess
    import sys

    # The twin of the work folder is the session's (:func:`small_twin`): the same preset,
    # seed and world, whatever the caller's environment says.
    env = dict(os.environ, MINDPAIN_PRESET="small", MINDPAIN_SEED=str(TEST_SEED),
               MINDPAIN_WORK=str(work), MINDPAIN_RESULTS=str(out / "results"), MPLBACKEND="Agg")
    for name in ("MINDPAIN_BIDS", "MINDPAIN_WORLD", "MINDPAIN_FMRIPREP", "MINDPAIN_DATASET_MAP",
                 "MINDPAIN_SPACE"):
        env.pop(name, None)
    for step in (["stage-data"], ["execute", "--build-dir", str(out / "_build"), "--jobs", "2"]):
        staged = subprocess.run([sys.executable, "-m", "mindpain_book.buildtools", *step],
                                env=env, capture_output=True, text=True, timeout=1800)
        if staged.returncode != 0:
            raise RuntimeError(f"buildtools {step[0]} failed:\n{staged.stdout[-3000:]}\n"
                               f"{staged.stderr[-3000:]}")
    exe = Path(sys.executable).with_name("jupyter-book")
    proc = subprocess.run([str(exe), "build", str(ROOT), "--path-output", str(out), "-W",
                           "--keep-going"], env=env, capture_output=True, text=True,
                          timeout=1800)
    html = out / "_build" / "html"
    if proc.returncode != 0:
        reports = "\n".join(p.read_text()[-3000:] for p in (html / "reports").rglob("*.err.log")) \
            if (html / "reports").is_dir() else ""
        raise RuntimeError(f"book build failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
                           f"\n{reports}")
    return html


def work_config(work: Path, **overrides):
    """The small preset's configuration in the work folder ``work``, whatever the environment.

    :data:`TEST_SEED`, the realistic world, the twin as dataset, no fMRIPrep folder, dataset
    map, output space or Dask scheduler, unless ``overrides`` name them (keywords of
    :func:`mindpain.core.config.get_config`): the settings the book's build
    (:func:`_build_book`) runs with, so a test finds what the build made.
    """
    from mindpain.core.config import get_config

    settings = dict(preset="small", seed=TEST_SEED, work_dir=work, world="realistic",
                    bids_dir=None, fmriprep_dir=None, dataset_map=None, space=None,
                    dask_scheduler=None)
    return get_config(**{**settings, **overrides})


@pytest.fixture(scope="session")
def shared_work(tmp_path_factory) -> Path:
    """The work folder shared by every chapter this run executes (the book's build and the
    chapters on a user's dataset): each dataset has its own derivatives in it
    (:attr:`mindpain.core.config.Config.derivatives_dir`), while what depends only on the
    code, the preset and the seed (the surrogate signatures, the small end-to-end
    replications) is made once for all of them, under the package's own locks."""
    return _run_root(tmp_path_factory) / "shared-work"


@pytest.fixture(scope="session")
def book_build(tmp_path_factory, shared_work) -> Path:
    """The folder of the book built on the small twin: built once per test run, shared.

    Several test files read the site (``test_book*.py``), so the workers may share it: the
    first to ask builds it (:func:`_made_once`), the others wait and find it built, or
    find the first one's failure and fail with it. The
    build executes every chapter into its own output folder, so its execution cache is
    never shared with the book's full-preset cache; its work folder is :func:`shared_work`.
    """
    return _made_once(_run_root(tmp_path_factory) / "shared-book",
                      lambda out: _build_book(out, shared_work))


@pytest.fixture(scope="session")
def built_site(book_build) -> Path:
    """The small twin's built site (``_build/html`` of :func:`book_build`)."""
    return book_build / "_build" / "html"


@pytest.fixture(scope="session")
def own_layouts(small_twin, tmp_path_factory) -> dict:
    """Two copies of the small twin read as a user's data, made once per run, shared.

    ``standard`` in the book's names and ``foreign`` under a study's own names with fMRIPrep
    derivatives (``tests/_foreign_helpers.py``). Each chapter of ``test_own_data.py`` is a
    work unit of its own (:func:`work_unit`), so the two workers run them side by side: the
    first to ask makes the copies (:func:`_made_once`).
    """
    from _foreign_helpers import foreign_copy, standard_copy

    def make(root: Path) -> None:
        standard_copy(small_twin, root / "my-bids")
        foreign_copy(small_twin, root / "study")

    root = _made_once(_run_root(tmp_path_factory) / "shared-own", make)
    return {"standard": root / "my-bids", "foreign": root / "study"}


@pytest.fixture(scope="module")
def tiny_source(small_twin, tmp_path_factory) -> Path:
    """One participant's baseline session of the small twin (two runs, no derivatives).

    The data-safety tests copy it (:func:`bids`) for each test that may change its files.
    """
    from mindpain.core.folders import MARKER

    root = tmp_path_factory.mktemp("tiny") / "bids"
    shutil.copytree(small_twin, root, ignore=shutil.ignore_patterns(
        "sub-00[2-9]", "sub-01*", "ses-post", "derivatives", MARKER))
    return root


@pytest.fixture
def bids(tiny_source, tmp_path) -> Path:
    """A tiny raw BIDS dataset (one participant, one session, two runs) the test may change."""
    root = tmp_path / "bids"
    shutil.copytree(tiny_source, root)
    return root
