"""The reproducibility report's data: commit, environment, BLAS, data manifest, checksums.

The report of the book (``book/reproducibility.md``, rendered by
:mod:`mindpain_book.sphinxext.report`) is made from :func:`collect` (data manifest),
:func:`python_info`, :func:`package_versions`, :func:`blas_info` and :func:`git_commit`;
none of them records a host name, a path on the build machine or a date, so two builds of
one commit on one machine give the same report (the chapters' execution times aside).
:func:`write_manifest` writes the full file lists offered for download;
:func:`hash_tree` also serves :mod:`mindpain_book.verify`.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from mindpain.core.checksums import sha256
from mindpain.core.config import PROJECT_ROOT

#: Environment variables that set thread counts or BLAS kernels (reported with their values).
THREAD_VARIABLES = ("MINDPAIN_N_JOBS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def git_commit(root=PROJECT_ROOT) -> str:
    """Return the checked-out commit, marked when the work tree has uncommitted changes."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return f"{commit} (with uncommitted changes)" if dirty.strip() else commit


def python_info() -> list[list[str]]:
    """Interpreter, platform and thread settings, as ``[setting, value]`` rows."""
    rows = [["Python", f"{platform.python_implementation()} {platform.python_version()}"],
            ["platform", f"{platform.system()} {platform.machine()}"],
            ["byte order", sys.byteorder]]
    rows += [[f"${name}", os.environ.get(name, "(unset)")] for name in THREAD_VARIABLES]
    for name in ("MINDPAIN_PRESET", "MINDPAIN_SEED"):
        rows.append([f"${name}", os.environ.get(name, "(unset)")])
    rows.append(["own dataset ($MINDPAIN_BIDS)", "yes" if os.environ.get("MINDPAIN_BIDS")
                 else "no (the simulated twin)"])
    return rows


def package_versions() -> list[list[str]]:
    """Every installed distribution and its version, sorted by normalised name."""
    found = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[re.sub(r"[-_.]+", "-", name).lower()] = dist.version
    return [[name, found[name]] for name in sorted(found)]


def blas_info() -> list[list[str]]:
    """BLAS/OpenMP libraries numpy and scipy load (threadpoolctl), without file paths."""
    import numpy  # noqa: F401 (load the BLAS numpy and scipy use before asking)
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_info

    keys = ["user_api", "internal_api", "version", "num_threads", "threading_layer",
            "architecture"]
    rows = [keys]
    for lib in sorted(threadpool_info(), key=lambda d: (d.get("user_api", ""),
                                                        d.get("internal_api", ""),
                                                        d.get("filepath", ""))):
        rows.append([str(lib.get(k, "")) for k in keys])
    return rows


def data_roots(cfg=None) -> list[tuple[str, str, Path]]:
    """Return the folders the chapters read or write: ``(root, what, path)``."""
    from mindpain.core.config import get_config
    from mindpain.core.datasets import pain21_dir
    from mindpain.signatures import SIGNATURES_DIRNAME

    cfg = cfg or get_config()
    return [("dataset", "BIDS dataset: the simulated twin, or your own ($MINDPAIN_BIDS)",
             Path(cfg.dataset_dir)),
            ("derivatives", "first-level maps and signature scores", Path(cfg.derivatives_dir)),
            ("pain21", "pain21 group maps (NeuroVault collection 1425)",
             pain21_dir(cfg.data_dir)),
            ("signatures", "official signature files, when installed",
             Path(cfg.data_dir) / SIGNATURES_DIRNAME),
            ("results", "results tables ($MINDPAIN_RESULTS)", Path(cfg.results_dir))]


def hash_tree(root: Path, cache: dict | None = None) -> list[tuple[str, int, str]]:
    """``(relative path, bytes, sha256)`` of every file under ``root``, sorted by path.

    ``cache`` maps ``"path|size|mtime_ns"`` to a digest already computed (and is updated).
    """
    cache = {} if cache is None else cache
    rows = []
    if not Path(root).is_dir():
        return rows
    for path in sorted(Path(root).rglob("*")):
        if not path.is_file():
            continue
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if key not in cache:
            cache[key] = sha256(path)
        rows.append((path.relative_to(root).as_posix(), st.st_size, cache[key]))
    return rows


def sha256sum_text(rows) -> str:
    """Rows ``(path, bytes, sha256)`` in the format ``sha256sum -c`` reads."""
    return "".join(f"{sha}  {path}\n" for path, _, sha in rows)


def collect(cfg=None, hash_cache: Path | None = None) -> dict:
    """Collect the data manifest and signature checksums for the reproducibility report.

    Returns
    -------
    dict
        ``roots``: one dict per data root (``root, what, files, bytes, digest``; the digest
        is the sha256 of the root's ``sha256sum`` list); ``files``: ``(root, path, bytes,
        sha256)`` for every file; ``signatures``: ``[label, surrogate, sha256]`` rows.
    """
    from mindpain.core.config import get_config
    from mindpain.signatures import default_signatures

    cfg = cfg or get_config()
    cache = {}
    if hash_cache is not None and Path(hash_cache).is_file():
        cache = json.loads(Path(hash_cache).read_text())
    roots, files = [], []
    for root, what, path in data_roots(cfg):
        rows = hash_tree(path, cache)
        files += [(root, *row) for row in rows]
        roots.append({"root": root, "what": what, "files": len(rows),
                      "bytes": sum(size for _, size, _ in rows),
                      "digest": hashlib.sha256(sha256sum_text(rows).encode()).hexdigest()
                      if rows else ""})
    if hash_cache is not None:
        Path(hash_cache).parent.mkdir(parents=True, exist_ok=True)
        Path(hash_cache).write_text(json.dumps(cache))
    signatures = [[s.label, "yes" if s.is_surrogate else "no", s.sha256]
                  for s in default_signatures(cfg.data_dir, cfg.surrogate_cache_dir)]
    return {"roots": roots, "files": files, "signatures": signatures}


def write_manifest(report: dict, folder: Path) -> None:
    """Write ``manifest.tsv`` (root, path, bytes, sha256) and one ``<root>.sha256`` per root."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["root\tpath\tbytes\tsha256\n"]
    lines += [f"{root}\t{path}\t{size}\t{sha}\n" for root, path, size, sha in report["files"]]
    (folder / "manifest.tsv").write_text("".join(lines))
    for entry in report["roots"]:
        rows = [(p, n, h) for r, p, n, h in report["files"] if r == entry["root"]]
        if rows:
            (folder / f"{entry['root']}.sha256").write_text(sha256sum_text(rows))


def read_manifest(path) -> list[tuple[str, str, int, str]]:
    """Read a ``manifest.tsv`` written by :func:`write_manifest`."""
    lines = Path(path).read_text().splitlines()
    if not lines or lines[0].split("\t") != ["root", "path", "bytes", "sha256"]:
        raise ValueError(f"{path}: not a manifest; expected the header root, path, bytes, sha256")
    return [(r, p, int(n), h) for r, p, n, h in (line.split("\t") for line in lines[1:])]
