"""Build helpers called by the Makefile: cache keying, the reproducibility report, site checks.

``python -m mindpain_book.buildtools prepare-book --preset P --seed S [--build-dir D]``
    Empty the build folder (execution cache and Sphinx environment) when anything their
    keys cannot see changed: the preset, the seed, a user dataset, the package code or the
    pinned environment. (jupyter-cache keys a notebook by its code cells only; Sphinx
    re-reads only changed sources.)
``python -m mindpain_book.buildtools check-site HTML_DIR [--axe]``
    Fail when a built page loads a script, style, image or frame from outside, when an image
    has no alt text, a viewer frame no title or a chapter's figure no per-chapter number;
    with ``--axe``, also when axe-core finds a serious or critical accessibility violation.
``python -m mindpain_book.buildtools verify [--preset small]``
    Compute the results tables twice, from scratch, into two folders, and fail unless the
    two are byte-identical.

The reproducibility report of the book (``book/reproducibility.md``) is made from
:func:`collect` (data manifest), :func:`python_info`, :func:`package_versions`,
:func:`blas_info` and :func:`git_commit`; none of them records a host name, a path on the
build machine or a date, so two builds of one commit on one machine give the same report
(the chapters' execution times aside).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from importlib import metadata
from pathlib import Path

from mindpain.config import PROJECT_ROOT
from mindpain.io import sha256

_LOADING = {"script": "src", "img": "src", "iframe": "src", "audio": "src", "video": "src",
            "source": "src", "embed": "src", "link": "href"}


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


class _ResourceFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.external = []

    def handle_starttag(self, tag, attrs):
        attr = _LOADING.get(tag)
        if attr is None:
            return
        values = dict(attrs)
        if tag == "link" and values.get("rel") not in ("stylesheet", "preload", "icon",
                                                        "modulepreload"):
            return
        url = values.get(attr) or ""
        if re.match(r"^(https?:)?//", url):
            self.external.append(f"<{tag} {attr}={url}>")


def external_resources(html_dir) -> dict:
    """Map each built page to the outside resources it would load (empty when offline)."""
    found = {}
    for page in sorted(Path(html_dir).rglob("*.html")):
        finder = _ResourceFinder()
        finder.feed(page.read_text(errors="replace"))
        if finder.external:
            found[str(page)] = finder.external
    return found


# --- reproducibility report -----------------------------------------------------------------

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
    from mindpain.config import get_config
    from mindpain.datasets import pain21_dir
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
    from mindpain.config import get_config
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
                  for s in default_signatures(cfg)]
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


# --- API reference pages --------------------------------------------------------------------

#: Sections of the API reference: title -> modules (every module of the package, once).
API_SECTIONS = {
    "Vocabulary, configuration and input/output": [
        "mindpain", "mindpain.vocabulary", "mindpain.config", "mindpain.errors", "mindpain.io",
        "mindpain.precomputed",
        "mindpain.images",
        "mindpain.bids", "mindpain.bids.query", "mindpain.bids.tables", "mindpain.bids.images",
        "mindpain.dataset", "mindpain.datasets"],
    "The simulated twin": [
        "mindpain.twin", "mindpain.twin.params", "mindpain.twin.model",
        "mindpain.twin.participants", "mindpain.twin.patterns", "mindpain.twin.task",
        "mindpain.twin.bold", "mindpain.twin.nuisance", "mindpain.twin.run",
        "mindpain.twin.bids", "mindpain.twin.generate", "mindpain.twin.meditators",
        "mindpain.realism", "mindpain.truth"],
    "Pipeline stages": [
        "mindpain.reported", "mindpain.glm", "mindpain.first_level",
        "mindpain.first_level_outputs", "mindpain.group_level", "mindpain.signatures",
        "mindpain.surrogates", "mindpain.scoring", "mindpain.scoring.maps",
        "mindpain.scoring.plan", "mindpain.scoring.engine", "mindpain.scoring.outputs",
        "mindpain.scoring.cli", "mindpain.pipeline", "mindpain.trial_models", "mindpain.trial",
        "mindpain.trial_calibration", "mindpain.meditator_models", "mindpain.meditators",
        "mindpain.meditator_calibration"],
    "Statistics": ["mindpain.stats", "mindpain.stats.effect_sizes", "mindpain.stats.multiplicity"],
    "Design analysis, evidence and the multiverse": [
        "mindpain.design", "mindpain.evidence", "mindpain.multiverse", "mindpain.endtoend"],
    "Figures": [
        "mindpain.figures", "mindpain.figures.style", "mindpain.figures.data",
        "mindpain.figures.first_level", "mindpain.figures.signatures", "mindpain.figures.trial",
        "mindpain.figures.meditators", "mindpain.figures.design", "mindpain.figures.viewer"],
    "Command line and build tools": [
        "mindpain.cli", "mindpain_book", "mindpain_book.buildtools",
        "mindpain_book.sphinxext"],
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


def api_pages() -> dict[str, str]:
    """Text of the API reference pages: file name (under ``book/api``) -> MyST source.

    Modules listed in :data:`API_SECTIONS` that do not exist are skipped; existing modules
    that are not listed go into a section "Other modules" (so a new module is never left
    out; the test suite asks for it to be placed in a section).
    """
    present = package_modules()
    listed = [m for modules in API_SECTIONS.values() for m in modules]
    sections = dict(API_SECTIONS)
    others = [m for m in present if m not in listed]
    if others:
        sections["Other modules"] = others
    pages = {}
    index = ["# API reference", "",
             "One page per module of the `mindpain` package, rendered from its numpydoc",
             "docstrings. The chapters link here where they call a function.", ""]
    for title, modules in sections.items():
        modules = [m for m in modules if m in present]
        if not modules:
            continue
        index += [f"## {title}", ""]
        for module in modules:
            index.append(f"- {{py:mod}}`{module}`")
            pages[f"{module}.md"] = "\n".join([
                f"# `{module}`", "", "```{eval-rst}", f".. automodule:: {module}",
                "   :members:", "   :show-inheritance:", "```", ""])
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


# --- checks of the built site ---------------------------------------------------------------

def _describes(alt: str | None, src: str | None) -> bool:
    """Whether ``alt`` is text about an image rather than empty or its file name."""
    alt = (alt or "").strip()
    if not alt or alt == (src or "").strip():
        return False
    return not re.fullmatch(r"[\w./-]*\.(png|jpe?g|gif|svg|webp)", alt, flags=re.I)


class _PageAudit(HTMLParser):
    """Images without alt text, frames without a title, and figure caption numbers."""

    def __init__(self):
        super().__init__()
        self.images_without_alt = []
        self.frames_without_title = []
        self.frames = 0
        self.figures = 0
        self.caption_numbers = []
        self._figure_depth = 0
        self._caption_number = False
        self._figure_numbered = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "img" and not _describes(values.get("alt"), values.get("src")):
            self.images_without_alt.append(values.get("src", "?")[:80])
        if tag == "iframe":
            self.frames += 1
            if not (values.get("title") or "").strip():
                self.frames_without_title.append(values.get("src", "srcdoc")[:80])
            if values.get("srcdoc"):
                inner = _PageAudit()
                inner.feed(values["srcdoc"])
                self.images_without_alt += inner.images_without_alt
                self.frames_without_title += inner.frames_without_title
        if tag == "figure":
            self.figures += 1
            self._figure_numbered.append(False)
        if tag == "span" and "caption-number" in (values.get("class") or "").split():
            self._caption_number = True

    def handle_endtag(self, tag):
        if tag == "figure" and self._figure_numbered:
            if not self._figure_numbered.pop():
                self.caption_numbers.append("")
        if tag == "span":
            self._caption_number = False

    def handle_data(self, data):
        if self._caption_number and data.strip():
            self.caption_numbers.append(data.strip())
            if self._figure_numbered:
                self._figure_numbered[-1] = True
            self._caption_number = False


def audit_page(html: str) -> _PageAudit:
    """Parse one built page for :func:`site_problems`."""
    audit = _PageAudit()
    audit.feed(html)
    return audit


_CAPTION = re.compile(r"^(Figure|Table) (\d+)\.(\d+)$")


def site_problems(html_dir, chapters_dir: str = "notebooks") -> list[str]:
    """List accessibility and numbering problems of a built site (empty when none).

    Every ``<img>`` (also inside a viewer frame's ``srcdoc``) needs non-empty alt text and
    every ``<iframe>`` a title; on chapter pages (under ``chapters_dir``) every figure needs
    a per-chapter number, "Figure C.N" or "Table C.N", with one chapter number C per page.
    """
    html_dir = Path(html_dir)
    problems = []
    for page in sorted(html_dir.rglob("*.html")):
        if "_static" in page.relative_to(html_dir).parts:
            continue
        audit = audit_page(page.read_text(errors="replace"))
        name = page.relative_to(html_dir).as_posix()
        problems += [f"{name}: image without alt text: {src}" for src in audit.images_without_alt]
        problems += [f"{name}: frame without title: {src}" for src in audit.frames_without_title]
        if page.parent.name != chapters_dir:
            continue
        chapters = set()
        for number in audit.caption_numbers:
            match = _CAPTION.match(number)
            if not match:
                problems.append(f"{name}: figure without a per-chapter number: {number!r}")
            else:
                chapters.add(match.group(2))
        if len(chapters) > 1:
            problems.append(f"{name}: figures numbered in several chapters: {sorted(chapters)}")
    return problems


def axe_script() -> Path:
    """axe-core's ``axe.min.js`` as shipped in the ``axe-playwright-python`` wheel."""
    from importlib import resources

    path = Path(str(resources.files("axe_playwright_python"))) / "axe.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: axe-core not found; install axe-playwright-python")
    return path


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def axe_violations(pages, impacts=("serious", "critical"), chromium: str = CHROMIUM) -> dict:
    """Run axe-core on each page (and its frames) in headless Chromium.

    Returns
    -------
    dict
        Page -> list of ``"rule (impact): n nodes: first target"`` for each violation whose
        impact is in ``impacts``; pages without such violations are left out. Requests
        other than ``file:``/``data:``/``blob:``/``about:`` are listed under ``"requests"``.
    """
    from playwright.sync_api import sync_playwright

    script = axe_script().read_text(encoding="utf-8")
    found, outside = {}, []
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = context.new_page()
        page.on("request", lambda r: None if r.url.startswith(
            ("file:", "data:", "blob:", "about:")) else outside.append(r.url))
        for path in pages:
            page.goto(Path(path).resolve().as_uri(), wait_until="load")
            page.wait_for_timeout(300)
            for frame in page.frames:
                frame.evaluate(script)
            result = page.evaluate(
                "async () => await axe.run(document, {resultTypes: ['violations']})")
            bad = [f"{v['id']} ({v['impact']}): {len(v['nodes'])} nodes: "
                   f"{v['nodes'][0]['target'] if v['nodes'] else ''}"
                   for v in result["violations"] if v.get("impact") in impacts]
            if bad:
                found[str(path)] = bad
        context.close()
    if outside:
        found["requests"] = sorted(set(outside))
    return found


