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
:math:`a`, so its model prediction :math:`p = L\,a` (the signature's loadings on the grid).
Per world and signature:

``gain``
    Slope :math:`g` of a session's pipeline score on its prediction,
    :math:`m = c_s + g\,p + e` (an intercept per session; least squares per replication,
    averaged). The change scores give the same slope, less precisely (``gain_change``).
``offset_ratio``
    The mean of :math:`\Delta m - g\,\Delta p` (a change the pipeline adds to every
    participant) in units of the model's change-noise SD :math:`\sqrt{2\Sigma_{kk}}`.
``change_noise_ratio``
    SD of :math:`\Delta m - g\,\Delta p` (the change score's noise through the pipeline)
    over the model's :math:`\sqrt{2\Sigma_{kk}}`.
``level_noise_ratio``
    SD of :math:`e` (one session's noise) over :math:`\sqrt{\Sigma_{kk}}`.

The ratios are dimensionless, so a measurement on the calibration grid
(:data:`~mindpain.endtoend.settings.ENDTOEND_PRESET`) applies to the book's grid; the
measurement is repeated on one twin of the book's grid (:func:`book_grid_transfer`) to check
that. The twin plants its effects through these numbers
(:func:`mindpain.twin.model.constants_of`): the result is written into the twin's package
data (``pipeline_transfer.toml``, :func:`write_transfer`) by ``make transfer``, and the
replications here are drawn with the planting *without* a transfer (the gain and the noise
do not depend on the size of the planted effects: the pipeline is linear in them).
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


def _readout_rows(params) -> tuple:
    """Return the loadings ``(n_outcomes, 2)`` and model noise variances of :data:`OUTCOMES`.

    Of the twin of ``params`` (the same with or without the transfer: no planted shift).
    """
    from mindpain.twin.model import READOUTS, derive_constants

    const = derive_constants(params)
    rows = [READOUTS.index(o) for o in OUTCOMES]
    return const.readout[rows], np.diag(const.measurement_cov)[rows]


def replication_transfer(scores: pd.DataFrame, loadings: np.ndarray,
                         noise_var: np.ndarray) -> pd.DataFrame:
    """Gain, offset and noise variances of one replication, per signature.

    Parameters
    ----------
    scores : pandas.DataFrame
        :func:`~mindpain.endtoend.replication.replicate` of one replication with
        ``latent=True``.
    loadings, noise_var : numpy.ndarray
        :func:`_readout_rows` of the replication's parameters.

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


def _one(params, seed, r, weights) -> pd.DataFrame:
    """Transfer of replication ``r`` of ``params``' world (a worker task).

    ``params``: the twin's parameters loaded without the transfer (the measurement model's
    own planting).
    """
    from mindpain.endtoend.replication import replicate

    loadings, noise_var = _readout_rows(params)
    scores = replicate(params, seed, r, weights, rep_seed=transfer_seed(seed, r), latent=True)
    return replication_transfer(scores, loadings, noise_var).assign(world=params.world,
                                                                    replication=r)


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
                     data_dir=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure the pipeline's transfer in each world on ``n_replications`` replications.

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
    tasks = [(w, r) for r in range(n_replications) for w in worlds]
    out = Parallel(n_jobs=n_jobs, return_as="generator")(
        delayed(_one)(params[w], seed, r, weights) for w, r in tasks)
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
    loadings, noise_var = _readout_rows(params)
    one = replication_transfer(merged, loadings, noise_var)
    return one.assign(change_noise_ratio=np.sqrt(one.pop("change_var_ratio")),
                      level_noise_ratio=np.sqrt(one.pop("level_var_ratio")),
                      world=params.world, grid=params.preset)


def mask_ratios(seed: int, presets=None, worlds=TRANSFER_WORLDS) -> pd.DataFrame:
    """How much of each signature's target loading the analysis mask keeps, per grid.

    A coarse grid's implicit mask loses voxels at the brain's edge, and with them part of a
    signature's weight on its target pattern (on the 15 mm calibration grid, about a fifth
    of SIIPS1's); the book's 5 mm grid loses almost none. The gain measured on the
    calibration grid is carried to another grid by the ratio of these shares
    (:meth:`mindpain.twin.params.Parameters.transfer`). Each share is measured with
    :func:`~mindpain.endtoend.replication.analysis_mask` (the voxels every run of the first
    simulated sessions keeps).

    Returns
    -------
    pandas.DataFrame
        ``world, preset, readout, kept_share``: the signature's loading on its target latent
        pattern within the mask over its loading on the whole twin mask.
    """
    from mindpain.core.vocabulary import PRESETS
    from mindpain.endtoend.replication import analysis_mask
    from mindpain.twin.model import READOUTS, TARGET_LATENT, readout_space, twin_space
    from mindpain.twin.params import load_parameters
    from mindpain.twin.patterns import LATENTS

    rows = []
    for world in worlds:
        for preset in (PRESETS if presets is None else presets):
            params = load_parameters(preset, world)
            keep, _ = analysis_mask(params, seed)
            space = twin_space(params)
            seen = readout_space(space.generator, {r: np.where(keep, w, 0.0)
                                                   for r, w in space.weights.items()})
            for o in OUTCOMES:
                k, j = READOUTS.index(o), LATENTS.index(TARGET_LATENT[o])
                rows.append({"world": world, "preset": preset, "readout": o,
                             "kept_share": float(seen.readout[k, j] / space.readout[k, j])})
    return pd.DataFrame(rows)


def write_transfer(table: pd.DataFrame, path, masks: pd.DataFrame | None = None) -> Path:
    """Write the planting's transfer values (TOML, the twin's package data) atomically.

    One table per world and signature with ``gain``, ``offset_ratio``,
    ``change_noise_ratio`` and ``level_noise_ratio`` at full precision (``repr``), and a
    header saying how they were measured; with ``masks`` (:func:`mask_ratios`), also the
    measured grid (``[grid]``) and each world's, preset's and signature's kept share
    (``[mask.<world>.<preset>]``).
    """
    from mindpain.core.io import atomic_path

    lines = ["# Written by `make transfer` (python -m mindpain.endtoend --transfer): what the",
             "# pipeline (BOLD -> first level -> scoring) does to a latent effect, measured on",
             f"# {int(table['replications'].min())} replications per world on the "
             f"{table['grid'].iloc[0]!r} grid",
             "# (mindpain.endtoend.transfer). The twin plants its effects through these.", ""]
    for world, g in table.groupby("world", sort=False):
        for row in g.itertuples():
            lines.append(f"[{world}.{row.readout}]")
            for col in ("gain", "offset_ratio", "change_noise_ratio", "level_noise_ratio"):
                lines.append(f"{col} = {float(getattr(row, col))!r}")
            lines.append("")
    if masks is not None:
        lines += ["# The share of each signature's target loading the analysis mask keeps on",
                  "# each preset's grid (mindpain.endtoend.transfer.mask_ratios): the gain",
                  "# is carried from the measured grid to another by the ratio of the shares.",
                  "[grid]", f"measured = {str(table['grid'].iloc[0])!r}", ""]
        for (world, preset), g in masks.groupby(["world", "preset"], sort=False):
            lines.append(f"[mask.{world}.{preset}]")
            lines += [f"{r.readout} = {float(r.kept_share)!r}" for r in g.itertuples()]
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
        ``replications``, ``grid_measured``, per signature of ``world`` the gain measured
        (``gain_measured_<signature>``), the gain on ``preset``'s grid the twin plants
        through (``gain_<signature>``), the ratio of the analysis mask's kept shares that
        carries one to the other (``mask_share_<signature>``) and the change-noise ratio
        (``noise_<signature>``), and for the MBSR-vs-HEP contrast of each signature the
        generator's paper-scale effect (``planted_<signature>``) and the recoverable one
        (``recoverable_<signature>``).
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

    world = params.world
    table = read_tsv(Path(PRECOMPUTED_DIR if folder is None else folder) / TRANSFER_TABLE)
    planted = planted_trial_effects(params).set_index(["outcome", "contrast"])
    numbers = {"replications": int(table["replications"].min()),
               "grid_measured": str(table["grid"].iloc[0])}
    for row in table[table["world"] == world].itertuples():
        carried = params.transfer(row.readout) or {}
        numbers[f"gain_measured_{row.readout}"] = float(row.gain)
        numbers[f"gain_{row.readout}"] = float(carried.get("gain", np.nan))
        numbers[f"mask_share_{row.readout}"] = float(carried.get("mask_share", 1.0))
        numbers[f"noise_{row.readout}"] = float(row.change_noise_ratio)
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
        on its own grid), ``gain_cal_<s>`` and ``gain_cal_se_<s>`` (the gain the twin plants
        through on this grid: the calibration grid's measurement carried by the analysis
        mask's kept share, and its Monte-Carlo SE), ``noise_cal_<s>`` (the measured change
        noise ratio), and ``gain_z_<s>``: the difference of the two gains
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
                    f"gain_cal_se_{o}": float(cal.loc[o, "gain_se"]) * numbers[f"mask_share_{o}"],
                    f"noise_cal_{o}": float(cal.loc[o, "change_noise_ratio"]),
                    f"gain_z_{o}": (float(here.loc[o, "gain"]) - expected) / sd_one})
    return out
