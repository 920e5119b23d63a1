"""Sphinx extension for the reader's side of the book: offline, numbered, accessible.

Offline
    Copies MathJax 3 from the installed ``django-static-mathjax`` wheel into the build's
    ``_static/mathjax`` folder (third-party JavaScript is never committed), so that
    ``mathjax_path = "mathjax/tex-svg.js"`` resolves to a local file; drops the Thebe loader
    that Jupyter Book 1 adds to every page even with Thebe off (it names a script on
    unpkg.com). Live code would need a kernel from outside, which this book does not offer.
Tables numbered as tables
    A glued table (``{glue:figure}`` of a DataFrame) arrives as a figure; it becomes a
    :class:`table_figure`, numbered with the tables ("Table 4.2") rather than the figures.
Alt text
    Every image gets alt text: the ``:alt:`` of its figure directive, else its caption (an
    image with neither is a build warning, so ``-W`` fails).
Downloads
    A results table shown in a chapter (``mindpain_table_downloads`` in ``_config.yml``: figure
    name -> file in the results folder) gets download links for the TSV and its JSON sidecar,
    copied into ``_downloads/tables``.
Chapter downloads
    Each executed chapter ends with links to its MyST source and to the executed notebook
    (``.ipynb`` with outputs), copied into ``_downloads/notebooks``.
Accessibility fixes
    The theme's collapsible navigation entries (``<summary>`` with only an icon) get an
    accessible name; the bibliography's citation list loses a wrong ``role="list"``.
Reproducibility report
    The directives ``mindpain-commit``, ``mindpain-environment``, ``mindpain-signatures``,
    ``mindpain-manifest``, ``mindpain-results`` and ``mindpain-execution`` render the report
    (see :mod:`mindpain_book.buildtools`). The page that uses them is read last and on every
    build, so it describes the chapters as executed.
"""

from __future__ import annotations

import posixpath
import re
import shutil
from importlib import resources
from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective
from sphinx.writers.html5 import HTML5Translator

logger = logging.getLogger(__name__)

#: Where the results tables offered for download are copied, inside the HTML output.
DOWNLOADS = "_downloads/tables"
#: Where the reproducibility report's manifest files are written, inside the HTML output.
REPORT_DOWNLOADS = "_downloads/reproducibility"
#: Where the executed chapters (``.ipynb`` with outputs) are copied, inside the HTML output.
NOTEBOOK_DOWNLOADS = "_downloads/notebooks"


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


# --- tables numbered as tables -------------------------------------------------------------

class table_figure(nodes.figure):  # noqa: N801 (docutils names node classes in lower case)
    """A glued table: rendered like a figure, numbered with the tables."""


def _holds_table(figure: nodes.Element) -> bool:
    if any(True for _ in figure.findall(nodes.image)):
        return False
    if any(True for _ in figure.findall(nodes.table)):
        return True
    return any("<table" in raw.astext() and "<iframe" not in raw.astext()
               for raw in figure.findall(nodes.raw))


class TableFigures(SphinxTransform):
    """Turn figures that hold a table (and no image) into :class:`table_figure` nodes."""

    default_priority = 400

    def apply(self, **kwargs) -> None:  # noqa: D102 (see the class)
        for figure in list(self.document.findall(nodes.figure)):
            if type(figure) is not nodes.figure or not _holds_table(figure):
                continue
            table = table_figure(figure.rawsource, *figure.children, **figure.attributes)
            table.source, table.line = figure.source, figure.line
            figure.replace_self(table)
            for node_id in table["ids"]:
                self.document.ids[node_id] = table


# --- alt text ------------------------------------------------------------------------------

def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    head, sep, _ = text.partition(". ")
    return head + "." if sep else text


