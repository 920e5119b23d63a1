"""Participant level of the twin: who took part, their true responses, their observations.

This level is drawn first and fast; the BOLD is then made from it. :func:`simulate_observed`
draws the observed outcomes directly (true values plus the measurement noise that the BOLD
noise model implies), for calibration studies with hundreds of replications.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.config import derive_rng
from mindpain.twin.model import ARMS, OUTCOMES, READOUTS, derive_constants, twin_space
from mindpain.twin.params import load_parameters

SESSIONS = ("pre", "post")


def draw_participants(preset: str, seed: int) -> pd.DataFrame:
    """Draw the participants table: id, group, age, sex, sessions, practice hours.

    Naive participants are randomized to the arms (arm sizes from the parameter file)
    and listed first; long-term meditators (group ``LTM``) follow.
    """
    params = load_parameters(preset)
    rng = derive_rng(seed, "participants")
    completers, dropouts = params["design.n_completers"], params["design.n_baseline_only"]
    slots = [(arm, True) for arm in ARMS for _ in range(completers[arm])]
    slots += [(arm, False) for arm in ARMS for _ in range(dropouts[arm])]
    slots = [slots[i] for i in rng.permutation(len(slots))]
    n_ltm = params["design.n_meditators"]
    rows = []
    for arm, complete in slots:
        rows.append({"group": arm, "cohort": "naive", "completed_post": complete})
    rows += [{"group": "LTM", "cohort": "meditator", "completed_post": False}] * n_ltm
    table = pd.DataFrame(rows)
    n = len(table)
    table.insert(0, "participant_id", [f"sub-{i + 1:03d}" for i in range(n)])
    naive = table["cohort"].eq("naive").to_numpy()

    def ages(spec, size):
        return np.clip(np.round(rng.normal(spec["mean"], spec["sd"], size)), spec["min"],
                       spec["max"]).astype(int)

    age = np.empty(n, dtype=int)
    age[naive] = ages(params["design.age_naive"], naive.sum())
    age[~naive] = ages(params["design.age_meditators"], (~naive).sum())
    female = params["design.female_fraction"]
    p_female = np.where(naive, female["naive"], female["LTM"])
    table["age"] = age
    table["sex"] = np.where(rng.random(n) < p_female, "F", "M")

    hours = params["meditators.lifetime_hours"]
    frac = params["meditators.retreat_fraction"]
    lifetime = np.maximum(10 ** rng.normal(np.log10(hours["median"]), hours["log10_sd"], n),
                          hours["min"])
    retreat = lifetime * rng.beta(frac["a"], frac["b"], n)
    table["lifetime_hours"] = np.where(naive, np.nan, np.round(lifetime))
    table["retreat_hours"] = np.where(naive, np.nan, np.round(retreat))
    table["hot_temperature"] = np.round(rng.uniform(
        params["task.temperature"]["hot_min"], params["task.temperature"]["hot_max"], n), 1)
    return table


def _sessions(participants: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for rec in participants.itertuples(index=False):
        rows.append((rec.participant_id, "pre"))
        if rec.completed_post:
            rows.append((rec.participant_id, "post"))
    return pd.DataFrame(rows, columns=["participant_id", "session"])


def practice_moments(params) -> dict:
    r"""Exact moments of log10 lifetime, retreat and non-retreat hours of the meditators.

    Lifetime hours are log-normal, censored below at ``min``; the retreat share is
    Beta(a, b). With :math:`\psi` the digamma and :math:`\psi_1` the trigamma function,
    :math:`E[\log_{10} f] = (\psi(a) - \psi(a+b)) / \ln 10` and
    :math:`Var[\log_{10} f] = (\psi_1(a) - \psi_1(a+b)) / \ln^2 10`.

    Returns
    -------
    dict
        ``e_l, v_l`` (log10 lifetime), ``e_r, v_r`` (log10 retreat), ``e_d, v_d``
        (log10 non-retreat) and ``c_rd`` (covariance of log10 retreat and non-retreat).
    """
    from scipy import special, stats

    hours, frac = params["meditators.lifetime_hours"], params["meditators.retreat_fraction"]
    a, b = float(frac["a"]), float(frac["b"])
    mu, sig, low = np.log10(hours["median"]), float(hours["log10_sd"]), np.log10(hours["min"])
    alpha = (low - mu) / sig
    p_low, dens = stats.norm.cdf(alpha), stats.norm.pdf(alpha)
    e_l = low * p_low + mu * (1 - p_low) + sig * dens
    e2_l = (low**2 * p_low + mu**2 * (1 - p_low) + 2 * mu * sig * dens
            + sig**2 * ((1 - p_low) + alpha * dens))
    v_l = e2_l - e_l**2
    ln10 = np.log(10)
    e_f = (special.digamma(a) - special.digamma(a + b)) / ln10
    e_1f = (special.digamma(b) - special.digamma(a + b)) / ln10
    v_f = (special.polygamma(1, a) - special.polygamma(1, a + b)) / ln10**2
    v_1f = (special.polygamma(1, b) - special.polygamma(1, a + b)) / ln10**2
    c_f1f = -special.polygamma(1, a + b) / ln10**2
    return {"e_l": float(e_l), "v_l": float(v_l), "e_r": float(e_l + e_f),
            "v_r": float(v_l + v_f), "e_d": float(e_l + e_1f), "v_d": float(v_l + v_1f),
            "c_rd": float(v_l + c_f1f)}


def _meditator_terms(participants: pd.DataFrame, preset: str) -> dict:
    """Per-participant shifts of the meditators' true levels (group and dose terms).

    Log10 retreat and non-retreat hours are standardised with their exact population
    moments (:func:`practice_moments`), so a slope is per SD of log10 hours and the dose
    terms average zero: ``group_d`` alone sets the meditators' mean difference.
    """
    params = load_parameters(preset)
    const = derive_constants(preset)
    mom = practice_moments(params)
    ltm = participants["group"].eq("LTM").to_numpy()
    log_r = np.log10(np.maximum(participants["retreat_hours"].to_numpy(dtype=float), 1.0))
    log_d = np.log10(np.maximum(participants["lifetime_hours"] - participants["retreat_hours"], 1.0)
                     .to_numpy(dtype=float))
    z_r = np.where(ltm, (log_r - mom["e_r"]) / np.sqrt(mom["v_r"]), 0.0)
    z_d = np.where(ltm, (log_d - mom["e_d"]) / np.sqrt(mom["v_d"]), 0.0)
    terms = {}
    group_d = params["meditators.group_d"]
    slope_r, slope_d = params["meditators.retreat_slope"], params["meditators.daily_slope"]
    for k in OUTCOMES:
        sd = const.observed_level_sd[k]
        terms[k] = np.where(ltm, group_d.get(k, 0.0) * sd, 0.0) + sd * (
            slope_r.get(k, 0.0) * z_r + slope_d.get(k, 0.0) * z_d)
    return terms


def draw_truth(participants: pd.DataFrame, preset: str, seed: int, rng=None) -> pd.DataFrame:
    """Draw the true outcome of every participant and session.

    Returns one row per participant and session with the true NPS and SIIPS1 responses
    (the planted scores), the NPSpos/NPSneg readouts they imply, and the true mean
    ratings of hot trials.
    """
    const = derive_constants(preset)
    space = twin_space(preset)
    rng = derive_rng(seed, "truth") if rng is None else rng
    n = len(participants)
    corr = const.correlation
    sd_b = np.array([const.between_sd[k] for k in OUTCOMES])
    sd_c = np.array([const.change_sd[k] for k in OUTCOMES])
    level = rng.multivariate_normal(np.zeros(4), corr, size=n) * sd_b
    change = rng.multivariate_normal(np.zeros(4), corr, size=n) * sd_c
    mean = np.array([const.mean[k] for k in OUTCOMES])
    terms = _meditator_terms(participants, preset)
    pre = mean + level + np.column_stack([terms[k] for k in OUTCOMES])
    shift = np.array([[const.group_shift[k].get(g, 0.0) for k in OUTCOMES]
                      for g in participants["group"]])
    post = pre + shift + change
    # Mean ratings live on the 0-100 visual analogue scale.
    for k in ("intensity", "unpleasantness"):
        j = OUTCOMES.index(k)
        pre[:, j], post[:, j] = np.clip(pre[:, j], 0, 100), np.clip(post[:, j], 0, 100)
    sessions = _sessions(participants)
    index = {pid: i for i, pid in enumerate(participants["participant_id"])}
    rows = []
    for pid, ses in sessions.itertuples(index=False):
        values = (pre if ses == "pre" else post)[index[pid]]
        rec = dict(zip(OUTCOMES, values, strict=True))
        sig = space.readout @ np.array([rec["nps"], rec["siips1"]])
        rec.update(dict(zip(READOUTS, sig, strict=True)))
        rows.append({"participant_id": pid, "session": ses, **rec})
    truth = pd.DataFrame(rows)
    truth = truth.merge(participants[["participant_id", "group"]], on="participant_id")
    return truth[["participant_id", "session", "group", *READOUTS, "intensity", "unpleasantness"]]


def simulate_observed(preset: str, seed: int, n_replications: int) -> pd.DataFrame:
    """Draw observed participant-level outcomes for many replications, without BOLD.

    Each replication redraws the participants' true values (same design, same
    participants table) and adds the measurement noise the twin's BOLD noise model
    implies for session scores (joint across NPS, SIIPS1, NPSpos, NPSneg) and for mean
    ratings (trial noise over the session's hot trials).

    Parameters
    ----------
    preset : {"small", "full"}
        Design and grid whose constants are used.
    seed : int
        Master seed; replication *r* uses streams derived from it and *r*.
    n_replications : int
        Number of replications.

    Returns
    -------
    pandas.DataFrame
        Long table: ``replication, participant_id, session, group`` and one column per
        outcome (``nps, siips1, nps_pos, nps_neg, intensity, unpleasantness``).

    Examples
    --------
    >>> obs = simulate_observed("small", seed=1, n_replications=2)
    >>> sorted(obs["replication"].unique().tolist())
    [0, 1]
    """
    const = derive_constants(preset)
    participants = draw_participants(preset, seed)
    frames = []
    for rep in range(n_replications):
        rng = derive_rng(seed, "replication", rep)
        truth = draw_truth(participants, preset, seed, rng=rng)
        noise = rng.multivariate_normal(np.zeros(len(READOUTS)), const.measurement_cov,
                                        size=len(truth))
        for k, name in enumerate(READOUTS):
            truth[name] = truth[name] + noise[:, k]
        for name in ("intensity", "unpleasantness"):
            truth[name] = truth[name] + rng.normal(0, const.rating_measurement_sd, len(truth))
        truth.insert(0, "replication", rep)
        frames.append(truth)
    return pd.concat(frames, ignore_index=True)
