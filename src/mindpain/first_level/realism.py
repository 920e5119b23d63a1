"""What the twin's realistic world does to the analysis, measured on simulated runs in memory.

Each function simulates runs with :func:`mindpain.twin.run.make_run` (no files), fits the
first level's design (nilearn's Glover HRF, cosine drift with a 1/128 Hz high-pass, by
ordinary least squares, so effects and residuals are the GLM's without its AR(1)
prewhitening) and measures one property of the data:

* :func:`residual_autocorrelation`: the partial autocorrelation of GLM residuals at lags 1
  and 2 (an AR(1)-only noise has none at lag 2);
* :func:`hrf_latency`: each participant's response latency, the time shift of the hot
  regressor that best fits the data;
* :func:`temperature_scores`: signature scores of hot trials binned by temperature;
* :func:`motion_regression`: residual variance with and without the motion confounds;
* :func:`recovery`: measured signature score against the planted latent response, per
  session, in each world.

Everything is seeded and small (the ``small`` preset's grid) so tests and the book can call
it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import signal as sps

from mindpain import __version__
from mindpain.bids import (
    expand_confound_columns,
    load_run_events,
    read_confounds,
    repetition_time,
)
from mindpain.core.config import PRECOMPUTED_DIR
from mindpain.core.io import read_tsv
from mindpain.core.store import cached_table
from mindpain.core.vocabulary import (
    DEFAULT_WORLD,
    FRAMEWISE_DISPLACEMENT,
    MOTION_CONFOUNDS,
    TRIAL_TYPES,
    WORLDS,
)
from mindpain.first_level.glm import design_matrix
from mindpain.twin.model import twin_space
from mindpain.twin.nuisance import gamma_difference_hrf
from mindpain.twin.params import load_parameters
from mindpain.twin.participants import draw_participants, draw_truth
from mindpain.twin.patterns import generator_space
from mindpain.twin.run import make_run
from mindpain.twin.task import frame_times


def sessions(params, seed: int, n: int | None = None) -> pd.DataFrame:
    """Return the twin's truth table (one row per session) with the hot temperatures.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (preset and world).
    seed : int
        Master seed.
    n : int, optional
        Keep the first ``n`` sessions.

    Returns
    -------
    pandas.DataFrame
        :func:`mindpain.twin.participants.draw_truth` with ``hot_temperature``.
    """
    participants = draw_participants(params, seed)
    truth = draw_truth(participants, params, seed)
    hot = participants.set_index("participant_id")["hot_temperature"]
    truth["hot_temperature"] = truth["participant_id"].map(hot).to_numpy()
    return truth if n is None else truth.head(n)


def design(params, events: pd.DataFrame, confounds: pd.DataFrame | None = None,
           split_hot_by_temperature: bool = False, shift: float = 0.0) -> pd.DataFrame:
    """Build one run's first-level design matrix (:func:`~mindpain.first_level.glm.design_matrix`).

    ``params`` is the twin's :class:`~mindpain.twin.params.Parameters` or an array of frame
    times (s).

    ``split_hot_by_temperature`` models each hot temperature as its own condition
    (``hot_<temperature>``); ``shift`` delays every onset by that many seconds.
    """
    ev = events[["onset", "duration", "trial_type"]].copy()
    ev["onset"] = ev["onset"] + shift
    if split_hot_by_temperature:
        hot = events["trial_type"].eq("hot")
        ev.loc[hot, "trial_type"] = [f"hot_{t:.1f}".replace(".", "p").replace("-", "m")
                                     for t in events.loc[hot, "temperature"]]
    chosen = None
    if confounds is not None:
        chosen = confounds[expand_confound_columns(MOTION_CONFOUNDS, confounds.columns)].fillna(0.0)
    times = frame_times(params) if hasattr(params, "raw") else np.asarray(params, float)
    return design_matrix(ev, len(times), float(times[1] - times[0]), confounds=chosen)


def _percent(bold: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """In-mask ``(n_t, n_vox)`` time series in percent of each voxel's mean."""
    y = bold[mask].astype(float).T
    mean = y.mean(0)
    return 100 * (y / np.where(mean == 0, 1, mean) - 1)