class ImageAltText(SphinxTransform):
    """Give every image alt text: its figure's ``:alt:``, else the figure's caption."""

    default_priority = 410

    def apply(self, **kwargs) -> None:  # noqa: D102 (see the class)
        for image in self.document.findall(nodes.image):
            if image.get("alt", "").strip():
                continue
            figure = image.parent
            while figure is not None and not isinstance(figure, nodes.figure):
                figure = figure.parent
            captions = [] if figure is None else list(figure.findall(nodes.caption))
            if captions:
                image["alt"] = _first_sentence(captions[0].astext())
            else:
                logger.warning("image %s has neither alt text nor a caption; add `:alt:`",
                               image.get("uri", "?"), location=image)


# --- API reference ------------------------------------------------------------------------

def _rubric_headings(app, what, name, obj, options, lines) -> None:
    """Turn section headings left in a docstring after napoleon into rubrics.

    Module docstrings use free sections ("Multiplicity", "Outputs"); as real sections they
    would nest headings inside the API page and collide as labels across pages.
    """
    i = 0
    while i < len(lines) - 1:
        title, rule = lines[i].strip(), lines[i + 1].strip()
        if (title and rule and len(set(rule)) == 1 and rule[0] in "-=~^"
                and len(rule) >= len(title) and not title.startswith("..")):
            lines[i:i + 2] = [f".. rubric:: {title}", ""]
        i += 1


_BARS = re.compile(r"(?<![\\\w])\|(\S[^|]*?\S|\S)\|(?![\w_])")


def _escape_bars(app, what, name, obj, options, lines) -> None:
    """Escape ``|x|`` (absolute values in prose) so reST does not read a substitution.

    Text inside backticks (code, math roles) is left as it is.
    """
    for i, line in enumerate(lines):
        if "|" not in line or line.lstrip().startswith(("|", "+")):
            continue
        parts = re.split(r"(`+[^`]*`+)", line)
        lines[i] = "".join(part if part.startswith("`") else _BARS.sub(r"\\|\1\\|", part)
                           for part in parts)


# --- downloads of results tables ----------------------------------------------------------

def _results_dir() -> Path:
    from mindpain.config import get_config

    return Path(get_config().results_dir)


def _relative(app, docname: str, target: str) -> str:
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
                uri = _relative(self.app, docname, f"{DOWNLOADS}/{path.name}")
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
            para += nodes.reference("", label, refuri=_relative(self.app, docname, target),
                                    internal=False, classes=["download"])
            para += nodes.Text(f" ({what})")
        sections = list(self.document.findall(nodes.section))
        (sections[0] if sections else self.document).append(para)
        self.env.mindpain_notebooks.add(docname)


def _copy_notebooks(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    executed = Path(app.outdir).parent / "jupyter_execute"
    target = Path(app.outdir) / NOTEBOOK_DOWNLOADS
    for docname in sorted(getattr(app.env, "mindpain_notebooks", ())):
        source = executed / f"{docname}.ipynb"
        if source.is_file():
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / source.name)
        else:
            logger.warning("%s: executed notebook not found for download", source)


#: Fixes of the written HTML for axe-core: icon-only navigation toggles get a name; docutils'
#: citation list drops ``role="list"`` (its entries are not list items, which axe flags).
HTML_FIXES = (
    ('<summary><span class="toctree-toggle" role="presentation">',
     '<summary aria-label="Show or hide the pages of this section">'
     '<span class="toctree-toggle" role="presentation">'),
    ('<div role="list" class="citation-list">', '<div class="citation-list">'),
)


def _fix_html(app, exception) -> None:
    """Apply :data:`HTML_FIXES` to every written page (idempotent)."""
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = fixed = page.read_text(encoding="utf-8")
        for old, new in HTML_FIXES:
            fixed = fixed.replace(old, new)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _api_pages(app, config) -> None:
    """Write the API reference pages (one per module) before the table of contents is read."""
    from mindpain_book import buildtools

    folder = Path(app.srcdir) / "book" / "api"
    if folder.is_dir():
        for path in buildtools.write_api_pages(folder):
            logger.info("API page written: %s", path.name)


