"""axe-core, the accessibility engine of the site checks, from the npm registry.

``make test`` (``python -m mindpain_book.buildtools install-axe``) runs ``npm pack`` for the
pinned version (:data:`AXE_VERSION`), checks the tarball against the registry's sha512
integrity recorded here (:data:`AXE_INTEGRITY`) and keeps only ``axe.min.js``, under the
virtual environment (:func:`script_path`). Tests and ``check-site --axe`` read it from there,
offline; nothing is fetched at test time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: The pinned axe-core release (the 4.x line the issue's audit used).
AXE_VERSION = "4.14.1"
#: The npm registry's integrity of ``axe-core-4.14.1.tgz`` (``npm view axe-core@4.14.1
#: dist.integrity``): the tarball is refused unless its sha512 matches.
AXE_INTEGRITY = ("sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASy"
                 "FNNtuFooJpZe37OgudVGtQ==")
_MEMBER = "package/axe.min.js"


def script_path(prefix: str | os.PathLike | None = None) -> Path:
    """Where ``axe.min.js`` of :data:`AXE_VERSION` is kept (it may not exist yet).

    Parameters
    ----------
    prefix : path-like, optional
        The environment's prefix; default the running interpreter's (``.venv``).
    """
    root = Path(sys.prefix if prefix is None else prefix)
    return root / "share" / "mindpain" / f"axe-core-{AXE_VERSION}" / "axe.min.js"


def axe_script() -> Path:
    """Return the installed ``axe.min.js``; a one-line error saying how to install it if absent."""
    path = script_path()
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: axe-core {AXE_VERSION} is not installed; `make test` installs it "
            "(or run `.venv/bin/python -m mindpain_book.buildtools install-axe`, which needs "
            "npm and the npm registry)")
    return path


def integrity(data: bytes) -> str:
    """Return the npm-style ``sha512-<base64>`` integrity string of ``data``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def extract(tarball: bytes, dest: Path) -> Path:
    """Check ``tarball`` against :data:`AXE_INTEGRITY` and write its ``axe.min.js`` to ``dest``.

    The file is written under a temporary name beside ``dest`` and renamed into place.

    Raises
    ------
    ValueError
        When the tarball's integrity differs from the pinned one, or it holds no
        ``axe.min.js``.
    """
    found = integrity(tarball)
    if found != AXE_INTEGRITY:
        raise ValueError(f"axe-core {AXE_VERSION} tarball: integrity {found} is not the pinned "
                         f"{AXE_INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        try:
            member = archive.extractfile(_MEMBER)
        except KeyError:
            member = None
        if member is None:
            raise ValueError(f"axe-core {AXE_VERSION} tarball: no {_MEMBER}")
        script = member.read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=dest.parent, prefix=".mindpain-tmp-",
                                     delete=False) as tmp:
        tmp.write(script)
    os.chmod(tmp.name, 0o644)
    os.replace(tmp.name, dest)
    return dest


def install(npm: str = "npm") -> int:
    """Install ``axe.min.js`` from the npm registry unless present (``install-axe``).

    Returns
    -------
    int
        0 when installed (or already present), 2 when npm is missing, the download fails or
        the tarball does not match the pinned integrity (one line on stderr).
    """
    dest = script_path()
    if dest.is_file():
        return 0
    exe = shutil.which(npm)
    if exe is None:
        print(f"{npm}: not found; install Node.js and npm (Debian: apt-get install npm) to "
              f"fetch axe-core {AXE_VERSION}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([exe, "pack", f"axe-core@{AXE_VERSION}", "--silent",
                               "--pack-destination", tmp], capture_output=True, text=True)
        tarball = Path(tmp) / f"axe-core-{AXE_VERSION}.tgz"
        if proc.returncode != 0 or not tarball.is_file():
            last = (proc.stderr.strip().splitlines() or ["no tarball written"])[-1]
            print(f"npm pack axe-core@{AXE_VERSION}: {last}", file=sys.stderr)
            return 2
        try:
            extract(tarball.read_bytes(), dest)
        except (ValueError, tarfile.TarError) as err:
            print(err, file=sys.stderr)
            return 2
    print(f"{dest}: axe-core {AXE_VERSION} from the npm registry (integrity checked)")
    return 0