# --- verify: results built twice -------------------------------------------------------------

#: Chapters that write the results tables (each computes what it needs from the dataset).
RESULT_CHAPTERS = ("04_randomized_trial", "05_long_term_meditators")


def run_chapter(chapter: Path, env: dict, timeout: int = 1800) -> None:
    """Execute one MyST chapter (jupytext + nbclient) with ``env`` as its environment."""
    import jupytext
    import nbclient

    nb = jupytext.read(chapter)
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(chapter.parent)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def build_results(out: Path, preset: str, chapters=RESULT_CHAPTERS) -> list:
    """Generate the data and results tables from scratch under ``out``; return the manifest."""
    out = Path(out)
    env = dict(os.environ, MINDPAIN_PRESET=preset, MINDPAIN_WORK=str(out / "work"),
               MINDPAIN_RESULTS=str(out / "results"), MPLBACKEND="Agg")
    env.pop("MINDPAIN_BIDS", None)
    for name in chapters:
        run_chapter(PROJECT_ROOT / "notebooks" / f"{name}.md", env)
    return [("results", *row) for row in hash_tree(out / "results")] + \
        [("work", *row) for row in hash_tree(out / "work")]


def compare_builds(first: list, second: list) -> list[str]:
    """Differences between two manifests of :func:`build_results` (empty when identical)."""
    a = {(root, path): sha for root, path, _, sha in first}
    b = {(root, path): sha for root, path, _, sha in second}
    problems = [f"{root}/{path}: only in the first build" for root, path in sorted(a.keys() - b)]
    problems += [f"{root}/{path}: only in the second build" for root, path in sorted(b.keys() - a)]
    problems += [f"{root}/{path}: differs" for root, path in sorted(a.keys() & b.keys())
                 if a[root, path] != b[root, path]]
    return problems