def ols(X: pd.DataFrame, y: np.ndarray):
    """Least-squares betas ``(n_reg, n_vox)`` and residuals ``(n_t, n_vox)``."""
    beta, *_ = np.linalg.lstsq(X.to_numpy(), y, rcond=None)
    return beta, y - X.to_numpy() @ beta


def pacf2(resid: np.ndarray) -> tuple[float, float]:
    """Mean over voxels of the lag-1 and lag-2 partial autocorrelation (Yule-Walker)."""
    r = resid - resid.mean(0)
    c0 = (r * r).sum(0)
    ok = c0 > 0
    r1 = (r[1:] * r[:-1]).sum(0)[ok] / c0[ok]
    r2 = (r[2:] * r[:-2]).sum(0)[ok] / c0[ok]
    phi22 = (r2 - r1**2) / (1 - r1**2)
    return float(np.mean(r1)), float(np.mean(phi22))


def _runs(params, seed, n_sessions, runs=(1,)):
    mask = generator_space(params).mask
    for rec in sessions(params, seed, n_sessions).to_dict("records"):
        for run in runs:
            data = make_run(params, seed, rec, run, rec["hot_temperature"])
            yield rec, run, data, _percent(data.bold, mask)


def ar1_leftover(resid: np.ndarray, n_lags: int = 10) -> float:
    """Measure what an AR(1) model leaves: Ljung-Box-like Q of AR(1)-whitened residuals.

    Each voxel's residuals are whitened with their own lag-1 autocorrelation (as an AR(1)
    GLM does); ``Q = n * sum_k r_k^2`` over lags 1..``n_lags`` of the whitened series,
    averaged over voxels. For noise that AR(1) describes, Q is about ``n_lags``.
    """
    r = resid - resid.mean(0)
    c0 = (r * r).sum(0)
    ok = c0 > 0
    r, c0 = r[:, ok], c0[ok]
    rho = (r[1:] * r[:-1]).sum(0) / c0
    w = r[1:] - rho * r[:-1]
    w -= w.mean(0)
    cw = (w * w).sum(0)
    q = sum(((w[k:] * w[:-k]).sum(0) / cw) ** 2 for k in range(1, n_lags + 1))
    return float(np.mean(w.shape[0] * q))


def residual_autocorrelation(preset: str = "small", seed: int = 1, world: str = DEFAULT_WORLD,
                             n_sessions: int = 6) -> pd.DataFrame:
    """Autocorrelation of GLM residuals, per run: ``acf1``, ``pacf2``, ``ar1_leftover_q``.

    ``acf1``: lag-1 autocorrelation; ``pacf2``: lag-2 partial autocorrelation (the AR(2)
    coefficient); ``ar1_leftover_q``: :func:`ar1_leftover` (about 10 for AR(1) noise).

    In the realistic world the confounds are in the model, as in the first level.
    """
    params = load_parameters(preset, world)
    rows = []
    for rec, run, data, y in _runs(params, seed, n_sessions):
        _, resid = ols(design(params, data.events, data.confounds), y)
        r1, p2 = pacf2(resid)
        rows.append({"participant_id": rec["participant_id"], "session": rec["session"],
                     "run": run, "world": world, "acf1": r1, "pacf2": p2,
                     "ar1_leftover_q": ar1_leftover(resid)})
    return pd.DataFrame(rows)


