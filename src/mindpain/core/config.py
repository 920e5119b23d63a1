"""One configuration object, read once from the environment, and derived seeds.

Settings (environment variables, all optional):

``MINDPAIN_PRESET``
    Twin size used by the chapters: ``full`` (the book) or ``small`` (tests); ``reduced``
    is the full design on the small twin's grid (repeated-pipeline studies); ``calibration``
    the full design on a 15 mm grid (chapter 4's end-to-end calibration).
``MINDPAIN_SEED``
    Master seed; every random step derives its own seed from it.
``MINDPAIN_DATA``
    Data directory with real data (pain21, official signature files). Default: a user
    cache directory (``$XDG_CACHE_HOME/mindpain`` or ``~/.cache/mindpain``).
``MINDPAIN_WORK``
    Where generated data and derivatives go. Default: ``data/`` in the project checkout.
    The folder may be new, but the folder it is in must exist (:func:`setting_folder`).
``MINDPAIN_N_JOBS``
    Parallel workers for per-run work (joblib convention: a positive count, or ``-1`` for
    every core, ``-2`` for all but one, ...; ``0`` is an error).
``MINDPAIN_BIDS``
    A BIDS dataset to analyse instead of the twin (your own data).
``MINDPAIN_DATASET_MAP``
    A dataset map (TOML, :mod:`mindpain.bids.datamap`): how your dataset names its task,
    conditions, sessions, groups, rating columns and practice table. Unset: the
    ``mindpain-map.toml`` beside the dataset, else the book's own names.
``MINDPAIN_FMRIPREP``
    fMRIPrep derivatives of your dataset (preprocessed BOLD and confounds); the first level
    fits their BOLD with the book's motion confounds. Unset: the raw dataset's BOLD.
``MINDPAIN_SPACE``
    The one output space to fit (``NAME`` or ``NAME:res-R``); unset: the first MNI152
    space present.
``MINDPAIN_RESULTS``
    Folder of the result tables (default ``results/tables`` in the project checkout); its
    parent must exist, as for ``MINDPAIN_WORK``.
``MINDPAIN_DASK_SCHEDULER``
    Address of a Dask distributed scheduler the first level runs on (``tcp://host:8786``);
    unset: local joblib workers.
``MINDPAIN_HASH_CACHE``
    An SQLite file caching file checksums by file identity and times (see
    :func:`mindpain.core.checksums.sha256`); unset: every checksum reads the file.

Only the entry points (the command line, the book's tooling, a chapter's first cell) call
:func:`get_config`; they hand the resolved :class:`Config` (or its fields) down to the
library, which reads no setting itself.
"""

from __future__ import annotations

import os
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mindpain.core.vocabulary import DEFAULT_SEED, DEFAULT_WORLD, PRESETS, WORLDS

PROJECT_ROOT = Path(__file__).resolve().parents[3]
#: Tables committed with the book, adopted while their content key matches
#: (:mod:`mindpain.precomputed`; chapter 6's multiverse).
PRECOMPUTED_DIR = PROJECT_ROOT / "book" / "precomputed"


def _default_data_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "mindpain"


