"""Diagnostic of issue #23: the pipeline transfer measured under the twin's own planting.

``make transfer`` measures the gain, offset and noise of the pipeline on replications drawn
with the measurement model's planting (``transfer=False``); the twin then plants through
them. This script draws ``N`` replications of the calibration grid **as planted** (the
e2e evaluation's planting, ``transfer=True``) with seeds of their own (tag
:data:`TAG`, disjoint from the evaluation's and the transfer's), keeps each session's
latent responses, and reports per world and signature:

* the offset (mean change the pipeline adds) fitted with one gain, and with one gain per
  latent response (the analysis mask keeps different shares of a signature's loadings on
  the two latents on a coarse grid), in units of the model's change-noise SD, with a
  bootstrap SE over replications;
* per arm, the mean change through the pipeline minus the change the planting aimed at, in
  Monte-Carlo SE.

Usage::

    python benchmarks/transfer_under_planting.py run N [--n-jobs 2] [--out FILE.tsv]
    python benchmarks/transfer_under_planting.py report FILE.tsv [FILE.tsv ...]

Measured 2026-12-07 (100 replications per world, 2 cores, about 45 CPU min): see
``benchmarks/results.md``, "Session 10".
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

#: Seed tag of these replications (the evaluation's is "endtoend", the transfer's
#: "endtoend-transfer").
TAG = "diag-within"


def run(n: int, n_jobs: int, out: str, start: int = 0) -> None:
    """Draw replications ``start``..``n - 1`` of both worlds and write their sessions."""
    from joblib import Parallel, delayed

    from mindpain.core.config import derive_rng, get_config
    from mindpain.endtoend.replication import replicate, surrogate_weights
    from mindpain.endtoend.settings import ENDTOEND_PRESET
    from mindpain.twin.params import load_parameters

    seed = get_config().seed
    params = {w: load_parameters(ENDTOEND_PRESET, w) for w in ("ideal", "realistic")}
    weights = surrogate_weights(params["ideal"])

    def one(world, r):
        rep_seed = int(derive_rng(seed, TAG, r).integers(2**31 - 1))
        return replicate(params[world], seed, r, weights, rep_seed=rep_seed,
                         latent=True).assign(world=world)

    frames = Parallel(n_jobs=n_jobs)(delayed(one)(w, r) for r in range(start, n)
                                     for w in ("ideal", "realistic"))
    pd.concat(frames).to_csv(out, sep="\t", index=False)


#: Columns of the summary table (``report --table``), committed as
#: ``book/precomputed/transfer_under_planting.tsv`` for chapter 4.
COLUMNS = {
    "world": "twin world the replications were drawn in",
    "readout": "signature (open surrogate): nps or siips1",
    "replications": "replications (calibration grid, drawn as the twin plants them)",
    "offset_ratio": "mean change the pipeline adds, fitted with one gain per latent response, "
                    "in SD of the model's change noise",
    "offset_ratio_se": "its bootstrap SE over replications",
    "planted_offset_ratio": "the offset the twin plants through (make transfer)",
    "arm_MBSR": "MBSR arm: mean change through the pipeline minus the planting's aim",
    "arm_HEP": "HEP arm: the same",
    "arm_WL": "WL arm: the same",
    "change_noise_sd": "the model's change-noise SD (score units): the offsets' unit",
}


def report(paths, table=None) -> pd.DataFrame:
    """Print the offsets and the per-arm deviations of the sessions in ``paths``.

    With ``table``, also write the summary (:data:`COLUMNS`) there with a JSON sidecar.
    """
    from mindpain.endtoend.settings import ENDTOEND_PRESET as preset
    from mindpain.endtoend.transfer import _readout_rows
    from mindpain.twin.model import (
        derive_constants,
        effect_targets,
        pooled_change_sd,
        solve_group_shifts,
    )
    from mindpain.twin.params import load_parameters
    from mindpain.twin.patterns import LATENTS

    data = pd.concat([pd.read_csv(p, sep="\t") for p in paths])
    rows = []
    for world, g in data.groupby("world"):
        params = load_parameters(preset, world, True)
        loadings, noise_var = _readout_rows(params)
        const = derive_constants(params)
        wide = g.pivot_table(index=["replication", "participant_id", "group"],
                             columns="session",
                             values=["nps", "siips1", *LATENTS]).dropna().reset_index()
        reps = wide["replication"].to_numpy()
        print(f"{world}: {len(np.unique(reps))} replications")
        for j, o in enumerate(("nps", "siips1")):
            dm = (wide[(o, "post")] - wide[(o, "pre")]).to_numpy()
            da = np.column_stack([(wide[(k, "post")] - wide[(k, "pre")]).to_numpy()
                                  for k in LATENTS]) * loadings[j]
            scale = np.sqrt(2 * noise_var[j])
            one = np.column_stack([np.ones(len(dm)), da.sum(1)])
            per = np.column_stack([np.ones(len(dm)), da])
            c1 = np.linalg.lstsq(one, dm, rcond=None)[0]
            c2 = np.linalg.lstsq(per, dm, rcond=None)[0]
            rng = np.random.default_rng(0)
            ur = np.unique(reps)
            boot = []
            for _ in range(200):
                idx = np.concatenate([np.flatnonzero(reps == r)
                                      for r in rng.choice(ur, len(ur))])
                boot.append(np.linalg.lstsq(per[idx], dm[idx], rcond=None)[0][0])
            planted = const.pipeline_transfer[o]
            print(f"  {o}: offset {c1[0] / scale:+.4f} (one gain {c1[1]:.3f}), "
                  f"{c2[0] / scale:+.4f} +- {np.std(boot) / scale:.4f} (gain per latent "
                  f"{np.round(c2[1:], 3).tolist()}); planted offset "
                  f"{planted['offset_ratio']:+.4f}, gain {planted['gain']:.3f}")
            sd = const.pipeline_change_sd[o]
            targets = effect_targets(params, o)
            pooled = pooled_change_sd(sd)
            aimed = solve_group_shifts({k: v * (sd[k.split("_")[0]] if k.endswith("_within")
                                                else pooled) for k, v in targets.items()}, 1.0)
            arms = (pd.DataFrame({"rep": reps, "group": wide["group"], "chg": dm})
                    .groupby(["rep", "group"])["chg"].mean().unstack())
            parts, row = [], {"world": world, "readout": o, "replications": len(ur),
                              "offset_ratio": float(c2[0] / scale),
                              "offset_ratio_se": float(np.std(boot) / scale),
                              "planted_offset_ratio": float(planted["offset_ratio"]),
                              "change_noise_sd": float(scale)}
            for arm, value in aimed.items():
                diff = arms[arm].mean() - value
                se = arms[arm].std(ddof=1) / np.sqrt(len(arms))
                parts.append(f"{arm} {diff:+.4f} ({diff / se:+.1f} SE)")
                row[f"arm_{arm}"] = float(diff)
            rows.append(row)
            print("     mean change minus the planting's aim: " + "; ".join(parts))
    summary = pd.DataFrame(rows)[list(COLUMNS)]
    if table is not None:
        from mindpain.core.store import write_table

        write_table(summary, table, COLUMNS,
                    made_by="python benchmarks/transfer_under_planting.py report ... --table",
                    seed_tag=TAG)
    return summary


def main(argv=None) -> int:
    """Parse the command line and run ``run`` or ``report``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    r = sub.add_parser("run")
    r.add_argument("n", type=int)
    r.add_argument("--start", type=int, default=0)
    r.add_argument("--n-jobs", type=int, default=1)
    r.add_argument("--out", default="transfer_under_planting.tsv")
    p = sub.add_parser("report")
    p.add_argument("paths", nargs="+")
    p.add_argument("--table", default=None, help="also write the summary table here")
    args = parser.parse_args(argv)
    if args.what == "run":
        run(args.n, args.n_jobs, args.out, args.start)
    else:
        report(args.paths, args.table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