def hrf_latency(preset: str = "small", seed: int = 1, world: str = DEFAULT_WORLD,
                n_sessions: int = 12, shifts=None) -> pd.DataFrame:
    """Each session's response latency: the time shift of the canonical HRF that fits best.

    The signal of the voxels where the planted nociceptive pattern is strongest (top 10 %,
    signed by the pattern) is averaged per run; for every shift the hot, warm and rating
    regressors (Glover HRF delayed by the shift) are refitted with the first level's drift
    (and, realistic world, confounds), both runs together; the latency is the shift with
    the smallest residual sum of squares, refined by a parabola through the best three.
    Returns one row per session with ``latency`` (s) and, in the realistic world, the
    planted participant shift (``planted``).
    """
    shifts = np.arange(-3.0, 3.01, 0.25) if shifts is None else np.asarray(shifts, float)
    params = load_parameters(preset, world)
    space = generator_space(params)
    pattern = space.patterns["nociceptive"]
    top = np.abs(pattern) >= np.quantile(np.abs(pattern), 0.9)
    tr, over = params["task.repetition_time"], 16
    dt = tr / over
    kernels = [gamma_difference_hrf(dt, float(s)) for s in shifts]
    runs = tuple(range(1, params["task.n_runs"] + 1))
    per_session = {}
    for rec, _, data, y in _runs(params, seed, n_sessions, runs):
        roi = y[:, top] @ np.sign(pattern[top]) / top.sum()
        base = design(params, data.events, data.confounds)
        nuis = base.drop(columns=list(TRIAL_TYPES)).to_numpy()
        n_t = len(base)
        boxes = []
        for kind in TRIAL_TYPES:
            box = np.zeros(n_t * over)
            for on, du in data.events.loc[data.events["trial_type"] == kind,
                                          ["onset", "duration"]].to_numpy():
                box[int(round(on / dt)):int(round((on + du) / dt))] = 1.0
            boxes.append(box)
        rss = []
        for k in kernels:
            task = np.column_stack([sps.fftconvolve(b, k)[:n_t * over:over] for b in boxes])
            X = np.column_stack([task, nuis])
            beta, *_ = np.linalg.lstsq(X, roi, rcond=None)
            rss.append(float(((roi - X @ beta) ** 2).sum()))
        key = (rec["participant_id"], rec["session"])
        entry = per_session.setdefault(key, [rec, data.truth.get("hrf_participant_shift_s", 0.0),
                                             np.zeros(len(shifts))])
        entry[2] += rss
    rows = []
    step = shifts[1] - shifts[0]
    for (pid, ses), (_rec, planted, rss) in per_session.items():
        k = int(np.clip(np.argmin(rss), 1, len(shifts) - 2))
        a, b, c = rss[k - 1], rss[k], rss[k + 1]
        denom = a - 2 * b + c
        best = shifts[k] + (0.5 * step * (a - c) / denom if denom > 0 else 0.0)
        rows.append({"participant_id": pid, "session": ses, "world": world,
                     "latency": float(best), "planted": float(planted)})
    return pd.DataFrame(rows)


def _weights(params):
    space = twin_space(params)
    return {"nps": space.weights["nps"], "siips1": space.weights["siips1"]}


def temperature_scores(preset: str = "small", seed: int = 1, n_sessions: int = 12,
                       runs=(1, 2)) -> pd.DataFrame:
    """Signature scores of each temperature's hot response minus warm, per run (realistic).

    Hot trials are split by their temperature in the design; each temperature's
    ``hot - warm`` effect map is scored with the NPS and SIIPS1 open surrogates (dot
    product, on the twin grid). Returns ``participant_id, session, run, offset`` (degC from
    the calibrated temperature), ``nps`` and ``siips1``.
    """
    params = load_parameters(preset, "realistic")
    weights = _weights(params)
    rows = []
    for rec, run, data, y in _runs(params, seed, n_sessions, runs):
        X = design(params, data.events, data.confounds, split_hot_by_temperature=True)
        beta, _ = ols(X, y)
        cols = list(X.columns)
        warm = beta[cols.index("warm")]
        for col in (c for c in cols if c.startswith("hot_")):
            temp = float(col[4:].replace("p", ".").replace("m", "-"))
            effect = beta[cols.index(col)] - warm
            rows.append({"participant_id": rec["participant_id"], "session": rec["session"],
                         "run": run, "offset": round(temp - rec["hot_temperature"], 1),
                         **{k: float(w @ effect) for k, w in weights.items()}})
    return pd.DataFrame(rows)


