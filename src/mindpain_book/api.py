"""The API reference pages of the book: one page per module, in sections.

``python -m mindpain_book.buildtools api-pages`` (``make api``) and the book's Sphinx
extension at the start of every build (:mod:`mindpain_book.sphinxext.apidocs`) write
:func:`api_pages` into ``book/api`` (:func:`write_api_pages`). Every module of
:data:`PACKAGES` gets a page; :data:`API_SECTIONS` places each in a section of the index.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from mindpain.core.config import PROJECT_ROOT

#: Sections of the API reference: title -> modules. A subpackage (not a top-level package)
#: listed here brings its modules that are not listed themselves, in name order, right
#: after it; so every module is placed once, and a module added to a subpackage needs no
#: entry.
API_SECTIONS = {
    "Foundations: vocabulary, configuration, errors, files": [
        "mindpain", "mindpain.core", "mindpain.precomputed"],
    "Reading BIDS data": ["mindpain.bids"],
    "The simulated twin": ["mindpain.twin", "mindpain.truth"],
    "Pipeline stages": [
        "mindpain.reported", "mindpain.first_level", "mindpain.signatures", "mindpain.scoring",
        "mindpain.pipeline", "mindpain.trial", "mindpain.meditators", "mindpain.recoverable"],
    "Statistics": ["mindpain.stats"],
    "Design analysis, evidence and the multiverse": [
        "mindpain.design", "mindpain.endtoend", "mindpain.multiverse"],
    "Figures": [
        "mindpain.figures", "mindpain.figures.style", "mindpain.figures.data",
        "mindpain.figures.first_level", "mindpain.figures.signatures", "mindpain.figures.trial",
        "mindpain.figures.meditators", "mindpain.figures.design", "mindpain.figures.viewer"],
    "Command line and build tools": [
        "mindpain.cli", "mindpain_book", "mindpain_book.buildtools", "mindpain_book.execution",
        "mindpain_book.reproducibility", "mindpain_book.api", "mindpain_book.sitecheck",
        "mindpain_book.browser", "mindpain_book.axe", "mindpain_book.screenshots",
        "mindpain_book.verify", "mindpain_book.table_record", "mindpain_book.table_compare",
        "mindpain_book.glue", "mindpain_book.sphinxext"],
}


#: Packages under ``src/`` whose modules get API pages: the science and the book tooling.
PACKAGES = ("mindpain", "mindpain_book")


def package_modules(root: Path = PROJECT_ROOT / "src") -> list[str]:
    """Every importable module of :data:`PACKAGES` except ``__main__``, sorted."""
    names = []
    paths = sorted(p for package in PACKAGES for p in (Path(root) / package).rglob("*.py"))
    for path in paths:
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__main__":
            continue
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names.append(".".join(parts))
    return sorted(names)


#: Title of the index section that holds the modules :data:`API_SECTIONS` does not place.
OTHER_MODULES = "Other modules"


def api_sections(present=None) -> dict[str, list[str]]:
    """Sections of the API index: title -> the modules on it, in order.

    Modules listed in :data:`API_SECTIONS` that do not exist are skipped; a listed
    subpackage brings its unlisted modules; existing modules that are placed nowhere go
    into a last section :data:`OTHER_MODULES` (so a new module is never left out; the test
    suite asks for it to be placed in a section).

    Parameters
    ----------
    present : list of str, optional
        The modules that exist (default: :func:`package_modules`).

    Returns
    -------
    dict
    """
    present = package_modules() if present is None else present
    named = {m for modules in API_SECTIONS.values() for m in modules}
    sections = {title: [n for m in modules for n in (m, *sorted(
        x for x in present if "." in m and x.startswith(m + ".") and x not in named))
        if n in present] for title, modules in API_SECTIONS.items()}
    listed = {m for modules in sections.values() for m in modules}
    others = [m for m in present if m not in listed]
    if others:
        sections[OTHER_MODULES] = others
    return {title: modules for title, modules in sections.items() if modules}


@cache
def _assigned_names(module: str) -> frozenset[str]:
    """Names a module's own source assigns at its top level (its constants), parsed once."""
    import ast
    import importlib
    import inspect

    names = set()
    for node in ast.parse(inspect.getsource(importlib.import_module(module))).body:
        targets = (node.targets if isinstance(node, ast.Assign) else
                   [node.target] if isinstance(node, ast.AnnAssign) else [])
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return frozenset(names)


