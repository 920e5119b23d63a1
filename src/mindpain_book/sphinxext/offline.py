"""Offline pages: MathJax from the installed wheel, no Thebe loader.

Copies MathJax 3 from the installed ``django-static-mathjax`` wheel into the build's
``_static/mathjax`` folder (third-party JavaScript is never committed), so that
``mathjax_path = "mathjax/tex-svg.js"`` resolves to a local file; drops the Thebe loader
that Jupyter Book 1 adds to every page even with Thebe off (it names a script on
unpkg.com). Live code would need a kernel from outside, which this book does not offer.
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


def _is_thebe(asset) -> bool:
    text = " ".join(str(v) for v in (getattr(asset, "filename", asset),
                                      *getattr(asset, "attributes", {}).values()))
    return "thebe" in text.lower()


def _drop_thebe(app, pagename, templatename, context, doctree) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def setup(app):
    """Register the MathJax copy and the Thebe filter with Sphinx."""
    app.connect("build-finished", _copy_mathjax)
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"version": "2", "parallel_read_safe": True, "parallel_write_safe": True}
