"""Executing the book's chapters: the build cache, the data staged first, chapters side by side.

``make book`` runs, in this order:

``python -m mindpain_book.buildtools prepare-book --preset P --seed S [--build-dir D]``
    :func:`prepare_book`: empty the build folder (execution cache and Sphinx environment)
    when anything their keys cannot see changed (:func:`cache_key`): the preset, the seed, a
    user dataset, the package code or the pinned environment. (jupyter-cache keys a notebook
    by its code cells only; Sphinx re-reads only changed sources.)
``python -m mindpain_book.buildtools stage-data``
    :func:`stage_data`: the data every chapter reads (twin, first level, scores), once.
``python -m mindpain_book.buildtools execute [--jobs N]``
    :func:`execute_chapters`: the chapters ``N`` at a time into myst-nb's execution cache,
    from which ``jupyter-book build`` renders the site.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from mindpain.core.config import PROJECT_ROOT


def cache_key(preset: str, seed: int) -> str:
    """Digest of everything that changes chapter outputs but not their code cells."""
    digest = hashlib.sha256()
    digest.update(f"{preset}\n{seed}\n{os.environ.get('MINDPAIN_BIDS', '')}\n".encode())
    digest.update(f"{os.environ.get('MINDPAIN_DATA', '')}\n".encode())
    # The science package only: this book tooling shapes the site, never a chapter's outputs.
    files = sorted((PROJECT_ROOT / "src" / "mindpain").rglob("*"))
    files.append(PROJECT_ROOT / "requirements.txt")
    for path in files:
        if path.is_file() and path.suffix in (".py", ".toml", ".json", ".txt"):
            digest.update(path.relative_to(PROJECT_ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def prepare_book(preset: str, seed: int, build_dir: Path) -> bool:
    """Empty ``build_dir`` if the cache key changed; return whether it did.

    Both caches must go: jupyter-cache (keyed by code cells) and Sphinx's environment,
    which re-reads only changed sources and so would never re-execute an unchanged
    notebook on new data.
    """
    key = cache_key(preset, seed)
    stamp = build_dir / ".mindpain-cache-key"
    if stamp.is_file() and stamp.read_text().strip() == key:
        return False
    shutil.rmtree(build_dir, ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key + "\n")
    return True


def _chapters_in_toc(root: Path = PROJECT_ROOT) -> list[Path]:
    """Return the book's executable sources (MyST notebooks in ``_toc.yml``), in order."""
    import yaml

    found = []

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                path = root / (node["file"] + ".md")
                if path.is_file() and "```{code-cell}" in path.read_text():
                    found.append(path)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(yaml.safe_load((root / "_toc.yml").read_text()))
    return found


def read_notebook(path: Path):
    """Read a MyST notebook as myst-nb reads it when it builds the page."""
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    text = path.read_text()
    reader = create_nb_reader(str(path), MdParserConfig(), NbParserConfig(), text)
    return reader.read(text)


#: Seconds to wait for a finished cell's outputs (nbclient's ``iopub_timeout``).
IOPUB_TIMEOUT_S = 120


def _execute_one(path: str, timeout: int, allow_errors: bool):
    """Worker: execute one notebook in its folder; return ``(notebook, seconds, error)``."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = read_notebook(Path(path))
    # nbclient waits only 4 s (its default) for a cell's outputs after the cell has finished
    # and then drops the rest without an error: on a loaded machine a cell that glues
    # hundreds of values lost its last outputs (missing glue keys). Wait as long as a cell
    # may run, and fail rather than keep a truncated cell.
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True,
                                 iopub_timeout=IOPUB_TIMEOUT_S, raise_on_iopub_timeout=True)
    error = None if result.err is None else (result.exc_string or repr(result.err))
    return nb, result.time, error


def stage_data() -> int:
    """Make the data every chapter reads, once, before the chapters run side by side.

    The configured dataset (the twin, generated if absent), its first level (``n_jobs``
    workers, with progress) and the session scores; each is a no-op when up to date.
    """
    from mindpain.core.config import get_config
    from mindpain.pipeline import ensure_first_level, session_scores

    cfg = get_config()
    ensure_first_level(cfg, progress=True)
    session_scores(cfg)
    return 0


def execute_chapters(build_dir: Path, jobs: int = 2, root: Path = PROJECT_ROOT) -> int:
    """Execute the book's notebooks ``jobs`` at a time into the build's execution cache.

    ``jupyter-book build`` executes notebooks one after the other; the chapters depend only
    on data made before them (twin, first level, scores), so they can run side by side.
    Each notebook is read and executed exactly as myst-nb would (same reader, same
    executor, its own folder as working directory, the timeout and error policy of
    ``_config.yml``) and stored in ``BUILD_DIR/.jupyter_cache``, where myst-nb's ``cache``
    mode finds it by the hash of its code cells. A notebook already cached is skipped; one
    that fails is left out, so ``jupyter-book build`` runs it again and reports the error
    in its usual way. Returns 0.
    """
    from concurrent.futures import ProcessPoolExecutor, as_completed

    import yaml
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    config = yaml.safe_load((root / "_config.yml").read_text()).get("execute", {})
    timeout, allow = int(config.get("timeout", 1800)), bool(config.get("allow_errors", False))
    cache = get_cache(str(build_dir / ".jupyter_cache"))
    todo = []
    for path in _chapters_in_toc(root):
        try:
            cache.match_cache_notebook(read_notebook(path))
            print(f"{path.relative_to(root)}: cached")
        except KeyError:
            todo.append(path)
    with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_execute_one, str(p), timeout, allow): p for p in todo}
        for future in as_completed(futures):
            path = futures[future]
            name = path.relative_to(root)
            try:
                nb, seconds, error = future.result()
            except Exception as err:  # leave it to jupyter-book, which reports it properly
                print(f"{name}: not executed here ({type(err).__name__}: {err}); "
                      "jupyter-book will run it")
                continue
            if error is not None:
                print(f"{name}: failed after {seconds:.1f} s; jupyter-book will run it again "
                      "and report the error")
                continue
            cache.cache_notebook_bundle(
                CacheBundleIn(nb, str(path), data={"execution_seconds": seconds}),
                check_validity=False, overwrite=True)
            print(f"{name}: executed in {seconds:.1f} s")
    return 0
