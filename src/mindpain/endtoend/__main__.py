"""``python -m mindpain.endtoend``: compute and write the end-to-end calibration.

``make calibrate`` runs it (``make calibrate-rekey`` with ``--rekey``). The options shared
with the other stage commands, and the one-line error policy, are
:func:`mindpain.cli.stage_parser` and :func:`mindpain.cli.run_stage`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mindpain.cli import run_stage, stage_parser
from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.endtoend.results import rekey, write_result
from mindpain.endtoend.runner import content_key, run_endtoend
from mindpain.endtoend.settings import DEFAULT_REPLICATIONS, ENDTOEND_PRESET, TABLE_NAME


def main(argv=None) -> int:
    """Compute and write the end-to-end calibration; return the exit status."""
    parser = stage_parser("endtoend", __doc__.splitlines()[0], ENDTOEND_PRESET,
                          PRECOMPUTED_DIR)
    parser.add_argument("--replications", type=int, default=DEFAULT_REPLICATIONS,
                        help="replications per world (the MAR scenario: a sixth)")
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="start no new batch after this many minutes")
    parser.add_argument("--cache", default=None,
                        help="folder of the per-replication files (resume; default "
                             "<work dir>/endtoend-cache)")
    parser.add_argument("--transfer", action="store_true",
                        help="measure what the pipeline does to a latent effect in each world "
                             "(mindpain.endtoend.transfer) and write it: the table into --out, "
                             "the values the twin plants through into its package data")
    parser.add_argument("--transfer-masks", action="store_true",
                        help="with the committed transfer table (--out), measure only each "
                             "grid's analysis-mask shares and rewrite the twin's values")
    parser.add_argument("--rekey", action="store_true",
                        help="check the committed result against the current code on its "
                             "check replications and, if they match, give it the new key")
    args = parser.parse_args(argv)

    def work(cfg) -> str:
        if args.transfer or args.transfer_masks:
            return _transfer(cfg, args)
        if args.rekey:
            key = rekey(args.out, cfg.data_dir)
            return f"{Path(args.out) / TABLE_NAME}: re-keyed (code {key['code'][:12]})"
        budget = None if args.budget_minutes is None else 60 * args.budget_minutes
        # the key of the code that runs (taken before, so a later edit makes the result stale)
        key = content_key(cfg.preset, cfg.seed, args.replications)
        cache = Path(args.cache) if args.cache else Path(cfg.work_dir) / "endtoend-cache"
        table, _, timing = run_endtoend(cfg.seed, args.replications, preset=cfg.preset,
                                        n_jobs=cfg.n_jobs, progress=True, budget_s=budget,
                                        data_dir=cfg.data_dir, cache_root=cache,
                                        book_grid=True)
        path = write_result(table, args.out, key, timing)
        from mindpain.core.store import tables_dir

        write_result(table, tables_dir(cfg), key, timing)
        return (f"wrote {path} (replications {timing['replications']}, "
                f"{timing['wall_s']:.0f} s)")

    return run_stage("endtoend", args, work)


def _transfer(cfg, args) -> str:
    """Measure the pipeline transfer; write its table (``--out``) and the twin's values."""
    from importlib import resources

    from mindpain.core.io import read_tsv, write_json, write_tsv
    from mindpain.endtoend.transfer import (
        TRANSFER_COLUMNS,
        TRANSFER_TABLE,
        mask_ratios,
        measure_transfer,
        transfer_seed,
        write_transfer,
    )
    from mindpain.twin.params import TRANSFER_FILE

    twin = Path(str(resources.files("mindpain.twin").joinpath(TRANSFER_FILE)))
    if args.transfer_masks:
        table = read_tsv(Path(args.out) / TRANSFER_TABLE)
        masks = mask_ratios(cfg.seed)
        write_transfer(table, twin, masks)
        return f"wrote {twin} (mask shares of {masks['preset'].nunique()} grids)"
    n = args.replications
    masks = mask_ratios(cfg.seed)  # every grid: kept in the twin's file ([mask.<world>.<preset>])
    table, per = measure_transfer(cfg.seed, n, preset=cfg.preset, n_jobs=cfg.n_jobs,
                                  progress=True, data_dir=cfg.data_dir, masks=masks)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_tsv(out / TRANSFER_TABLE, table)
    write_tsv(out / TRANSFER_TABLE.replace(".tsv", "_replications.tsv"), per)
    write_json((out / TRANSFER_TABLE).with_suffix(".json"), {
        "columns": TRANSFER_COLUMNS, "preset": cfg.preset, "seed": int(cfg.seed),
        "replications_per_world": int(n),
        "replication_seeds": "mindpain.endtoend.transfer.transfer_seed (tag "
                             "'endtoend-transfer'; disjoint from the evaluation's 'endtoend')",
        "first_seeds": [transfer_seed(cfg.seed, r) for r in range(3)],
        "made_by": "make transfer (python -m mindpain.endtoend --transfer)"})
    write_transfer(table, twin, masks)
    return f"wrote {out / TRANSFER_TABLE} and {twin} ({n} replications per world)"


if __name__ == "__main__":
    sys.exit(main())
