"""The reproducibility report's page: directives that render it, files offered beside it.

The directives ``mindpain-commit``, ``mindpain-environment``, ``mindpain-signatures``,
``mindpain-manifest``, ``mindpain-results`` and ``mindpain-execution`` render the report
from :mod:`mindpain_book.reproducibility`; ``mindpain-reproduction`` shows how
``make reproduce-check`` compares tables (:mod:`mindpain_book.table_compare`). The page
that uses them (``mindpain_report_page``) is read last and on every build, so it describes
the chapters as executed.
"""

from __future__ import annotations

from pathlib import Path

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

from mindpain_book import reproducibility
from mindpain_book.sphinxext.downloads import relative_uri

#: Where the reproducibility report's manifest files are written, inside the HTML output.
REPORT_DOWNLOADS = "_downloads/reproducibility"


def _init_env(app, env, docnames) -> None:
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
    cache = getattr(env, "_mindpain_report", None)
    if cache is None:
        build_dir = Path(env.app.doctreedir).parent
        cache = reproducibility.collect(hash_cache=build_dir / ".mindpain-sha256-cache.json")
        env._mindpain_report = cache
    return cache


class CommitDirective(SphinxDirective):
    """The git commit the book was built from, as a paragraph."""

    def run(self):  # noqa: D102 (see the class)
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
            uri = relative_uri(self.env.app, self.env.docname, f"{REPORT_DOWNLOADS}/{name}")
            para += nodes.reference("", name, refuri=uri, internal=False, classes=["download"])
        return [*self._wrap(table), para]


class ResultsDirective(_ReportDirective):
    """sha256 of every results table (and sidecar)."""

    def run(self):  # noqa: D102 (see the class)
        rows = [[path, size, sha] for root, path, size, sha in _report(self.env)["files"]
                if root == "results"]
        return self._wrap(_table(["file", "bytes", "sha256"], rows, [2, 1, 4]))


class ReproductionDirective(_ReportDirective):
    """How ``make reproduce-check`` compares a table (``:part: rules``) or the reference."""

    option_spec = {"caption": directives.unchanged, "name": directives.unchanged,
                   "part": directives.unchanged}

    def run(self):  # noqa: D102 (see the class)
        from mindpain_book import table_compare

        if self.options.get("part", "rules") == "rules":
            return self._wrap(_table(["kind of column", "what it holds", "reproduced when"],
                                     table_compare.rule_rows(), [1, 3, 3]))
        rows = table_compare.reference_rows()
        return self._wrap(_table(["reference table", "rows", "value columns", "count columns",
                                  "label columns"], rows, [3, 1, 1, 1, 1]))


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
    reproducibility.write_manifest(report, Path(app.outdir) / REPORT_DOWNLOADS)


def setup(app):
    """Register the report's directives and its manifest files with Sphinx."""
    app.add_config_value("mindpain_report_page", "book/reproducibility", "env")
    for name, directive in (("commit", CommitDirective), ("environment", EnvironmentDirective),
                            ("signatures", SignaturesDirective), ("manifest", ManifestDirective),
                            ("results", ResultsDirective), ("execution", ExecutionDirective),
                            ("reproduction", ReproductionDirective)):
        app.add_directive(f"mindpain-{name}", directive)
    app.connect("env-before-read-docs", _init_env)
    app.connect("env-get-outdated", _report_always_outdated)
    app.connect("build-finished", _write_report_files)
    return {"version": "2", "parallel_read_safe": False, "parallel_write_safe": True}
