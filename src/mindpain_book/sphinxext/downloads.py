"""Downloads: results tables under the chapters that show them, and the chapters themselves.

A results table shown in a chapter (``mindpain_table_downloads`` in ``_config.yml``: figure
name -> file in the results folder) gets download links for the TSV and its JSON sidecar,
copied into ``_downloads/tables``. Each executed chapter ends with links to its MyST source
and to the executed notebook (``.ipynb`` with outputs), copied into ``_downloads/notebooks``.
"""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the results tables offered for download are copied, inside the HTML output.
DOWNLOADS = "_downloads/tables"
#: Where the executed chapters (``.ipynb`` with outputs) are copied, inside the HTML output.
NOTEBOOK_DOWNLOADS = "_downloads/notebooks"


def _results_dir() -> Path:
    from mindpain.core.config import get_config

    return Path(get_config().results_dir)


def relative_uri(app, docname: str, target: str) -> str:
    """Return ``target`` (a path inside the HTML output) relative to page ``docname``."""
    here = app.builder.get_target_uri(docname)
    return posixpath.relpath(target, posixpath.dirname(here) or ".")


class TableDownloads(SphinxTransform):
    """Add TSV + JSON download links under each results table named in the config."""

    default_priority = 420

    def apply(self, **kwargs) -> None:  # noqa: D102 (see the class)
        wanted = self.config.mindpain_table_downloads or {}
        docname = self.env.docname
        for figure in list(self.document.findall(nodes.figure)):
            names = [name for name in figure["names"] if name in wanted]
            if not names:
                continue
            table = _results_dir() / wanted[names[0]]
            files = [table, table.with_suffix(".json")]
            missing = [str(f) for f in files if not f.is_file()]
            if missing:
                logger.warning("%s: results table to offer for download not found: %s",
                               names[0], ", ".join(missing), location=figure)
                continue
            para = nodes.paragraph(classes=["mindpain-download"])
            para += nodes.Text("Download this table: ")
            for i, path in enumerate(files):
                uri = relative_uri(self.app, docname, f"{DOWNLOADS}/{path.name}")
                what = "table, tab-separated" if path.suffix == ".tsv" else \
                    "column descriptions, JSON"
                if i:
                    para += nodes.Text(" · ")
                para += nodes.reference("", path.name, refuri=uri, internal=False,
                                        classes=["download"])
                para += nodes.Text(f" ({what})")
                self.env.mindpain_downloads.setdefault(docname, set()).add(str(path))
            legend = next(iter(figure.findall(nodes.legend)), None)
            if legend is None:
                legend = nodes.legend()
                figure += legend
            legend += para


class NotebookDownloads(SphinxTransform):
    """End each executed chapter with links to its source and its executed notebook."""

    default_priority = 430

    def apply(self, **kwargs) -> None:  # noqa: D102 (see the class)
        from myst_nb.sphinx_ import NbMetadataCollector

        docname = self.env.docname
        if not NbMetadataCollector.get_doc_data(self.env).get(docname, {}).get("exec_data"):
            return
        name = posixpath.basename(docname)
        suffix = Path(self.env.doc2path(docname)).suffix
        para = nodes.paragraph(classes=["mindpain-download"])
        para += nodes.Text("Download this chapter: ")
        links = [(f"_sources/{docname}{suffix}", f"{name}{suffix}", "source, MyST markdown"),
                 (f"{NOTEBOOK_DOWNLOADS}/{name}.ipynb", f"{name}.ipynb",
                  "executed notebook with its outputs")]
        for i, (target, label, what) in enumerate(links):
            if i:
                para += nodes.Text(" · ")
            para += nodes.reference("", label, refuri=relative_uri(self.app, docname, target),
                                    internal=False, classes=["download"])
            para += nodes.Text(f" ({what})")
        sections = list(self.document.findall(nodes.section))
        (sections[0] if sections else self.document).append(para)
        self.env.mindpain_notebooks.add(docname)


def executed_notebook(source: Path, cache_dir: Path):
    """Return the chapter at ``source`` with its outputs, from the execution cache, or ``None``.

    myst-nb, when it takes a chapter from its execution cache, writes the notebook it read
    (without outputs) to ``jupyter_execute``; the outputs live in the cache. Merging the
    cached outputs into the chapter as myst-nb reads it gives the executed notebook, every
    output included (the glued values too).
    """
    from jupyter_cache import get_cache

    from mindpain_book.execution import read_notebook

    if not Path(cache_dir).is_dir():
        return None
    try:
        _, merged = get_cache(str(cache_dir)).merge_match_into_notebook(
            read_notebook(Path(source)))
    except KeyError:
        return None
    return merged


def _copy_notebooks(app, exception) -> None:
    import nbformat

    if exception is not None or app.builder.format != "html":
        return
    build = Path(app.outdir).parent
    mystnb = getattr(app.env, "mystnb_config", None)  # myst-nb resolves the cache folder
    cache_dir = Path(getattr(mystnb, "execution_cache_path", "") or build / ".jupyter_cache")
    target = Path(app.outdir) / NOTEBOOK_DOWNLOADS
    for docname in sorted(getattr(app.env, "mindpain_notebooks", ())):
        name = f"{Path(docname).name}.ipynb"
        notebook = executed_notebook(Path(app.srcdir) / f"{docname}.md", cache_dir)
        if notebook is not None:
            target.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target / name)
            continue
        source = build / "jupyter_execute" / f"{docname}.ipynb"
        if source.is_file():  # executed by myst-nb outside the cache: its file has outputs
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
        else:
            logger.warning("%s: executed notebook not found for download", source)


def _purge(app, env, docname) -> None:
    getattr(env, "mindpain_downloads", {}).pop(docname, None)
    getattr(env, "mindpain_notebooks", set()).discard(docname)


def _init_env(app, env, docnames) -> None:
    if not hasattr(env, "mindpain_downloads"):
        env.mindpain_downloads = {}
    if not hasattr(env, "mindpain_notebooks"):
        env.mindpain_notebooks = set()


def _copy_downloads(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / DOWNLOADS
    for files in getattr(app.env, "mindpain_downloads", {}).values():
        for name in sorted(files):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(name, target / Path(name).name)


def setup(app):
    """Register the download links and the copies of their files with Sphinx."""
    app.add_config_value("mindpain_table_downloads", {}, "env")
    for transform in (TableDownloads, NotebookDownloads):
        app.add_transform(transform)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-purge-doc", _purge)
    for finish in (_copy_downloads, _copy_notebooks):
        app.connect("build-finished", finish)
    return {"version": "2", "parallel_read_safe": False, "parallel_write_safe": True}
