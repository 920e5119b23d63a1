r"""What the pipeline does to a latent effect: gain, offset and added noise per signature.

The twin's measurement model (:mod:`mindpain.twin.model`) says what a signature reads from a
session's hot>warm map, :math:`m = L\,a + \ldots + \varepsilon`, with loadings :math:`L` and a
session-level noise of known variance :math:`\Sigma_{kk}` (``measurement_cov``). The real
path, BOLD → first level → scoring, reads something a little different, in the ideal world
(the first level's mean scaling, AR(1) model and implicit mask) and more so in the realistic
one (motion, physiological noise, misregistration, HRF differences). This module measures the
difference on replications drawn **with seeds of their own** (:func:`transfer_seed`, a tag
disjoint from the evaluation replications' :func:`~mindpain.endtoend.settings.replication_seed`):
each replication simulates every completer's sessions through the pipeline in memory
(:func:`~mindpain.endtoend.replication.replicate`) and knows each session's latent responses
:math:`a`, so its model prediction over the voxels the analysis mask keeps,
:math:`p = \tilde L\,a` (:func:`kept_readout`: the loadings of the signature's weights inside
the grid's analysis mask, :func:`mask_ratios`). Per world and signature:

``gain``
    Slope :math:`g` of a session's pipeline score on its prediction,
    :math:`m = c_s + g\,p + e` (an intercept per session; least squares per replication,
    averaged). The change scores give the same slope, less precisely (``gain_change``).
``offset_ratio``
    The mean of :math:`\Delta m - g\,\Delta p` (a change the pipeline adds to every
    participant) in units of the kept change-noise SD :math:`\sqrt{2\nu\Sigma_{kk}}`
    (:math:`\nu`: the share of the session noise variance the mask keeps).
``change_noise_ratio``
    SD of :math:`\Delta m - g\,\Delta p` (the change score's noise through the pipeline)
    over :math:`\sqrt{2\nu\Sigma_{kk}}`.
``level_noise_ratio``
    SD of :math:`e` (one session's noise) over :math:`\sqrt{\nu\Sigma_{kk}}`.

Why over the kept loadings: a coarse grid's mask keeps different shares of a signature's
loadings on the two latent responses (on the 15 mm calibration grid SIIPS1 keeps most of its
modulatory loading and a negative share of its small nociceptive one), so one gain over the
whole loadings would depend on how a planted change divides between the two responses, and
what it could not fit would show up as an offset that moves with the planting. Over the
kept loadings the gain is the first level's own, the same for every planting.

The ratios are dimensionless, so a measurement on the calibration grid
(:data:`~mindpain.endtoend.settings.ENDTOEND_PRESET`) applies to the book's grid read over
that grid's own kept loadings (:mod:`mindpain.twin.through_pipeline`); the measurement is
repeated on one twin of the book's grid (:func:`book_grid_transfer`) to check that. The
twin plants its effects through these numbers (:func:`mindpain.twin.model.constants_of`):
the result is written into the twin's package data (``pipeline_transfer.toml``,
:func:`write_transfer`) by ``make transfer``, and the replications here are drawn with the
planting *without* a transfer (the gain and the noise do not depend on the size of the
planted effects: the pipeline is linear in them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mindpain.core.config import derive_rng
from mindpain.core.vocabulary import SESSIONS, WORLDS
from mindpain.endtoend.settings import ENDTOEND_PRESET, OUTCOMES

#: Seed tag of the transfer replications (the evaluation's is ``"endtoend"``).
TRANSFER_TAG = "endtoend-transfer"
#: Replications per world by default (``make transfer``).
DEFAULT_TRANSFER_REPLICATIONS = 40
#: Worlds measured.
TRANSFER_WORLDS = WORLDS
#: File name of the transfer table (TSV; sidecar with the same stem, ``.json``).
TRANSFER_TABLE = "pipeline_transfer.tsv"
#: Columns of the transfer table and their meaning.
TRANSFER_COLUMNS = {
    "world": "twin world the replications were drawn in",
    "readout": "signature (open surrogate): nps or siips1",
    "grid": "preset whose grid the pipeline ran on",
    "replications": "replications (each: every completer's two sessions)",
    "gain": "slope of a session's pipeline score on the model's prediction (an intercept per "
            "session; mean over replications)",
    "gain_se": "Monte-Carlo SE of gain (SD over replications / sqrt(replications))",
    "gain_change": "the same slope fitted on the change scores (a check: the pipeline reads "
                   "every session alike, so it should agree with gain)",
    "gain_change_se": "Monte-Carlo SE of gain_change",
    "offset_ratio": "mean change the pipeline adds beyond gain x the predicted change, in SD "
                    "of the model's change noise",
    "offset_ratio_se": "Monte-Carlo SE of offset_ratio",
    "change_noise_ratio": "SD of the change score's noise through the pipeline over the "
                          "model's (sqrt of the mean residual variance)",
    "change_noise_ratio_se": "Monte-Carlo SE of change_noise_ratio (delta method)",
    "level_noise_ratio": "SD of one session's noise through the pipeline over the model's",
    "level_noise_ratio_se": "Monte-Carlo SE of level_noise_ratio (delta method)",
}


def transfer_seed(seed: int, replication: int) -> int:
    """Seed of one transfer replication, derived from the master seed (its own tag)."""
    return int(derive_rng(seed, TRANSFER_TAG, int(replication)).integers(2**31 - 1))


def kept_readout(params, shares: dict) -> tuple:
    """Return the kept loadings ``(n_outcomes, 2)`` and kept noise variances of :data:`OUTCOMES`.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (the loadings and noise do not depend on the transfer).
    shares : dict
        Per signature, the kept shares ``kept_<latent>`` and ``kept_noise`` of the analysis
        mask (:func:`mask_ratios`, or :meth:`~mindpain.twin.params.Parameters.transfer`).

    Returns
    -------
    tuple
        ``(loadings, noise_var)``: the loadings the pipeline reads over the kept voxels
        (:func:`mindpain.twin.through_pipeline.pipeline_loading`, before the gain) and the
        session noise variance over them.
    """
    from mindpain.twin.model import READOUTS, derive_constants
    from mindpain.twin.through_pipeline import kept_noise_var, pipeline_loading

    const = derive_constants(params)
    rows = [READOUTS.index(o) for o in OUTCOMES]
    loadings = np.vstack([pipeline_loading(const.readout[k], shares[o])
                          for o, k in zip(OUTCOMES, rows, strict=True)])
    noise = np.array([kept_noise_var(const.measurement_cov[k, k], shares[o])
                      for o, k in zip(OUTCOMES, rows, strict=True)])
    return loadings, noise


def measured_shares(masks: pd.DataFrame, world: str, preset: str) -> dict:
    """Per signature, the kept shares of ``world`` and ``preset`` in :func:`mask_ratios`."""
    rows = masks[(masks["world"] == world) & (masks["preset"] == preset)]
    return {o: {f"kept_{r.part}": float(r.kept_share) for r in g.itertuples()}
            for o, g in rows.groupby("readout", sort=False)}


def replication_transfer(scores: pd.DataFrame, loadings: np.ndarray,
                         noise_var: np.ndarray) -> pd.DataFrame:
    """Gain, offset and noise variances of one replication, per signature.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`~mindpain.endtoend.replication.replicate` of one replication with
        ``latent=True``.
    loadings, noise_var : numpy.ndarray
        :func:`kept_readout` of the replication's parameters and analysis mask.

    Returns
    -------
    pandas.DataFrame
        One row per :data:`OUTCOMES`: ``readout, gain, gain_change, offset_ratio,
        change_var_ratio, level_var_ratio``.
    """
    from mindpain.twin.patterns import LATENTS

    wide = scores.pivot(index="participant_id", columns="session",
                        values=[*OUTCOMES, *LATENTS]).dropna()
    rows = []
    for j, o in enumerate(OUTCOMES):
        pred = {s: wide[[(k, s) for k in LATENTS]].to_numpy() @ loadings[j]
                for s in SESSIONS}
        obs = {s: wide[(o, s)].to_numpy() for s in SESSIONS}
        # levels: an intercept per session, a common slope (the gain: a session's map is
        # read the same way whatever the session, and the levels vary far more than the
        # changes, so this slope is the precise one)
        n = len(obs["pre"])
        X = np.zeros((2 * n, 3))
        X[:n, 0], X[n:, 1] = 1.0, 1.0
        X[:, 2] = np.concatenate([pred["pre"], pred["post"]])
        y = np.concatenate([obs["pre"], obs["post"]])
        coef, *_ = np.linalg.lstsq(X, y, rcond=None)
        resid = y - X @ coef
        gain = float(coef[2])
        # changes: the same slope fitted on the change scores (a check), and the change
        # noise around the level gain
        dp, dm = pred["post"] - pred["pre"], obs["post"] - obs["pre"]
        Xc = np.column_stack([np.ones_like(dp), dp])
        cc, *_ = np.linalg.lstsq(Xc, dm, rcond=None)
        rc = dm - gain * dp
        offset = float(rc.mean())
        rows.append({"readout": o, "gain": gain, "gain_change": float(cc[1]),
                     "offset_ratio": offset / np.sqrt(2 * noise_var[j]),
                     "change_var_ratio": float(rc.var(ddof=1)) / (2 * noise_var[j]),
                     "level_var_ratio": float(resid @ resid / (2 * n - 3)) / noise_var[j]})
    return pd.DataFrame(rows)


def _one(params, seed, r, weights, kept) -> pd.DataFrame:
    """Transfer of replication ``r`` of ``params``' world (a worker task).

    ``params``: the twin's parameters loaded without the transfer (the measurement model's
    own planting); ``kept``: :func:`kept_readout` of its grid's analysis mask.
    """
    from mindpain.endtoend.replication import replicate

    scores = replicate(params, seed, r, weights, rep_seed=transfer_seed(seed, r), latent=True)
    return replication_transfer(scores, *kept).assign(world=params.world, replication=r)


def _mean_se(values: pd.Series) -> tuple[float, float]:
    """Mean and its Monte-Carlo SE (SD / sqrt(n))."""
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


def summarise(per_replication: pd.DataFrame, grid: str) -> pd.DataFrame:
    """Mean and Monte-Carlo SE over replications, per world and signature.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TRANSFER_COLUMNS`.
    """
    rows = []
    for (world, readout), g in per_replication.groupby(["world", "readout"], sort=False):
        n = len(g)
        gain, gain_se = _mean_se(g["gain"])
        gain_c, gain_c_se = _mean_se(g["gain_change"])
        off, off_se = _mean_se(g["offset_ratio"])
        cv, cv_se = _mean_se(g["change_var_ratio"])
        lv, lv_se = _mean_se(g["level_var_ratio"])
        rows.append({"world": world, "readout": readout, "grid": grid, "replications": n,
                     "gain": gain, "gain_se": gain_se, "gain_change": gain_c,
                     "gain_change_se": gain_c_se, "offset_ratio": off,
                     "offset_ratio_se": off_se,
                     "change_noise_ratio": float(np.sqrt(cv)),
                     "change_noise_ratio_se": cv_se / (2 * np.sqrt(cv)),
                     "level_noise_ratio": float(np.sqrt(lv)),
                     "level_noise_ratio_se": lv_se / (2 * np.sqrt(lv))})
    return pd.DataFrame(rows)[list(TRANSFER_COLUMNS)]


def measure_transfer(seed: int, n_replications: int = DEFAULT_TRANSFER_REPLICATIONS,
                     preset: str = ENDTOEND_PRESET, worlds=TRANSFER_WORLDS,
                     n_jobs: int = 1, progress: bool = False,
                     data_dir=None, masks: pd.DataFrame | None = None,
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure the pipeline's transfer in each world on ``n_replications`` replications.

    ``masks`` (:func:`mask_ratios` of ``seed``, for ``preset`` among others) saves measuring
    the grid's kept shares again when the caller has them.

    Returns
    -------
    tuple
        ``(table, per_replication)``: :func:`summarise` and the per-replication values.
    """
    from joblib import Parallel, delayed
    from tqdm import tqdm

    from mindpain.endtoend.replication import surrogate_weights
    from mindpain.twin.params import load_parameters

    params = {w: load_parameters(preset, w, transfer=False) for w in worlds}
    weights = surrogate_weights(next(iter(params.values())), data_dir)
    if masks is None:
        masks = mask_ratios(seed, presets=[preset], worlds=worlds)
    kept = {w: kept_readout(params[w], measured_shares(masks, w, preset)) for w in worlds}
    tasks = [(w, r) for r in range(n_replications) for w in worlds]
    out = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_one)(params[w], seed, r, weights, kept[w]) for w, r in tasks)
    frames = list(tqdm(out, total=len(tasks), unit="replication", desc="pipeline transfer",
                       disable=not progress))
    per = pd.concat(frames, ignore_index=True)
    per = per.sort_values(["world", "readout", "replication"], kind="stable",
                          key=lambda s: s.map({w: i for i, w in enumerate(worlds)})
                          if s.name == "world" else s).reset_index(drop=True)
    return summarise(per, preset), per


def book_grid_transfer(scores: pd.DataFrame, truth: pd.DataFrame, params) -> pd.DataFrame:
    """Measure the transfer on one analysed twin (the book's grid), for comparison.

    Parameters
    ----------
    scores : pandas.DataFrame
        The scored session maps (``participant_id, session`` and the outcomes).
    truth : pandas.DataFrame
        The twin's latent responses per session
        (:func:`mindpain.twin.participants.draw_truth`).
    params : mindpain.twin.params.Parameters
        The twin's parameters (its preset's grid and world).

    Returns
    -------
    pandas.DataFrame
        One row per signature with ``gain, offset_ratio, change_noise_ratio,
        level_noise_ratio`` (one replication: no SE), ``world`` and ``grid``.
    """
    from mindpain.twin.patterns import LATENTS

    merged = scores.merge(truth[["participant_id", "session", *LATENTS]],
                          on=["participant_id", "session"])
    loadings, noise_var = kept_readout(params, {o: params.transfer(o) or {} for o in OUTCOMES})
    one = replication_transfer(merged, loadings, noise_var)
    return one.assign(change_noise_ratio=np.sqrt(one.pop("change_var_ratio")),
                      level_noise_ratio=np.sqrt(one.pop("level_var_ratio")),
                      world=params.world, grid=params.preset)


def mask_ratios(seed: int, presets=None, worlds=TRANSFER_WORLDS) -> pd.DataFrame:
    """How much of each signature's loadings and noise the analysis mask keeps, per grid.

    A coarse grid's implicit mask loses voxels at the brain's edge, and with them part of a
    signature's weight on each latent pattern and part of its noise (on the 15 mm calibration
    grid, about a fifth of SIIPS1's modulatory loading); the book's 5 mm grid loses almost
    none. The pipeline's transfer is measured over the kept loadings
    (:func:`measure_transfer`), and the twin of every grid plants through its own grid's
    shares (:mod:`mindpain.twin.through_pipeline`). Each share is measured with
    :func:`~mindpain.endtoend.replication.analysis_mask` (the voxels every run of the first
    simulated sessions keeps) of the parameters without the transfer, so the shares do not
    depend on the planting they feed.

    Returns
    -------
    pandas.DataFrame
        ``world, preset, readout, part, kept_share``: per part (each latent response: the
        signature's loading on its pattern within the mask over its loading on the whole
        twin mask, 1 where that loading is 0; ``noise``: the session noise variance within
        the mask over the whole mask's).
    """
    from mindpain.core.vocabulary import PRESETS
    from mindpain.endtoend.replication import analysis_mask
    from mindpain.twin.model import (
        READOUTS,
        constants_of,
        derive_constants,
        readout_space,
        twin_space,
    )
    from mindpain.twin.params import KEPT_PARTS, load_parameters
    from mindpain.twin.patterns import LATENTS

    rows = []
    for world in worlds:
        for preset in (PRESETS if presets is None else presets):
            params = load_parameters(preset, world, transfer=False)
            keep, _ = analysis_mask(params, seed)
            space = twin_space(params)
            full = derive_constants(params)
            seen = constants_of(params, readout_space(
                space.generator, {r: np.where(keep, w, 0.0) for r, w in space.weights.items()}))
            for o in OUTCOMES:
                k = READOUTS.index(o)
                share = {p: (float(seen.readout[k, j] / full.readout[k, j])
                             if full.readout[k, j] != 0 else 1.0)
                         for j, p in enumerate(LATENTS)}
                share["noise"] = float(seen.measurement_cov[k, k] / full.measurement_cov[k, k])
                rows += [{"world": world, "preset": preset, "readout": o, "part": p,
                          "kept_share": share[p]} for p in KEPT_PARTS]
    return pd.DataFrame(rows)


def write_transfer(table: pd.DataFrame, path, masks: pd.DataFrame | None = None) -> Path:
    """Write the planting's transfer values (TOML, the twin's package data) atomically.

    One table per world and signature with ``gain``, ``offset_ratio``,
    ``change_noise_ratio`` and ``level_noise_ratio`` at full precision (``repr``), and a
    header saying how they were measured; with ``masks`` (:func:`mask_ratios`), also the
    measured grid (``[grid]``) and each world's, preset's and signature's kept shares
    (``[mask.<world>.<preset>.<signature>]``).
    """
    from mindpain.core.io import atomic_path

    lines = ["# Written by `make transfer` (python -m mindpain.endtoend --transfer): what the",
             "# pipeline (BOLD -> first level -> scoring) does to a latent effect, measured on",
             f"# {int(table['replications'].min())} replications per world on the "
             f"{table['grid'].iloc[0]!r} grid over the",
             "# loadings its analysis mask keeps (mindpain.endtoend.transfer). The twin plants",
             "# its effects through these (mindpain.twin.through_pipeline).", ""]
    for world, g in table.groupby("world", sort=False):
        for row in g.itertuples():
            lines.append(f"[{world}.{row.readout}]")
            for col in ("gain", "offset_ratio", "change_noise_ratio", "level_noise_ratio"):
                lines.append(f"{col} = {float(getattr(row, col))!r}")
            lines.append("")
    if masks is not None:
        lines += ["# The shares of each signature's loading on each latent response and of its",
                  "# noise variance that the analysis mask of each preset's grid keeps",
                  "# (mindpain.endtoend.transfer.mask_ratios).",
                  "[grid]", f"measured = {str(table['grid'].iloc[0])!r}", ""]
        for (world, preset, readout), g in masks.groupby(["world", "preset", "readout"],
                                                         sort=False):
            lines.append(f"[mask.{world}.{preset}.{readout}]")
            lines += [f"{r.part} = {float(r.kept_share)!r}" for r in g.itertuples()]
            lines.append("")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines))
    return path


def transfer_summary(preset: str, world: str, folder=None) -> tuple[pd.DataFrame, dict]:
    """Return the committed transfer table and the planting it implies (for a chapter).

    A chapter's helper: it loads the twin's parameters of ``preset`` and ``world`` once
    (:func:`transfer_numbers` does the work).

    Parameters
    ----------
    preset, world : str
        The twin whose planting is summarised.
    folder : path-like, optional
        Folder of :data:`TRANSFER_TABLE` (default: the committed copy,
        :data:`mindpain.core.config.PRECOMPUTED_DIR`).

    Returns
    -------
    tuple
        ``(table, numbers)``: the transfer table (:data:`TRANSFER_COLUMNS`) and a dict with
        ``replications``, ``grid_measured``, per signature of ``world`` the gain over the
        kept loadings (``gain_<signature>``) and the change-noise ratio
        (``noise_<signature>``), the share of its target loading the analysis mask keeps
        on ``preset``'s grid (``kept_<signature>``) and on the measured grid
        (``kept_measured_<signature>``), and for the MBSR-vs-HEP contrast of each signature
        the generator's paper-scale effect (``planted_<signature>``) and the recoverable
        one (``recoverable_<signature>``).
    """
    from mindpain.twin.params import load_parameters

    return transfer_numbers(load_parameters(preset, world), folder)


def transfer_numbers(params, folder=None) -> tuple[pd.DataFrame, dict]:
    """Return the committed transfer table and the planting it implies for ``params``.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset and world) whose planting is summarised.
    folder : path-like, optional
        Folder of :data:`TRANSFER_TABLE` (default: the committed copy).

    Returns
    -------
    tuple
        ``(table, numbers)`` as :func:`transfer_summary` returns them.
    """
    from mindpain.core.config import PRECOMPUTED_DIR
    from mindpain.core.io import read_tsv
    from mindpain.truth import planted_trial_effects
    from mindpain.twin.model import TARGET_LATENT
    from mindpain.twin.params import load_parameters

    world = params.world
    table = read_tsv(Path(PRECOMPUTED_DIR if folder is None else folder) / TRANSFER_TABLE)
    planted = planted_trial_effects(params).set_index(["outcome", "contrast"])
    grid = str(table["grid"].iloc[0])
    measured = load_parameters(grid, world)
    numbers = {"replications": int(table["replications"].min()), "grid_measured": grid}
    for row in table[table["world"] == world].itertuples():
        part = f"kept_{TARGET_LATENT[row.readout]}"
        numbers[f"gain_{row.readout}"] = float(row.gain)
        numbers[f"noise_{row.readout}"] = float(row.change_noise_ratio)
        numbers[f"kept_{row.readout}"] = float((params.transfer(row.readout) or {})
                                               .get(part, np.nan))
        numbers[f"kept_measured_{row.readout}"] = float(
            (measured.transfer(row.readout) or {}).get(part, np.nan))
    for o in OUTCOMES:
        numbers[f"planted_{o}"] = float(planted.loc[(o, "MBSR_vs_HEP"), "planted_d_paper"])
        numbers[f"recoverable_{o}"] = float(planted.loc[(o, "MBSR_vs_HEP"),
                                                        "recoverable_d_paper"])
    return table, numbers


def book_grid_summary(outcomes: pd.DataFrame, truth: pd.DataFrame, preset: str, world: str,
                      folder=None) -> dict:
    """Compare the transfer measured on one analysed twin with the committed measurement.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        The twin's scored sessions (``participant_id, session`` and the signatures).
    truth : pandas.DataFrame
        Its latent responses per session (the twin's ``truth.tsv``).
    preset, world : str
        The twin's preset (its grid) and world.
    folder : path-like, optional
        Folder of the committed :data:`TRANSFER_TABLE` (default: ``book/precomputed``).

    Returns
    -------
    dict
        Per signature ``<s>``: ``gain_here_<s>`` and ``noise_here_<s>`` (this twin: one draw
        on its own grid, over the loadings its analysis mask keeps), ``gain_cal_<s>`` and
        ``gain_cal_se_<s>`` (the gain the twin plants through, measured on the calibration
        grid, and its Monte-Carlo SE), ``noise_cal_<s>`` (the measured change noise ratio),
        and ``gain_z_<s>``: the difference of the two gains
        in units of the committed measurement's Monte-Carlo SE times sqrt(replications) (the
        SD of one replication's gain, so the unit in which one draw scatters).

    A chapter's helper: it loads the twin's parameters of ``preset`` and ``world`` once.
    """
    from mindpain.twin.params import load_parameters

    params = load_parameters(preset, world)
    here = book_grid_transfer(outcomes, truth, params).set_index("readout")
    table, numbers = transfer_numbers(params, folder)
    cal = table[table["world"] == world].set_index("readout")
    out = {}
    for o in OUTCOMES:
        sd_one = float(cal.loc[o, "gain_se"]) * np.sqrt(float(cal.loc[o, "replications"]))
        expected = numbers[f"gain_{o}"]
        out.update({f"gain_here_{o}": float(here.loc[o, "gain"]),
                    f"noise_here_{o}": float(here.loc[o, "change_noise_ratio"]),
                    f"gain_cal_{o}": expected,
                    f"gain_cal_se_{o}": float(cal.loc[o, "gain_se"]),
                    f"noise_cal_{o}": float(cal.loc[o, "change_noise_ratio"]),
                    f"gain_z_{o}": (float(here.loc[o, "gain"]) - expected) / sd_one})
    return out
