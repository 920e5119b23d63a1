"""Sphinx extension that keeps the built site offline.

It copies MathJax 3 from the installed ``django-static-mathjax`` wheel into the build's
``_static/mathjax`` folder (third-party JavaScript is never committed), so that
``mathjax_path = "mathjax/tex-svg.js"`` resolves to a local file.
"""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path


def mathjax_source() -> Path:
    """Folder of the MathJax 3 ES5 bundle inside the installed wheel."""
    path = Path(str(resources.files("mathjax"))) / "static" / "mathjax" / "es5"
    if not (path / "tex-svg.js").is_file():
        raise FileNotFoundError(f"{path}: MathJax bundle not found; install django-static-mathjax")
    return path


def _copy_mathjax(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "mathjax"
    shutil.copytree(mathjax_source(), target, dirs_exist_ok=True)


def setup(app):
    """Register the extension with Sphinx."""
    app.connect("build-finished", _copy_mathjax)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
