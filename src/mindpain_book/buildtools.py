"""The build helpers' command line: what the Makefile calls.

``python -m mindpain_book.buildtools prepare-book --preset P --seed S [--build-dir D]``
    Empty the build folder (execution cache and Sphinx environment) when anything their
    keys cannot see changed: the preset, the seed, a user dataset, the package code or the
    pinned environment (:func:`mindpain_book.execution.prepare_book`).
``python -m mindpain_book.buildtools stage-data``
    The twin, first level and scores of the configured dataset, before the chapters run
    (:func:`mindpain_book.execution.stage_data`).
``python -m mindpain_book.buildtools execute [--build-dir D] [--jobs N]``
    The chapters ``N`` at a time into the build's execution cache, which jupyter-book then
    reuses (:func:`mindpain_book.execution.execute_chapters`).
``python -m mindpain_book.buildtools check-site HTML_DIR [--axe]``
    Fail when a built page loads a script, style, image or frame from outside, when an image
    has no alt text, a viewer frame no title or a chapter's figure no per-chapter number;
    with ``--axe``, also when axe-core finds a serious or critical accessibility violation
    (:func:`mindpain_book.sitecheck.check_site`).
``python -m mindpain_book.buildtools install-axe``
    axe-core from the npm registry, pinned by version and integrity, into the virtual
    environment, unless there already (:func:`mindpain_book.axe.install`).
``python -m mindpain_book.buildtools screenshots HTML_DIR --out DIR [--all]``
    Full-page PNGs of the landing page and every chapter (``--all``: every page but the API
    reference) at 1,400 px and 390 px (:func:`mindpain_book.screenshots.main`).
``python -m mindpain_book.buildtools api-pages``
    Write ``book/api/*.md``, one page per module (:func:`mindpain_book.api.write_api_pages`).
``python -m mindpain_book.buildtools verify [--preset small]``
    Compute the results tables twice, from scratch, into two folders, and fail unless the
    two are byte-identical (:func:`mindpain_book.verify.verify`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from mindpain.core.config import PROJECT_ROOT
from mindpain_book import axe, screenshots
from mindpain_book.api import write_api_pages
from mindpain_book.execution import execute_chapters, prepare_book, stage_data
from mindpain_book.sitecheck import check_site
from mindpain_book.verify import verify


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
    sub.add_parser("install-axe", help="axe-core from the npm registry (pinned) into .venv")
    p = sub.add_parser("screenshots", help="full-page PNGs of the chapters at 1,400 and 390 px")
    p.add_argument("html_dir", type=Path)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--all", action="store_true", help="every page but the API reference")
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
    if args.command == "install-axe":
        return axe.install()
    if args.command == "screenshots":
        return screenshots.main(args.html_dir, args.out, args.all)
    if args.command == "verify":
        return verify(args.preset, args.keep, args.jobs)
    return check_site(args.html_dir, args.axe)


if __name__ == "__main__":
    sys.exit(main())
