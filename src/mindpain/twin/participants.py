"""Participant level of the twin: who took part, their latent responses, their observations.

This level is drawn first and fast; the BOLD is then made from it. The truth of a session
is latent: its nociceptive and modulatory responses (percent signal change at the peak of
the twin's patterns) and its true mean ratings. :func:`simulate_observed` draws the
observed outcomes directly through the measurement model of :mod:`mindpain.twin.model`
(loadings of each signature on the latent responses, plus what leaks into a score from
the generic activation, the idiosyncratic pattern and scanner noise), for calibration
studies with hundreds of replications.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.core.config import derive_rng
from mindpain.core.vocabulary import RATING_OUTCOMES
from mindpain.twin.model import ARMS, LATENT_OUTCOMES, READOUTS, derive_constants
from mindpain.twin.params import Parameters
from mindpain.twin.patterns import LATENTS


def draw_participants(params: Parameters, seed: int,
                      dropout_log_odds: float | None = None) -> pd.DataFrame:
    """Draw the participants table: id, group, age, sex, sessions, practice hours.

    Naive participants are randomized to the arms (arm sizes from the parameter file)
    and listed first; long-term meditators (group ``LTM``) follow. Who completes the post
    session is random (missing completely at random) unless the dropout depends on the
    baseline (``design.dropout_baseline_log_odds``, or ``dropout_log_odds`` if given, not
    0): then :func:`mar_dropout` chooses each arm's dropouts from the participants'
    baseline nociceptive responses (those :func:`draw_truth` draws in ``params``' world).

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (design; world of the baseline that dropout may depend on).
    seed : int
        Master seed.
    dropout_log_odds : float, optional
        Log odds ratio of dropping out per SD of the baseline (default: the parameter
        file's).

    Returns
    -------
    pandas.DataFrame
        One row per participant.
    """
    table = _draw_participants(params, seed)
    log_odds = (params["design.dropout_baseline_log_odds"]
                if dropout_log_odds is None else float(dropout_log_odds))
    if log_odds != 0.0:
        table = mar_dropout(table, params, seed, log_odds)
    return table


def mar_dropout(participants: pd.DataFrame, params: Parameters, seed: int,
                log_odds: float) -> pd.DataFrame:
    r"""Re-draw who drops out of each arm, with odds that depend on the baseline response.

    Each arm keeps its number of dropouts (``design.n_baseline_only``; the completers are
    the reported ones). The dropouts are drawn one after another without replacement, each
    draw choosing a remaining participant of the arm with probability proportional to
    :math:`\exp(\beta z)`, where :math:`z` is the participant's baseline (``pre``)
    nociceptive response standardised within the arm and :math:`\beta` is ``log_odds``
    (the log odds ratio of dropping out per SD, between two remaining participants). The
    baseline is the latent response :func:`draw_truth` draws for the same seed in
    ``params``' world (the value the baseline scan measures with noise), so the missingness
    depends on the baseline only: missing at random given it. Random stream:
    ``derive_rng(seed, "dropout")``.

    Parameters
    ----------
    participants : pandas.DataFrame
        :func:`draw_participants` without baseline-dependent dropout.
    params : mindpain.twin.params.Parameters
        The twin's parameters (arm sizes, world of the baseline).
    seed : int
        Master seed.
    log_odds : float
        Log odds ratio of dropping out per SD of the baseline.

    Returns
    -------
    pandas.DataFrame
        ``participants`` with ``completed_post`` re-drawn within each arm.
    """
    rows, post = _session_index(participants)
    values = _draw_sessions(participants, params, derive_rng(seed, "truth"), rows, post,
                            pre_only=True)
    baseline = values[:, LATENT_OUTCOMES.index("nociceptive")]
    rng = derive_rng(seed, "dropout")
    out = participants.copy()
    for arm in ARMS:
        idx = np.flatnonzero(out["group"].eq(arm).to_numpy())
        out.loc[out.index[idx], "completed_post"] = baseline_completers(
            baseline[idx], int(params["design.n_baseline_only"][arm]), log_odds, rng)
    return out


def baseline_completers(baseline: np.ndarray, n_dropouts: int, log_odds: float,
                        rng: np.random.Generator) -> np.ndarray:
    r"""Choose ``n_dropouts`` of an arm by baseline; return who completes (bool).

    Successive draws without replacement, each choosing a remaining participant with
    probability proportional to :math:`\exp(\beta z)` (:math:`z`: ``baseline``
    standardised; :math:`\beta`: ``log_odds``).
    """
    z = np.asarray(baseline, float)
    z = (z - z.mean()) / z.std() if z.std() > 0 else np.zeros_like(z)
    weight = np.exp(log_odds * z)
    remaining = np.ones(z.size, bool)
    for _ in range(int(n_dropouts)):
        w = np.where(remaining, weight, 0.0)
        remaining[rng.choice(z.size, p=w / w.sum())] = False
    return remaining


def _draw_participants(params: Parameters, seed: int) -> pd.DataFrame:
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


def _meditator_terms(participants: pd.DataFrame, params: Parameters) -> dict:
    """Per-participant shifts of the meditators' true levels (group and dose terms).

    Log10 retreat and non-retreat hours are standardised with their exact population
    moments (:func:`practice_moments`), so a slope is per SD of log10 hours and the dose
    terms average zero: ``group_d`` alone sets the meditators' mean difference. The
    parameter file states the terms in SD of the observed NPS and SIIPS1 (and ratings);
    the NPS and SIIPS1 terms are mapped to latent shifts through the loadings
    (:meth:`~mindpain.twin.model.Constants.to_latent`). The terms read no planted shift:
    they are the same in every world and with or without the transfer.

    Returns
    -------
    dict
        :data:`~mindpain.twin.model.LATENT_OUTCOMES` -> array of shifts, one per
        participant.
    """
    const = derive_constants(params)
    mom = practice_moments(params)
    ltm = participants["group"].eq("LTM").to_numpy()
    log_r = np.log10(np.maximum(participants["retreat_hours"].to_numpy(dtype=float), 1.0))
    log_d = np.log10(np.maximum(participants["lifetime_hours"] - participants["retreat_hours"], 1.0)
                     .to_numpy(dtype=float))
    z_r = np.where(ltm, (log_r - mom["e_r"]) / np.sqrt(mom["v_r"]), 0.0)
    z_d = np.where(ltm, (log_d - mom["e_d"]) / np.sqrt(mom["v_d"]), 0.0)
    group_d = params["meditators.group_d"]
    slope_r, slope_d = params["meditators.retreat_slope"], params["meditators.daily_slope"]
    observed = {}
    for k in ("nps", "siips1", "intensity", "unpleasantness"):
        sd = const.observed_level_sd[k]
        observed[k] = np.where(ltm, group_d.get(k, 0.0) * sd, 0.0) + sd * (
            slope_r.get(k, 0.0) * z_r + slope_d.get(k, 0.0) * z_d)
    unit = {k: const.to_latent({k: 1.0}) for k in ("nps", "siips1")}
    terms = {k: observed["nps"] * unit["nps"][j] + observed["siips1"] * unit["siips1"][j]
             for j, k in enumerate(LATENTS)}
    terms["intensity"], terms["unpleasantness"] = observed["intensity"], observed["unpleasantness"]
    return terms


def draw_truth(participants: pd.DataFrame, params: Parameters, seed: int,
               rng=None) -> pd.DataFrame:
    """Draw the true (latent) responses of every participant and session.

    In the ``realistic`` world the latent responses' deviations are skewed and the arms' true
    changes have unequal SDs (:func:`realistic_deviations`); ``ideal`` draws them Gaussian
    with equal SDs, from the same random numbers. The planting is ``params``'
    (:func:`~mindpain.twin.model.derive_constants`; parameters loaded without the transfer
    only to measure the transfer).

    Parameters
    ----------
    participants : pandas.DataFrame
        :func:`draw_participants`.
    params : mindpain.twin.params.Parameters
        The twin's parameters of a preset and world, with or without the transfer.
    seed : int
        Master seed (stream ``derive_rng(seed, "truth")`` unless ``rng`` is given).
    rng : numpy.random.Generator, optional
        The random stream to draw from.

    Returns
    -------
    pandas.DataFrame
        One row per participant and session: ``participant_id, session, group`` and
        :data:`~mindpain.twin.model.LATENT_OUTCOMES` (``nociceptive, modulatory``: latent
        responses, percent signal change at the pattern's peak; ``intensity,
        unpleasantness``: true mean ratings of the hot trials before trial noise).
    """
    rng = derive_rng(seed, "truth") if rng is None else rng
    rows, post = _session_index(participants)
    values = _draw_sessions(participants, params, rng, rows, post)
    truth = participants[["participant_id", "group"]].iloc[rows].reset_index(drop=True)
    truth.insert(1, "session", np.where(post, "post", "pre"))
    for j, k in enumerate(LATENT_OUTCOMES):
        truth[k] = values[:, j]
    return truth[["participant_id", "session", "group", *LATENT_OUTCOMES]]


def _session_index(participants: pd.DataFrame):
    """Participant row and post flag of every session, in the order of :func:`_sessions`."""
    sessions = _sessions(participants)
    index = {pid: i for i, pid in enumerate(participants["participant_id"])}
    rows = sessions["participant_id"].map(index).to_numpy()
    return rows, sessions["session"].eq("post").to_numpy()


def realistic_deviations(params, level: np.ndarray, change: np.ndarray, sd_b, sd_c,
                         groups) -> tuple[np.ndarray, np.ndarray]:
    """Skew the latent responses' deviations and give each arm its change SD.

    Each latent column (:data:`~mindpain.twin.patterns.LATENTS`) of the Gaussian level and
    change draws is mapped through a standardised log-normal of shape
    ``nuisance.latent_skew`` (same mean 0 and SD, right-skewed); the change is then scaled
    by ``nuisance.arm_change_sd_ratio`` of the participant's arm (1 for the meditators).
    """
    sigma = float(params["nuisance.latent_skew"])
    ratio = params["nuisance.arm_change_sd_ratio"]
    mean, sd = np.exp(sigma**2 / 2), np.sqrt((np.exp(sigma**2) - 1) * np.exp(sigma**2))

    def skew(z):
        return (np.exp(sigma * z) - mean) / sd

    level, change = level.copy(), change.copy()
    for j in range(len(LATENTS)):
        level[:, j] = skew(level[:, j] / sd_b[j]) * sd_b[j]
        change[:, j] = skew(change[:, j] / sd_c[j]) * sd_c[j]
    arm = np.array([ratio.get(g, 1.0) for g in groups])
    change[:, :len(LATENTS)] *= arm[:, None]
    return level, change


def _draw_sessions(participants, params: Parameters, rng, rows, post, terms=None,
                   pre_only: bool = False) -> np.ndarray:
    """Draw ``(n_sessions, 4)`` true values of :data:`LATENT_OUTCOMES` (one replication).

    In ``params``' world, planted as ``params`` plant
    (:func:`~mindpain.twin.model.derive_constants`). ``pre_only``: return every
    participant's baseline values, ``(n_participants, 4)``.
    """
    const = derive_constants(params)
    n = len(participants)
    corr = const.correlation
    sd_b = np.array([const.between_sd[k] for k in LATENT_OUTCOMES])
    sd_c = np.array([const.change_sd[k] for k in LATENT_OUTCOMES])
    level = rng.multivariate_normal(np.zeros(4), corr, size=n) * sd_b
    change = rng.multivariate_normal(np.zeros(4), corr, size=n) * sd_c
    if params.realistic:
        level, change = realistic_deviations(params, level, change, sd_b, sd_c,
                                             participants["group"])
    mean = np.array([const.mean[k] for k in LATENT_OUTCOMES])
    terms = _meditator_terms(participants, params) if terms is None else terms
    pre = mean + level + np.column_stack([terms[k] for k in LATENT_OUTCOMES])
    shift = np.array([[const.latent_shift[k].get(g, 0.0) for k in LATENT_OUTCOMES]
                      for g in participants["group"]])
    if pre_only:
        return pre
    after = pre + shift + change
    # Mean ratings live on the 0-100 visual analogue scale.
    for k in RATING_OUTCOMES:
        j = LATENT_OUTCOMES.index(k)
        pre[:, j], after[:, j] = np.clip(pre[:, j], 0, 100), np.clip(after[:, j], 0, 100)
    return np.where(post[:, None], after[rows], pre[rows])


def simulate_observed(params: Parameters, seed: int, n_replications: int) -> pd.DataFrame:
    """Draw observed participant-level outcomes for many replications, without BOLD.

    Each replication redraws the participants' latent responses (same design, same
    participants table) and reads them out through the measurement model of
    :mod:`mindpain.twin.model`: signature score = loadings x latent responses + mean
    generic contribution + session-level variation (scanner noise, idiosyncratic pattern,
    generic amplitude; joint across NPS, SIIPS1, NPSpos, NPSneg); mean rating = true
    rating + trial noise over the session's hot trials.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters whose design, constants and planting are used: the
        participant-level studies (trial and meditator calibration, design analysis) pass
        :func:`~mindpain.twin.params.participant_level_parameters`, the measurement model's
        own planting in the ideal world.
    seed : int
        Master seed; replication *r* uses streams derived from it and *r*.
    n_replications : int
        Number of replications.

    Returns
    -------
    pandas.DataFrame
        Long table: ``replication, participant_id, session, group``, one column per
        observed outcome (``nps, siips1, nps_pos, nps_neg, intensity, unpleasantness``)
        and, last, the latent truth (``nociceptive, modulatory``).

    Examples
    --------
    >>> from mindpain.twin.params import participant_level_parameters
    >>> params = participant_level_parameters("small")
    >>> obs = simulate_observed(params, seed=1, n_replications=2)
    >>> sorted(obs["replication"].unique().tolist())
    [0, 1]
    """
    const = derive_constants(params)
    participants = draw_participants(params, seed)
    rows, post = _session_index(participants)
    terms = _meditator_terms(participants, params)
    n_ses = rows.size
    values = np.empty((n_replications, n_ses, len(READOUTS) + 2 + len(LATENTS)))
    for rep in range(n_replications):
        rng = derive_rng(seed, "replication", rep)
        truth = _draw_sessions(participants, params, rng, rows, post, terms)
        latent = truth[:, :len(LATENTS)]
        noise = rng.multivariate_normal(np.zeros(len(READOUTS)), const.measurement_cov,
                                        size=n_ses)
        values[rep, :, :len(READOUTS)] = latent @ const.readout.T + const.generic_mean + noise
        ratings = truth[:, len(LATENTS):] + rng.normal(0, const.rating_measurement_sd, (n_ses, 2))
        values[rep, :, len(READOUTS):len(READOUTS) + 2] = ratings
        values[rep, :, len(READOUTS) + 2:] = latent
    ids = participants[["participant_id", "group"]].iloc[rows].reset_index(drop=True)
    out = pd.DataFrame({
        "replication": np.repeat(np.arange(n_replications), n_ses),
        "participant_id": np.tile(ids["participant_id"].to_numpy(), n_replications),
        "session": np.tile(np.where(post, "post", "pre"), n_replications),
        "group": np.tile(ids["group"].to_numpy(), n_replications)})
    names = (*READOUTS, "intensity", "unpleasantness", *LATENTS)
    flat = values.reshape(-1, len(names))
    for j, name in enumerate(names):
        out[name] = flat[:, j]
    return out
