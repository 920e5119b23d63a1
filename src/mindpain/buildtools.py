"""Build helpers called by the Makefile: cache keying and the offline check of the site.

``python -m mindpain.buildtools prepare-book --preset P --seed S [--build-dir D]``
    Empty the build folder (execution cache and Sphinx environment) when anything their
    keys cannot see changed: the preset, the seed, a user dataset, the package code or the
    pinned environment. (jupyter-cache keys a notebook by its code cells only; Sphinx
    re-reads only changed sources.)
``python -m mindpain.buildtools check-site HTML_DIR``
    Fail when a built page loads a script, style, image or frame from outside.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import sys
from html.parser import HTMLParser
from pathlib import Path

from mindpain.config import PROJECT_ROOT

_LOADING = {"script": "src", "img": "src", "iframe": "src", "audio": "src", "video": "src",
            "source": "src", "embed": "src", "link": "href"}


def cache_key(preset: str, seed: int) -> str:
    """Digest of everything that changes chapter outputs but not their code cells."""
    digest = hashlib.sha256()
    digest.update(f"{preset}\n{seed}\n{os.environ.get('MINDPAIN_BIDS', '')}\n".encode())
    digest.update(f"{os.environ.get('MINDPAIN_DATA', '')}\n".encode())
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


def main(argv=None) -> int:
    """Command line of the build helpers."""
    parser = argparse.ArgumentParser(prog="python -m mindpain.buildtools")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare-book")
    p.add_argument("--preset", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--build-dir", type=Path, default=PROJECT_ROOT / "_build")
    p = sub.add_parser("check-site")
    p.add_argument("html_dir", type=Path)
    args = parser.parse_args(argv)
    if args.command == "prepare-book":
        if prepare_book(args.preset, args.seed, args.build_dir):
            print("build cache cleared: preset, seed, data or code changed")
        return 0
    if not (args.html_dir / "index.html").is_file():
        print(f"{args.html_dir}: no index.html; build the book first", file=sys.stderr)
        return 2
    bad = external_resources(args.html_dir)
    for page, urls in bad.items():
        print(f"{page}: loads from outside: {', '.join(urls)}", file=sys.stderr)
    if not bad:
        print(f"{args.html_dir}: no page loads anything from outside")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
