"""Benchmark: scoring many maps costs about what loading them costs; memory stays bounded.

Writes the ``scoring`` section of ``benchmarks/results.md`` (``--quick``: a smoke run that
only prints). Maps are byte copies of the 21 real pain21 maps (91 x 109 x 91 float32,
gzip) written to ``benchmarks/_work/scoring/`` (git-ignored), named like BIDS derivatives.

Measures, in one run on the same files:

* load only: ``numpy.asarray(nibabel.load(path).dataobj)`` for every map (nibabel's cheapest
  full read);
* scoring: :func:`mindpain.scoring.score_maps` with NPS + SIIPS1 surrogates, subregions on;
* peak memory (max RSS of a fresh process, and the tracemalloc peak of the scoring call)
  for N and 10 N maps (10 N repeats the N files in the list).

Usage: ``python benchmarks/bench_scoring.py [--quick] [--n 200] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _machine import machine_line, replace_section  # noqa: E402

WORK = HERE / "_work" / "scoring"
RESULTS = HERE / "results.md"
SIGNATURES = ["nps-surrogate", "siips1-surrogate"]
BUDGET_RATIO = 1.2
GROWTH = 10


def make_maps(n: int) -> list[Path]:
    """Write ``n`` pain21-shaped maps (copies of the real ones) and return their paths."""
    from mindpain.datasets import fetch_pain21

    src = fetch_pain21(download=False).maps
    WORK.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(n):
        path = WORK / f"sub-{k + 1:04d}_ses-pre_task-heat_contrast-pain_stat-effect_statmap.nii.gz"
        if not path.exists():
            shutil.copyfile(src[k % len(src)], path)
        paths.append(path)
    return paths


def load_only(paths) -> float:
    import nibabel as nib
    import numpy as np

    t0, c0 = time.perf_counter(), time.process_time()
    for p in paths:
        np.asarray(nib.load(p).dataobj)
    return time.perf_counter() - t0, time.process_time() - c0


def score(paths, metrics=("dot",)) -> float:
    from mindpain.scoring import score_maps

    t0, c0 = time.perf_counter(), time.process_time()
    table = score_maps(paths, SIGNATURES, metrics=metrics, subregions=True)
    elapsed = time.perf_counter() - t0, time.process_time() - c0
    assert len(table) == len(paths) * table.groupby(["signature", "region"]).ngroups * len(
        metrics)
    return elapsed


def child_memory(n_unique: int, n_total: int) -> None:
    """In a fresh process: score ``n_total`` maps (cycling ``n_unique`` files); print peaks."""
    import resource
    import tracemalloc

    from mindpain.signatures import get_signature

    for name in SIGNATURES:  # build the surrogates first: their cost does not grow with N
        get_signature(name)
    paths = make_maps(n_unique)
    paths = [paths[k % n_unique] for k in range(n_total)]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tracemalloc.start()
    seconds = score(paths)[0]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"n": n_total, "rss_mb": rss, "rss_before_mb": rss_before,
                      "traced_peak_mb": peak / 2**20, "seconds": seconds}))


def run_child(n_unique: int, n_total: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", str(n_unique), str(n_total)],
                         check=True, capture_output=True, text=True, env=os.environ.copy())
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny smoke run, prints only")
    parser.add_argument("--n", type=int, default=200, help="number of maps (N)")
    parser.add_argument("--repeats", type=int, default=3, help="timing repeats (min is kept)")
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_memory(*args.child)
        return 0
    n = 10 if args.quick else args.n
    repeats = 1 if args.quick else args.repeats
    paths = make_maps(n)

    from mindpain.signatures import get_signature

    t0 = time.perf_counter()
    for name in SIGNATURES:
        get_signature(name)
    build_s = time.perf_counter() - t0
    score(paths[:2])  # warm-up: imports, plan code paths, page cache
    load_only(paths)
    loads, scores, scores3 = [], [], []
    for _ in range(repeats):  # interleaved so both see the same machine load
        loads.append(load_only(paths))
        scores.append(score(paths))
        scores3.append(score(paths, metrics=("dot", "cosine", "correlation")))
    load_s, score_s, score3_s = (min(t[0] for t in x) for x in (loads, scores, scores3))
    load_c, score_c = min(t[1] for t in loads), min(t[1] for t in scores)
    ratio, ratio3, ratio_cpu = score_s / load_s, score3_s / load_s, score_c / load_c
    load_avg = os.getloadavg()[0]
    mem_n = run_child(n, n)
    mem_10n = run_child(n, GROWTH * n)

    rows = [
        (f"load only (s), nibabel, min of {repeats}", f"{load_s:.2f}", "", ""),
        ("scoring, dot, 2 signatures + subregions (s)", f"{score_s:.2f}", "", ""),
        ("**ratio scoring / load**", f"**{ratio:.2f}**", f"≤ {BUDGET_RATIO}",
         "yes" if ratio <= BUDGET_RATIO else "NO"),
        ("ratio with dot + cosine + correlation", f"{ratio3:.2f}", f"≤ {BUDGET_RATIO}",
         "yes" if ratio3 <= BUDGET_RATIO else "NO"),
        ("ratio of CPU time (process_time), dot", f"{ratio_cpu:.2f}", f"≤ {BUDGET_RATIO}",
         "yes" if ratio_cpu <= BUDGET_RATIO else "NO"),
        ("load average during the run (shared machine)", f"{load_avg:.1f}", "", ""),
        ("building the two surrogates once (s, not in the ratio)", f"{build_s:.1f}", "", ""),
        (f"peak RSS, N = {n} maps (MB)", f"{mem_n['rss_mb']:.0f}", "", ""),
        (f"peak RSS, 10 N = {GROWTH * n} maps (MB)", f"{mem_10n['rss_mb']:.0f}",
         "bounded (≈ N)",
         "yes" if mem_10n["rss_mb"] <= 1.1 * mem_n["rss_mb"] + 20 else "NO"),
        ("traced peak during scoring, N / 10 N (MB)",
         f"{mem_n['traced_peak_mb']:.0f} / {mem_10n['traced_peak_mb']:.0f}", "", ""),
        (f"scoring time 10 N (s; {GROWTH * n / mem_10n['seconds']:.0f} maps/s)",
         f"{mem_10n['seconds']:.1f}", "", ""),
    ]
    text = "\n".join([
        f"### Signature scoring ({n} pain21-shaped maps, `benchmarks/bench_scoring.py`)",
        "",
        machine_line(),
        "Maps: byte copies of the 21 real pain21 maps (91×109×91 float32, .nii.gz), scored "
        "with `nps-surrogate` and `siips1-surrogate` (subregions on), one process, "
        "chunks of 64 maps. Load-only baseline: `numpy.asarray(nibabel.load(p).dataobj)`. "
        "Peak RSS measured in a fresh process per row (includes Python, nilearn and the "
        "surrogates); 10 N repeats the N files in the list.",
        "",
        "| measure | value | budget | within |",
        "|---|---|---|---|",
        *[f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows],
        "",
    ])
    print(text)
    if not args.quick:
        replace_section(RESULTS, "scoring", text)
        print(f"wrote the scoring section of {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
