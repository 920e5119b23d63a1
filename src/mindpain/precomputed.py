"""Tables committed with the book (``book/precomputed/``), reused while their key matches.

Some results cost minutes but depend only on code, parameters and the seed: the trial's and
the meditator analyses' participant-level calibrations and the twin's two-world recovery
table. Each is cached in the results folder under a content key (its JSON sidecar's
``key``); a copy committed here lets a fresh clone skip the computation. A cache function
calls :func:`adopt` before computing: when the committed copy's key equals the current one
(same code, parameters, seed and settings), the copy is taken; when it differs (the code
changed) the table is computed as if nothing were committed. Nothing stale is ever used.

``make precompute`` (``python -m mindpain.precomputed``) recomputes the committed copies;
chapter 6's multiverse has its own (``make multiverse``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from mindpain.config import PROJECT_ROOT

#: Folder of the committed tables.
FOLDER = PROJECT_ROOT / "book" / "precomputed"


def adopt(path, key, folder=None) -> bool:
    """Copy the committed ``path.name`` (and its sidecar) to ``path`` if its key is ``key``.

    Returns
    -------
    bool
        Whether the committed copy was current and is now at ``path``.
    """
    from mindpain.io import atomic_path, write_json

    path = Path(path)
    source = Path(folder or FOLDER) / path.name
    try:
        meta = json.loads(source.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return False
    if not isinstance(meta, dict) or meta.get("key") != key or not source.is_file():
        return False
    if source.resolve() != path.resolve():
        with atomic_path(path) as tmp:
            shutil.copyfile(source, tmp)
        write_json(path.with_suffix(".json"), meta)
    return True


def main() -> int:
    """Recompute every committed table into :data:`FOLDER` (configured seed)."""
    os.environ["MINDPAIN_RESULTS"] = str(FOLDER)
    from mindpain import meditators, realism, trial
    from mindpain.config import get_config

    cfg = get_config()
    for name, make in (("trial_coverage.tsv", lambda: trial.load_or_calibrate(cfg)),
                       ("meditator_coverage.tsv", lambda: meditators.load_or_calibrate(cfg)),
                       ("twin recovery", lambda: realism.recovery_cached(
                           FOLDER, preset="small", seed=cfg.seed))):
        make()
        print(f"{FOLDER.relative_to(PROJECT_ROOT)}: {name} current (seed {cfg.seed})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