def _same_but_location(first: Path, second: Path, relpath: str) -> bool:
    """Whether ``relpath`` in two build folders differs only by the folders' own paths."""
    try:
        a = (Path(first) / relpath).read_text()
        b = (Path(second) / relpath).read_text()
    except (OSError, UnicodeDecodeError):
        return False
    return a.replace(str(first), "<build>") == b.replace(str(second), "<build>")


def verify(preset: str = "small", keep: Path | None = None, jobs: int = 1) -> int:
    """Build the results twice from scratch and compare them byte for byte (exit status).

    With ``jobs`` 2 the two builds run at once, in two processes.
    """
    from concurrent.futures import ProcessPoolExecutor

    base = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="mindpain-verify-"))
    try:
        folders = [base / name for name in ("first", "second")]
        with ProcessPoolExecutor(max_workers=max(1, min(int(jobs), 2))) as pool:
            builds = list(pool.map(build_results, folders, [preset] * 2))
        problems, located = [], []
        for line in compare_builds(*builds):
            path = line.rsplit(": ", 1)[0]
            if line.endswith(": differs") and _same_but_location(*folders, path):
                located.append(path)
            else:
                problems.append(line)
        for path in located:
            print(f"{path}: identical except for the build folder's own path, which it records")
        for line in problems:
            print(line, file=sys.stderr)
        n_tables = sum(1 for root, *_ in builds[0] if root == "results")
        if not problems:
            print(f"verify ({preset}): {n_tables} results files and {len(builds[0]) - n_tables} "
                  "data files byte-identical in two builds from scratch")
        return 1 if problems or not n_tables else 0
    finally:
        if keep is None:
            shutil.rmtree(base, ignore_errors=True)