@dataclass(frozen=True)
class Config:
    """Resolved settings of one run of the pipeline.

    Attributes
    ----------
    preset : str
        One of :data:`mindpain.core.vocabulary.PRESETS`.
    seed : int
        Master seed.
    data_dir : pathlib.Path
        Directory searched for real data and official signature files.
    work_dir : pathlib.Path
        Directory for generated data and derivatives.
    n_jobs : int
        Number of parallel workers.
    bids_dir : pathlib.Path or None
        A user's BIDS dataset; ``None`` means the simulated twin.
    world : str
        World of the simulated twin: ``"realistic"`` (default) or ``"ideal"``
        (:data:`WORLDS`).
    results_dir : pathlib.Path
        Folder of the result tables (``results/tables`` in the project checkout).
    dask_scheduler : str or None
        Address of a Dask scheduler for the first level; ``None``: local workers.
    dataset_map : pathlib.Path or None
        A dataset map file (:mod:`mindpain.bids.datamap`) saying how the user's dataset
        names its task, conditions, sessions, groups and ratings; ``None``: the map file
        beside the dataset if there is one, else the book's own names.
    fmriprep_dir : pathlib.Path or None
        fMRIPrep derivatives of the user's dataset (preprocessed BOLD and confounds);
        ``None``: the BOLD of the raw dataset.
    space : str or None
        The one output space to fit (``NAME`` or ``NAME:res-R``); ``None``: the first
        MNI152 space present.
    """

    preset: str = "full"
    seed: int = DEFAULT_SEED
    data_dir: Path = _default_data_dir()
    work_dir: Path = PROJECT_ROOT / "data"
    n_jobs: int = 1
    bids_dir: Path | None = None
    world: str = DEFAULT_WORLD
    results_dir: Path = PROJECT_ROOT / "results" / "tables"
    dask_scheduler: str | None = None
    dataset_map: Path | None = None
    fmriprep_dir: Path | None = None
    space: str | None = None

    @property
    def twin_dir(self) -> Path:
        """Folder of the simulated twin for this preset (and world, when not realistic)."""
        return self.work_dir / f"twin-{self.preset}{self._world_tag}"

    @property
    def _world_tag(self) -> str:
        return "" if self.world == DEFAULT_WORLD else f"-{self.world}"

    @property
    def dataset_dir(self) -> Path:
        """The BIDS dataset the chapters analyse (the user's, else the twin)."""
        return self.bids_dir if self.bids_dir is not None else self.twin_dir

    @property
    def derivatives_dir(self) -> Path:
        """Folder of this dataset's derivatives (first level, scores) in the work folder."""
        tag = (self.preset + self._world_tag if self.bids_dir is None
               else f"bids-{Path(self.bids_dir).name}")
        return self.work_dir / f"derivatives-{tag}"

    @property
    def surrogate_cache_dir(self) -> Path:
        """Folder of the built open surrogates (:mod:`mindpain.signatures.surrogates`)."""
        return self.work_dir / "cache" / "surrogates"

    def as_dict(self) -> dict:
        """Return the settings as JSON-ready values."""
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


def check_preset(preset: str) -> str:
    """Return ``preset`` if known, else raise a one-line error."""
    if preset not in PRESETS:
        from mindpain.core.errors import MindpainError

        raise MindpainError(f"unknown preset {preset!r}; expected one of {', '.join(PRESETS)}")
    return preset


def check_world(world) -> str:
    """Return ``world`` if it is one of :data:`WORLDS`, else raise a one-line error."""
    if world not in WORLDS:
        from mindpain.core.errors import MindpainError

        raise MindpainError(f"unknown world {world!r}; expected one of {', '.join(WORLDS)}")
    return world


def check_seed(seed) -> int:
    """Return ``seed`` as a non-negative int, else raise a one-line error."""
    from mindpain.core.errors import MindpainError

    try:
        value = int(seed)
    except (TypeError, ValueError):
        raise MindpainError(f"seed must be a non-negative integer, got {seed!r}") from None
    if value < 0 or str(value) != str(seed).strip():
        raise MindpainError(f"seed must be a non-negative integer, got {seed!r}")
    return value


def setting_folder(name: str) -> Path | None:
    """Return the folder a path setting (``MINDPAIN_WORK``, ``MINDPAIN_RESULTS``) names.

    The package may make that folder, but never the folders above it: a setting that points
    into a missing folder (a typo, an unmounted disk) is refused in one line instead of
    creating a tree somewhere unexpected.

    Parameters
    ----------
    name : str
        The environment variable.

    Returns
    -------
    pathlib.Path or None
        ``None`` when the variable is unset or empty.

    Raises
    ------
    mindpain.core.errors.MindpainError
        The folder's parent does not exist, or the path is a file.
    """
    from mindpain.core.errors import MindpainError

    value = os.environ.get(name)
    if not value:
        return None
    path = Path(value).expanduser()
    if path.exists() and not path.is_dir():
        raise MindpainError(f"{name} names a file; expected a folder", path)
    if not path.exists() and not path.absolute().parent.is_dir():
        raise MindpainError(f"{name} points into a missing folder "
                            f"({path.absolute().parent}); create that folder first or fix "
                            f"{name} (mindpain makes only the last folder of the path)", path)
    return path