def _purge(app, env, docname) -> None:
    getattr(env, "mindpain_downloads", {}).pop(docname, None)
    getattr(env, "mindpain_notebooks", set()).discard(docname)


def _init_env(app, env, docnames) -> None:
    if not hasattr(env, "mindpain_downloads"):
        env.mindpain_downloads = {}
    if not hasattr(env, "mindpain_notebooks"):
        env.mindpain_notebooks = set()
    env._mindpain_report = None  # recomputed on every build
    # The reproducibility report describes what the other pages read and how they executed:
    # read it after them.
    for name in [d for d in docnames if _is_report(app, d)]:
        docnames.remove(name)
        docnames.append(name)


def _is_report(app, docname: str) -> bool:
    return docname == app.config.mindpain_report_page


def _report_always_outdated(app, env, added, changed, removed) -> list:
    page = app.config.mindpain_report_page
    return [page] if page in env.found_docs and page not in added | changed else []


def _copy_downloads(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / DOWNLOADS
    for files in getattr(app.env, "mindpain_downloads", {}).values():
        for name in sorted(files):
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(name, target / Path(name).name)


# --- reproducibility report -----------------------------------------------------------------

def _table(header, rows, widths=None, classes=("mindpain-report",)) -> nodes.table:
    """Return a docutils table of strings (the first row a header)."""
    table = nodes.table(classes=list(classes))
    group = nodes.tgroup(cols=len(header))
    table += group
    for width in widths or [1] * len(header):
        group += nodes.colspec(colwidth=width)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for part, lines in ((head, [header]), (body, rows)):
        for line in lines:
            row = nodes.row()
            for cell in line:
                entry = nodes.entry()
                entry += nodes.paragraph(text=str(cell))
                row += entry
            part += row
    return table


class _ReportDirective(SphinxDirective):
    has_content = False
    option_spec = {"caption": directives.unchanged, "name": directives.unchanged}

    def _wrap(self, table: nodes.table) -> list[nodes.Node]:
        if "caption" in self.options:
            title = nodes.title(text=self.options["caption"])
            table.insert(0, title)
        self.add_name(table)
        return [table]


def _report(env):
    """Return the report's data, computed once per build (the page is read last)."""
    from mindpain_book import buildtools as reproducibility

    cache = getattr(env, "_mindpain_report", None)
    if cache is None:
        build_dir = Path(env.app.doctreedir).parent
        cache = reproducibility.collect(hash_cache=build_dir / ".mindpain-sha256-cache.json")
        env._mindpain_report = cache
    return cache


class CommitDirective(SphinxDirective):
    """The git commit the book was built from, as a paragraph."""

    def run(self):  # noqa: D102 (see the class)
        from mindpain_book import buildtools as reproducibility

        para = nodes.paragraph()
        para += nodes.Text("Built from commit ")
        para += nodes.literal(text=reproducibility.git_commit())
        para += nodes.Text(".")
        return [para]


class EnvironmentDirective(_ReportDirective):
    """Python, platform, every installed package and the BLAS/thread set-up."""

    option_spec = {"caption": directives.unchanged, "name": directives.unchanged,
                   "part": directives.unchanged}

    def run(self):  # noqa: D102 (see the class)
        from mindpain_book import buildtools as reproducibility

        part = self.options.get("part", "packages")
        if part == "python":
            rows = reproducibility.python_info()
            return self._wrap(_table(["setting", "value"], rows, [1, 3]))
        if part == "blas":
            rows = reproducibility.blas_info()
            return self._wrap(_table(list(rows[0]), rows[1:]))
        rows = reproducibility.package_versions()
        return self._wrap(_table(["package", "version"], rows, [2, 1]))


class SignaturesDirective(_ReportDirective):
    """The signature weights the chapters scored with, and their checksums."""

    def run(self):  # noqa: D102 (see the class)
        rows = _report(self.env)["signatures"]
        return self._wrap(_table(["signature", "open surrogate", "sha256"], rows, [2, 1, 4]))


class ManifestDirective(_ReportDirective):
    """Summary of the data manifest (one row per data root) with links to the full lists."""

    def run(self):  # noqa: D102 (see the class)
        report = _report(self.env)
        rows = [[r["root"], r["what"], r["files"], r["bytes"], r["digest"]]
                for r in report["roots"]]
        table = _table(["root", "what", "files", "bytes", "sha256 of its file list"], rows,
                       [1, 3, 1, 1, 4])
        para = nodes.paragraph()
        para += nodes.Text("Every file with its size and sha256: ")
        files = ["manifest.tsv"] + [f"{r['root']}.sha256" for r in report["roots"] if r["files"]]
        for i, name in enumerate(files):
            if i:
                para += nodes.Text(" · ")
            uri = _relative(self.env.app, self.env.docname, f"{REPORT_DOWNLOADS}/{name}")
            para += nodes.reference("", name, refuri=uri, internal=False, classes=["download"])
        return [*self._wrap(table), para]


class ResultsDirective(_ReportDirective):
    """sha256 of every results table (and sidecar)."""

    def run(self):  # noqa: D102 (see the class)
        rows = [[path, size, sha] for root, path, size, sha in _report(self.env)["files"]
                if root == "results"]
        return self._wrap(_table(["file", "bytes", "sha256"], rows, [2, 1, 4]))


class ExecutionDirective(_ReportDirective):
    """Per-chapter execution: how (executed now / from the cache), whether it succeeded, time."""

    def run(self):  # noqa: D102 (see the class)
        from myst_nb.sphinx_ import NbMetadataCollector

        rows = []
        for docname in sorted(self.env.found_docs):
            data = NbMetadataCollector.get_doc_data(self.env).get(docname, {}).get("exec_data")
            if not data:
                continue
            runtime = data.get("runtime")
            rows.append([docname, data.get("method", ""),
                         "yes" if data.get("succeeded") else "NO",
                         "" if runtime is None else f"{runtime:.1f}"])
        return self._wrap(_table(["chapter", "method", "succeeded", "seconds"], rows,
                                 [3, 1, 1, 1]))


def _write_report_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    report = getattr(app.env, "_mindpain_report", None)
    if report is None:
        return
    from mindpain_book import buildtools as reproducibility

    reproducibility.write_manifest(report, Path(app.outdir) / REPORT_DOWNLOADS)


def setup(app):
    """Register the extension with Sphinx."""
    app.add_config_value("mindpain_table_downloads", {}, "env")
    app.add_config_value("mindpain_report_page", "book/reproducibility", "env")
    app.add_enumerable_node(table_figure, "table",
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    for transform in (TableFigures, ImageAltText, TableDownloads, NotebookDownloads):
        app.add_transform(transform)
    for name, directive in (("commit", CommitDirective), ("environment", EnvironmentDirective),
                            ("signatures", SignaturesDirective), ("manifest", ManifestDirective),
                            ("results", ResultsDirective), ("execution", ExecutionDirective)):
        app.add_directive(f"mindpain-{name}", directive)
    # Before sphinx-external-toc expands the toc's globs (its config-inited handler).
    app.connect("config-inited", _api_pages, priority=100)
    app.connect("autodoc-process-docstring", _rubric_headings, priority=600)
    app.connect("autodoc-process-docstring", _escape_bars, priority=610)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-purge-doc", _purge)
    app.connect("env-get-outdated", _report_always_outdated)
    for finish in (_copy_mathjax, _copy_downloads, _write_report_files, _copy_notebooks,
                   _fix_html):
        app.connect("build-finished", finish)
    app.connect("html-page-context", _drop_thebe, priority=900)
    return {"version": "2", "parallel_read_safe": False, "parallel_write_safe": True}