# --------------------------------------------------------------------------- execution

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


def _read_notebook(path: Path):
    """Read a MyST notebook as myst-nb reads it when it builds the page."""
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    text = path.read_text()
    reader = create_nb_reader(str(path), MdParserConfig(), NbParserConfig(), text)
    return reader.read(text)


def _execute_one(path: str, timeout: int, allow_errors: bool):
    """Worker: execute one notebook in its folder; return ``(notebook, seconds, error)``."""
    from jupyter_cache.executors.utils import single_nb_execution

    nb = _read_notebook(Path(path))
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=allow_errors, meta_override=True)
    error = None if result.err is None else (result.exc_string or repr(result.err))
    return nb, result.time, error


def stage_data() -> int:
    """Make the data every chapter reads, once, before the chapters run side by side.

    The configured dataset (the twin, generated if absent), its first level (``n_jobs``
    workers, with progress) and the session scores; each is a no-op when up to date.
    """
    from mindpain.config import get_config
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
            cache.match_cache_notebook(_read_notebook(path))
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


def main(argv=None) -> int:
    """Command line of the build helpers."""
    parser = argparse.ArgumentParser(prog="python -m mindpain_book.buildtools")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare-book")
    p.add_argument("--preset", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--build-dir", type=Path, default=PROJECT_ROOT / "_build")
    p = sub.add_parser("check-site")
    p.add_argument("html_dir", type=Path)
    p.add_argument("--axe", action="store_true",
                   help="also run axe-core in headless Chromium (serious/critical fail)")
    sub.add_parser("api-pages", help="write book/api/*.md, one page per module")
    sub.add_parser("stage-data", help="twin, first level and scores of the configured "
                                      "dataset, before the chapters run")
    p = sub.add_parser("execute", help="execute the chapters in parallel into the build's "
                                       "execution cache (jupyter-book then reuses them)")
    p.add_argument("--build-dir", type=Path, default=PROJECT_ROOT / "_build")
    p.add_argument("--jobs", type=int, default=2)
    p = sub.add_parser("verify")
    p.add_argument("--preset", choices=("small", "full"), default="small")
    p.add_argument("--keep", type=Path, default=None,
                   help="build into this folder and keep it (default: a temporary folder)")
    p.add_argument("--jobs", type=int, choices=(1, 2),
                   default=2 if os.environ.get("MINDPAIN_N_JOBS", "1") != "1" else 1,
                   help="2: run both builds at once (default: 2 when $MINDPAIN_N_JOBS > 1)")
    args = parser.parse_args(argv)
    if args.command == "prepare-book":
        if prepare_book(args.preset, args.seed, args.build_dir):
            print("build cache cleared: preset, seed, data or code changed")
        return 0
    if args.command == "stage-data":
        return stage_data()
    if args.command == "execute":
        return execute_chapters(args.build_dir, args.jobs)
    if args.command == "api-pages":
        for path in write_api_pages():
            print(path.relative_to(PROJECT_ROOT))
        return 0
    if args.command == "verify":
        return verify(args.preset, args.keep, args.jobs)
    if not (args.html_dir / "index.html").is_file():
        print(f"{args.html_dir}: no index.html; build the book first", file=sys.stderr)
        return 2
    bad = external_resources(args.html_dir)
    for page, urls in bad.items():
        print(f"{page}: loads from outside: {', '.join(urls)}", file=sys.stderr)
    problems = site_problems(args.html_dir)
    if args.axe:
        pages = [p for p in sorted(args.html_dir.rglob("*.html"))
                 if "_static" not in p.relative_to(args.html_dir).parts]
        problems += [f"{page}: {line}" for page, lines in axe_violations(pages).items()
                     for line in lines]
    for line in problems:
        print(line, file=sys.stderr)
    if not bad and not problems:
        print(f"{args.html_dir}: no page loads anything from outside; every image has alt "
              "text, every frame a title, every chapter figure a number"
              + ("; axe-core: no serious or critical violation" if args.axe else ""))
    return 1 if bad or problems else 0

if __name__ == "__main__":
    sys.exit(main())