def temperature_slopes(scores: pd.DataFrame) -> pd.DataFrame:
    """Within-run slope of each signature's score on temperature, relative to its mean.

    Scores are centred within each run (removing each run's level), then regressed on the
    temperature offset; the slope is divided by the signature's mean score, so it reads as
    the relative change per degree. Returns ``signature, slope, se, relative_slope``.
    """
    rows = []
    key = ["participant_id", "session", "run"]
    x = scores["offset"] - scores.groupby(key)["offset"].transform("mean")
    for sig in ("nps", "siips1"):
        y = scores[sig] - scores.groupby(key)[sig].transform("mean")
        slope = float((x * y).sum() / (x * x).sum())
        resid = y - slope * x
        n_groups = scores.groupby(key).ngroups
        dof = len(scores) - n_groups - 1
        se = float(np.sqrt((resid**2).sum() / dof / (x * x).sum()))
        mean = float(scores[sig].mean())
        rows.append({"signature": sig, "slope": slope, "se": se, "mean_score": mean,
                     "relative_slope": slope / mean if mean else np.nan})
    return pd.DataFrame(rows)


def motion_regression(preset: str = "small", seed: int = 1, n_sessions: int = 6) -> pd.DataFrame:
    """Residual variance of the GLM with and without the motion confounds, per run (realistic).

    Returns ``participant_id, session, run, var_without, var_with, reduction`` (the fraction
    of the residual variance, averaged over voxels, that the motion set removes), the
    number of confound columns and the run's mean framewise displacement.
    """
    params = load_parameters(preset, "realistic")
    rows = []
    for rec, run, data, y in _runs(params, seed, n_sessions):
        _, without = ols(design(params, data.events), y)
        X = design(params, data.events, data.confounds)
        _, with_ = ols(X, y)
        v0, v1 = float(without.var(0).mean()), float(with_.var(0).mean())
        rows.append({"participant_id": rec["participant_id"], "session": rec["session"],
                     "run": run, "var_without": v0, "var_with": v1,
                     "reduction": 1 - v1 / v0,
                     "n_confounds": X.shape[1] - design(params, data.events).shape[1],
                     "mean_fd": float(data.confounds[FRAMEWISE_DISPLACEMENT].mean())})
    return pd.DataFrame(rows)


def recovery(preset: str = "small", seed: int = 1, worlds=WORLDS) -> pd.DataFrame:
    """Measured session scores against the planted latent responses, in each world.

    Each session's runs are fitted (realistic world: with the motion confounds), their
    ``hot - warm`` effects averaged (fixed effects with equal weights) and scored with the
    NPS and SIIPS1 surrogates. Returns one row per world and signature: Pearson ``r`` of
    score and latent response (NPS: nociceptive; SIIPS1: modulatory), the least-squares
    ``slope`` of score on latent response, the loading the measurement model expects
    (``expected_slope``) and ``n_sessions``.
    """
    params = {world: load_parameters(preset, world) for world in worlds}
    first = next(iter(params.values()))
    space = twin_space(first)
    weights = _weights(first)
    latent_of = {"nps": "nociceptive", "siips1": "modulatory"}
    loading = {"nps": space.readout[0, 0], "siips1": space.readout[1, 1]}
    rows = []
    for world, world_params in params.items():
        runs = tuple(range(1, world_params["task.n_runs"] + 1))
        per_session = {}
        for rec, _run, data, y in _runs(world_params, seed, None, runs):
            X = design(world_params, data.events, data.confounds)
            beta, _ = ols(X, y)
            cols = list(X.columns)
            effect = beta[cols.index("hot")] - beta[cols.index("warm")]
            key = (rec["participant_id"], rec["session"])
            per_session.setdefault(key, [rec, []])[1].append(effect)
        recs = [v[0] for v in per_session.values()]
        effects = np.array([np.mean(v[1], axis=0) for v in per_session.values()])
        for sig, w in weights.items():
            score = effects @ w
            latent = np.array([r[latent_of[sig]] for r in recs])
            slope = float(np.polyfit(latent, score, 1)[0])
            rows.append({"world": world, "signature": sig, "latent": latent_of[sig],
                         "r": float(np.corrcoef(latent, score)[0, 1]), "slope": slope,
                         "expected_slope": float(loading[sig]),
                         "slope_ratio": slope / float(loading[sig]),
                         "n_sessions": len(recs)})
    return pd.DataFrame(rows)