def check_n_jobs(value, source: str = "n_jobs") -> int:
    """Return ``value`` as a joblib worker count, else raise a one-line error.

    joblib's convention: a positive integer is that many workers, ``-1`` every core, ``-2``
    all cores but one, and so on down to minus the number of cores (one worker); ``0`` and
    anything below that mean no worker and are refused.

    Examples
    --------
    >>> check_n_jobs("2"), check_n_jobs(-1)
    (2, -1)
    """
    from mindpain.core.errors import MindpainError

    text = str(value).strip()
    try:
        number = int(text) if not isinstance(value, (int, np.integer)) else int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or number == 0:
        raise MindpainError(f"{source} must be a non-zero integer (workers; -1 = every core), "
                            f"got {value!r}")
    cores = os.cpu_count() or 1
    if number < -cores:
        raise MindpainError(f"{source} {number} means no worker on this machine of {cores} "
                            f"core(s); expected a positive count or -1 (every core) to "
                            f"-{cores} (one core)")
    return number


def worker_count(n_jobs, source: str = "n_jobs") -> int:
    """Return the positive number of workers that a joblib-style ``n_jobs`` means.

    ``-1`` is every core, ``-2`` all but one, and so on (at least one).

    Examples
    --------
    >>> worker_count(3)
    3
    >>> worker_count(-1) == (os.cpu_count() or 1)
    True
    """
    n = check_n_jobs(n_jobs, source)
    return n if n > 0 else max(1, (os.cpu_count() or 1) + 1 + n)


def get_config(**overrides) -> Config:
    """Read the configuration from the environment, then apply ``overrides``.

    Examples
    --------
    >>> cfg = get_config(preset="small")
    >>> cfg.twin_dir.name
    'twin-small'
    """
    env = os.environ
    values = {
        "preset": env.get("MINDPAIN_PRESET", "full"),
        "seed": env.get("MINDPAIN_SEED", DEFAULT_SEED),
        "data_dir": Path(env["MINDPAIN_DATA"]) if env.get("MINDPAIN_DATA") else _default_data_dir(),
        "work_dir": setting_folder("MINDPAIN_WORK") or PROJECT_ROOT / "data",
        "n_jobs": env.get("MINDPAIN_N_JOBS") or 1,
        "bids_dir": Path(env["MINDPAIN_BIDS"]) if env.get("MINDPAIN_BIDS") else None,
        "world": env.get("MINDPAIN_WORLD", DEFAULT_WORLD),
        "results_dir": (setting_folder("MINDPAIN_RESULTS")
                        or PROJECT_ROOT / "results" / "tables"),
        "dask_scheduler": env.get("MINDPAIN_DASK_SCHEDULER") or None,
        "dataset_map": (Path(env["MINDPAIN_DATASET_MAP"]) if env.get("MINDPAIN_DATASET_MAP")
                        else None),
        "fmriprep_dir": Path(env["MINDPAIN_FMRIPREP"]) if env.get("MINDPAIN_FMRIPREP") else None,
        "space": env.get("MINDPAIN_SPACE") or None,
    }
    values.update(overrides)
    values["preset"] = check_preset(values["preset"])
    values["seed"] = check_seed(values["seed"])
    values["world"] = check_world(values["world"])
    source = "n_jobs" if "n_jobs" in overrides else "MINDPAIN_N_JOBS"
    values["n_jobs"] = check_n_jobs(values["n_jobs"], source)
    return Config(**values)


def derive_rng(seed: int, *keys) -> np.random.Generator:
    """Return a generator for one step, derived from the master seed and named keys.

    The keys (strings or ints) name the step, e.g. ``("bold", "sub-001", "pre", 1)``, so a
    step gets the same stream whatever order or worker runs it.

    Examples
    --------
    >>> a = derive_rng(1, "bold", "sub-001").normal()
    >>> b = derive_rng(1, "bold", "sub-001").normal()
    >>> a == b
    True
    """
    spawn_key = tuple(
        k if isinstance(k, (int, np.integer)) else zlib.crc32(str(k).encode()) for k in keys
    )
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=spawn_key))
