"""Cost of chapter 6 (design analysis, evidence, multiverse) and of `make multiverse`.

Executes ``notebooks/06_design_and_multiverse.md`` once with nbclient on the configured
preset (``--preset``, default ``full``: the book's case, where the multiverse is read from
``book/precomputed/`` and the outcomes come from the cached first level of chapters 2-4),
times its main steps separately in this process, and reads the per-variant first-level
cost of the committed multiverse from ``book/precomputed/multiverse.json``. Writes the
``chapter06`` section of ``benchmarks/results.md``.

Budget (issue): the chapter adds at most about 1-2 min to a cold ``make book`` on 2 cores.

Usage::

    python bench_chapter06.py [--preset full|reduced|small] [--replications 500]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from _machine import BUDGET_HEADER, budget_row, machine_line, replace_section

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CHAPTER = ROOT / "notebooks" / "06_design_and_multiverse.md"


def _timed(func, *args, **kwargs):
    start = time.perf_counter()
    func(*args, **kwargs)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="full")
    parser.add_argument("--replications", type=int, default=500)
    args = parser.parse_args()
    os.environ["MINDPAIN_PRESET"] = args.preset
    os.environ.setdefault("MPLBACKEND", "Agg")
    import jupytext
    import nbclient

    from mindpain.core.config import PRECOMPUTED_DIR, get_config
    from mindpain.design import power as design
    from mindpain.design import retrodesign
    from mindpain.design import sensitivity as power_sensitivity

    cfg = get_config()
    steps = {
        "simulated power (NPS MBSR vs HEP, 3 arm sizes)": _timed(
            design.simulated_power, "full", cfg.seed, "nps", "MBSR_vs_HEP", (10, 20, 28),
            args.replications),
        "power, MDE and type S/M tables": _timed(
            lambda: (design.power_table("full"), retrodesign.retrodesign_table(),
                     retrodesign.exaggeration_curve())),
        "sensitivity sweep": _timed(power_sensitivity.sensitivity, "full"),
    }
    nb = jupytext.read(CHAPTER)
    start = time.perf_counter()
    nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3",
                            resources={"metadata": {"path": str(CHAPTER.parent)}}).execute()
    chapter = time.perf_counter() - start
    lines = [f"### Chapter 6 (`--preset {args.preset}`, `benchmarks/bench_chapter06.py`)", "",
             machine_line(), "", BUDGET_HEADER,
             budget_row("whole chapter executed (s, nbclient)", chapter, 120,
                        ".1f")]
    lines += [budget_row(f"&nbsp;&nbsp;{name} (s)", value, None, ".1f")
              for name, value in steps.items()]
    meta_path = PRECOMPUTED_DIR / "multiverse.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        variants = meta.get("timing", {}).get("variants", {})
        computed = {k: v for k, v in variants.items() if v.get("runs_computed")}
        total = sum(v["seconds"] for v in variants.values())
        runs = sum(v["runs_computed"] for v in computed.values())
        lines += ["", f"`make multiverse` (preset {meta['key']['preset']}, seed "
                  f"{meta['key']['seed']}, {len(variants)} first-level variants, "
                  f"{meta['key']['n_permutations']} permutations), from "
                  "`book/precomputed/multiverse.json`:", "", BUDGET_HEADER,
                  budget_row("first level + scoring, all variants (s)", total, None, ".0f")]
        if runs:
            per_run = sum(v["seconds"] for v in computed.values()) / runs
            lines.append(budget_row("per first-level run, incl. session and scoring (s)",
                                    per_run, None, ".2f"))
        lines.append(budget_row("statistics: curve + permutation null (s)",
                                meta["timing"].get("statistics_seconds", float("nan")), None,
                                ".0f"))
    replace_section(HERE / "results.md", "chapter06", "\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