def motion_effect_on_runs(specs, n_runs: int = 4) -> pd.DataFrame:
    """Residual variance with and without the motion confounds on a dataset's runs (files).

    For the first ``n_runs`` runs of ``specs`` (:func:`mindpain.bids.query.find_runs`) that
    have a confounds table, the first level's design is fitted by least squares to every
    in-brain voxel (percent of its mean) without and with the motion set
    (:data:`mindpain.core.vocabulary.MOTION_CONFOUNDS`). Returns one row per run: ``run``,
    ``var_without``, ``var_with``, ``reduction`` (fraction of residual variance removed,
    averaged over voxels), ``n_confounds``, ``mean_fd`` and ``n_outliers``.
    """
    rows = []
    for spec in [s for s in specs if s.confounds is not None][:n_runs]:
        img = nib.load(spec.bold)
        data = np.asarray(img.dataobj)
        mask = data.std(-1) > 0
        tr = repetition_time(spec.bids_dir, spec.bold)
        times = np.arange(data.shape[-1]) * tr
        events = load_run_events(spec.events, run_length=data.shape[-1] * tr,
                                 renamed=spec.trial_types)
        conf = read_confounds(spec.confounds)
        y = _percent(data, mask)
        base = design(times, events)
        full = design(times, events, conf)
        _, without = ols(base, y)
        _, with_ = ols(full, y)
        v0, v1 = float(without.var(0).mean()), float(with_.var(0).mean())
        rows.append({"run": spec.label, "var_without": v0, "var_with": v1,
                     "reduction": 1 - v1 / v0, "n_confounds": full.shape[1] - base.shape[1],
                     "mean_fd": float(conf[FRAMEWISE_DISPLACEMENT].mean()),
                     "n_outliers": int(sum(c.startswith("motion_outlier") for c in conf))})
    return pd.DataFrame(rows)


def recovery_key(preset: str, seed: int) -> str:
    """Content key of :func:`recovery`: parameters, package version, generator and this code."""
    from mindpain.core.checksums import code_closure, code_fingerprint

    code = code_fingerprint(code_closure(__name__))
    return hashlib.sha256(f"{preset}|{seed}|{__version__}|{code}".encode()).hexdigest()


def recovery_cached(cache_dir, preset: str = "small", seed: int = 1) -> pd.DataFrame:
    """:func:`recovery`, cached in ``cache_dir`` under its content key (:func:`recovery_key`).

    The table is recomputed when the key (parameters, generator or this code) changes; it
    costs about a minute on the small preset. A copy committed in ``book/precomputed/``
    under the same key is adopted instead (:func:`mindpain.core.store.cached_table`).
    """
    return cached_table(
        Path(cache_dir) / f"twin_recovery_{preset}_seed-{seed}.tsv", recovery_key(preset, seed),
        lambda: recovery(preset, seed),
        {"world": "world of the twin", "signature": "signature scored",
         "latent": "planted latent response the signature should track",
         "r": "Pearson r of session score and latent response",
         "slope": "least-squares slope of score on latent response",
         "expected_slope": "loading the measurement model expects",
         "slope_ratio": "slope / expected_slope", "n_sessions": "sessions scored"},
        read=lambda p: read_tsv(p, keep_default_na=True), committed=PRECOMPUTED_DIR)


def world_note(world: str | None) -> str:
    """One sentence (Markdown) saying which world of the twin a chapter runs on."""
    if world is None:
        return "This chapter runs on **your own dataset**, not on the simulated twin."
    if world == "ideal":
        return ("This chapter runs on the twin's **ideal** world: its BOLD is made by the "
                "analysis model itself (canonical HRF, AR(1) noise, no head motion), so every "
                "model below is exact, a best case.")
    return ("This chapter runs on the twin's **realistic** world: its BOLD has head motion and "
            "motion-related signal, physiological noise, noise that is not AR(1), HRFs that "
            "differ between participants and regions, misregistration between sessions and "
            "trial-to-trial temperatures, which the analysis model does not know (chapter 3 "
            "compares recovery with the ideal world).")
