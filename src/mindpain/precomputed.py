"""Tables committed with the book (``book/precomputed/``), reused while their key matches.

Some results cost minutes but depend only on code, parameters and the seed: the trial's and
the meditator analyses' participant-level calibrations and the twin's two-world recovery
table. Each is cached in the results folder under a content key (its JSON sidecar's
``key``) by :func:`mindpain.core.store.cached_table`; a copy committed in
:data:`mindpain.core.config.PRECOMPUTED_DIR` lets a fresh clone skip the computation. The cache
looks there before computing (``committed=``): when the committed copy's key equals the
current one (same code, parameters, seed and settings), the copy is taken
(:func:`mindpain.core.store.adopt`); when it differs (the code changed) the table is computed as if
nothing were committed. Nothing stale is ever used.

``make precompute`` (``python -m mindpain.precomputed``) recomputes the committed copies;
chapter 6's multiverse has its own (``make multiverse``).
"""

from __future__ import annotations

from mindpain.core.config import PRECOMPUTED_DIR, PROJECT_ROOT


def main() -> int:
    """Recompute every committed table into :data:`~mindpain.core.config.PRECOMPUTED_DIR`."""
    from mindpain.core.config import get_config
    from mindpain.first_level import realism
    from mindpain.meditators import calibration as meditator_calibration
    from mindpain.trial import calibration as trial_calibration

    cfg = get_config(results_dir=PRECOMPUTED_DIR)
    for name, make in (
            ("trial_coverage.tsv", lambda: trial_calibration.load_or_calibrate(cfg)),
            ("meditator_coverage.tsv", lambda: meditator_calibration.load_or_calibrate(cfg)),
            ("twin recovery", lambda: realism.recovery_cached(
                PRECOMPUTED_DIR, preset="small", seed=cfg.seed))):
        make()
        print(f"{PRECOMPUTED_DIR.relative_to(PROJECT_ROOT)}: {name} current (seed {cfg.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