def reexports(package: str) -> dict[str, str]:
    """Map the names of a package's ``__all__`` that a module under it defines to their paths.

    A package re-exports what its modules define (``from mindpain.bids import find_runs``);
    each is documented once, on the page of the module that defines it
    (``mindpain.bids.query.find_runs``), and listed with a link on the package's page.
    A function or class is found by its ``__module__``, a constant by the module under the
    package whose source assigns it the same object.

    Parameters
    ----------
    package : str
        Dotted name; a module that is not a package has none.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        When a name of ``__all__`` is defined nowhere under the package.
    """
    import importlib
    import inspect

    module = importlib.import_module(package)
    if not hasattr(module, "__path__"):
        return {}
    subs = [importlib.import_module(m) for m in package_modules()
            if m.startswith(package + ".")]
    found = {}
    for name in getattr(module, "__all__", ()):
        obj = getattr(module, name)
        if inspect.ismodule(obj):  # a submodule: its own page
            continue
        home = getattr(obj, "__module__", None) if callable(obj) else None
        if home == package:
            continue
        if isinstance(home, str) and home.startswith(package + "."):
            found[name] = f"{home}.{obj.__qualname__}"
            continue
        if name in _assigned_names(package):
            continue
        homes = [m.__name__ for m in subs
                 if getattr(m, name, None) is obj and name in _assigned_names(m.__name__)]
        if not homes:
            raise ValueError(f"{package}.__all__: {name!r} is defined in no module under it")
        found[name] = f"{homes[0]}.{name}"
    return found


def _module_page(module: str) -> str:
    """Write the MyST source of one module's API page.

    A package's page documents what the package itself defines and lists, with links,
    what it re-exports (:func:`reexports`), so nothing is documented twice.
    """
    names = reexports(module)
    lines = [f"# `{module}`", "", "```{eval-rst}", f".. automodule:: {module}", "   :members:",
             *(["   :ignore-module-all:"] if names else []), "   :show-inheritance:", "```",
             ""]
    if names:
        lines += ["```{rubric} Importable from this package", "```", "",
                  f"`from {module} import ...` takes these names; each is documented on the "
                  "page of the module that defines it:", ""]
        by_home: dict[str, list[str]] = {}
        for name, path in names.items():
            by_home.setdefault(path.rpartition(".")[0], []).append(name)
        for home, members in sorted(by_home.items()):
            links = ", ".join(f"{{py:obj}}`{name} <{home}.{name}>`"
                              for name in sorted(members, key=str.lower))
            lines.append(f"- {{py:mod}}`{home}`: {links}")
        lines.append("")
    return "\n".join(lines)


def api_pages() -> dict[str, str]:
    """Text of the API reference pages: file name (under ``book/api``) -> MyST source.

    One page per module (:func:`_module_page`), and the index, in the sections of
    :func:`api_sections`.
    """
    pages = {}
    index = ["# API reference", "",
             "One page per module of the `mindpain` package, rendered from its numpydoc",
             "docstrings. The chapters link here where they call a function.", ""]
    for title, modules in api_sections().items():
        index += [f"## {title}", ""]
        for module in modules:
            index.append(f"- {{py:mod}}`{module}`")
            pages[f"{module}.md"] = _module_page(module)
        index.append("")
    pages["index.md"] = "\n".join(index)
    return pages


#: Folder of the API reference pages in the book.
ROOT_API = PROJECT_ROOT / "book" / "api"


def write_api_pages(folder: Path = ROOT_API) -> list[Path]:
    """Write :func:`api_pages` into ``folder``; return the files whose text changed.

    The book's extension calls this at the start of every build, so a new module gets its
    page; unchanged pages are not touched (Sphinx would re-read them).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in api_pages().items():
        path = folder / name
        if not path.is_file() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
