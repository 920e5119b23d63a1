r"""Design analysis of the trial: power, minimum detectable effects, type S and type M errors.

What could a trial of this size detect, and how much does a significant estimate
exaggerate? Everything here is on the **change-score scale** (Cohen's :math:`d_s` between
arms, :math:`d_z` within an arm), the scale the analyses of chapter 4 and the twin use.
The paper's reported d values live on another scale (:math:`2t/\sqrt{df}`); they are
converted with :mod:`mindpain.reported`, never retyped.

Power (analytic)
    Two-sided t test at level :math:`\alpha`. Between arms A and B (two-sample t on change
    scores, :math:`df = n_A + n_B - 2`) the statistic follows a noncentral t with
    :math:`\lambda = d\sqrt{n_A n_B/(n_A + n_B)}`; within an arm (one-sample t on changes,
    :math:`df = n - 1`) :math:`\lambda = d\sqrt{n}`. Power is
    :math:`P(|T| > t_{1-\alpha/2, df} \mid \lambda)`, exact for normal change scores.
Power (simulated)
    The share of replications of the twin's participant-level generator
    (:func:`mindpain.twin.participants.simulate_observed`) whose change-score test has
    :math:`p < \alpha`, for subsets of ``n`` completers per arm; its Monte-Carlo SE is
    :math:`\sqrt{\hat\pi(1-\hat\pi)/R}`.
Minimum detectable effect (MDE)
    The :math:`|d|` with the stated power (default 80 %) at the actual arm sizes.
Retrospective design analysis (Gelman & Carlin 2014)
    For a true effect :math:`D` and an estimate with standard error :math:`s` whose
    standardised error follows a t with ``df`` degrees of freedom (normal when ``df`` is
    infinite): power, type S rate :math:`P(\text{wrong sign} \mid \text{significant})` and
    exaggeration ratio (type M) :math:`E(|\hat D| \mid \text{significant}) / |D|`. For
    normal errors, with :math:`\lambda = D/s` and :math:`z = z_{1-\alpha/2}`,
    :math:`E(|\hat D|\,1_{sig})/s = \lambda[\Phi(\lambda - z) - \Phi(-\lambda - z)]
    + \phi(\lambda - z) + \phi(\lambda + z)` (closed form, Lu, Qiu & Deng 2019); with
    finite ``df`` the same form holds with the t density and the tail term
    :math:`f_\nu(a)(\nu + a^2)/(\nu - 1)` in place of :math:`\phi(a)`.
Sensitivity to the twin's assumptions
    The twin plants each effect as a d on the observed change score, so the change-score
    power at a planted d does not depend on any assumed noise or reliability. What does
    depend on them is (a) the power to detect a **fixed true neural change** (in signature
    units) when the measurement noise, the number of runs or the between-participant
    variability differ from what the twin assumes, (b) the ANCOVA's power (through the
    pre-post correlation) and (c) the power of the meditators' dose-response analysis.
    :func:`sensitivity` recomputes these in closed form from the twin's variance model
    (:func:`mindpain.twin.model.derive_constants`), sweeping each assumed parameter alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mindpain.reported import N_COMPLETERS, REPORTED, effect_scale_table
from mindpain.vocabulary import ARMS

ALPHA = 0.05
POWER_TARGET = 0.80
#: Participants per arm on the x axis of the power curves.
N_GRID = tuple(range(8, 201, 2))
#: True effects (|d|, change-score scale) for the power-vs-effect table.
D_GRID = tuple(np.round(np.arange(0.05, 1.001, 0.05), 2))
#: Columns of ``design_power.tsv``.
POWER_COLUMNS = {
    "outcome": "signature outcome of the reported contrast (nps, siips1)",
    "contrast": "MBSR_vs_HEP, MBSR_vs_WL (between arms) or MBSR_within (pre to post)",
    "scenario": "which true effect: 'paper' (the change-score d implied by the paper's t), "
                "'planted' (the twin's planted d) or 'grid' (a range of true effects)",
    "true_d": "true effect, |d| on the change-score scale (d_s between arms, d_z within)",
    "n_per_arm": "participants per arm (equal arms); NaN for the actual unequal arm sizes",
    "n1": "participants in the first arm (MBSR)",
    "n2": "participants in the second arm (NaN within an arm)",
    "df": "degrees of freedom of the t test",
    "power": "analytic power of the two-sided t test at alpha (noncentral t)",
    "actual_n": "True on the row of the trial's actual arm sizes (28/32/31 completers)",
}


# ---------------------------------------------------------------- analytic power


def _design(kind: str, n1, n2=None):
    """Degrees of freedom and the factor turning d into the noncentrality."""
    n1 = np.asarray(n1, float)
    if kind == "within":
        return n1 - 1, np.sqrt(n1)
    n2 = np.asarray(n1 if n2 is None else n2, float)
    return n1 + n2 - 2, np.sqrt(n1 * n2 / (n1 + n2))


def power_t(d, kind: str, n1, n2=None, alpha: float = ALPHA):
    r"""Analytic power of the two-sided change-score t test.

    Parameters
    ----------
    d : array_like
        True effect (Cohen's :math:`d_s` between arms, :math:`d_z` within).
    kind : {"between", "within"}
        Two-sample test of two arms' changes, or one-sample test of one arm's changes.
    n1, n2 : array_like
        Participants per arm (``n2`` defaults to ``n1``; ignored within an arm).
    alpha : float
        Two-sided level.

    Returns
    -------
    numpy.ndarray
        Power, broadcast over the inputs.

    Examples
    --------
    Cohen's classic table: d = 0.5 with 64 per arm has 80 % power.

    >>> round(float(power_t(0.5, "between", 64)), 3)
    0.801
    """
    df, k = _design(kind, n1, n2)
    ncp = np.asarray(d, float) * k
    return _nct_power(ncp, df, alpha)


def _nct_power(ncp, df, alpha: float = ALPHA):
    """Two-sided power of a t test with noncentrality ``ncp`` (NaN far in the tail -> 1)."""
    crit = stats.t.isf(alpha / 2, df)
    with np.errstate(invalid="ignore"):
        power = stats.nct.sf(crit, df, ncp) + stats.nct.cdf(-crit, df, ncp)
    return np.where(np.isnan(power) & (np.abs(ncp) > crit), 1.0, power)


def mde(kind: str, n1, n2=None, power: float = POWER_TARGET, alpha: float = ALPHA) -> float:
    """Smallest |d| detected with ``power`` by the two-sided test at the given sizes.

    Examples
    --------
    >>> round(mde("between", 64), 3)
    0.499
    """
    return float(optimize.brentq(lambda d: power_t(d, kind, n1, n2, alpha) - power, 1e-6, 10.0,
                                 xtol=1e-10))


def n_per_arm_for(d: float, kind: str, power: float = POWER_TARGET,
                  alpha: float = ALPHA) -> int:
    """Smallest equal arm size (or arm size, within) whose power reaches ``power``.

    Examples
    --------
    >>> n_per_arm_for(0.5, "between")
    64
    """
    n = 2
    while power_t(abs(d), kind, n, alpha=alpha) < power:
        n += 1
        if n > 100_000:
            raise ValueError(f"no arm size up to 100000 reaches power {power} for d = {d}")
    return n


def reported_contrasts() -> pd.DataFrame:
    """Return the paper's reported contrasts with their arm sizes and change-score d.

    Returns
    -------
    pandas.DataFrame
        :func:`mindpain.reported.effect_scale_table` (``outcome, contrast, kind,
        reported_d, reported_p, df, t, d_paper, d_change, n1, n2``).
    """
    return effect_scale_table()


def planted_d(preset: str) -> pd.DataFrame:
    """Planted d of the reported contrasts in the twin of ``preset`` (change-score scale)."""
    from mindpain.truth import planted_trial_effects

    planted = planted_trial_effects(preset)
    keys = {(c.outcome, c.contrast) for c in REPORTED}
    keep = [(o, c) in keys for o, c in zip(planted.outcome, planted.contrast, strict=True)]
    return planted.loc[keep, ["outcome", "contrast", "planted_d"]].reset_index(drop=True)


def power_table(preset: str | None = "full", n_grid=N_GRID, d_grid=D_GRID,
                alpha: float = ALPHA) -> pd.DataFrame:
    """Analytic power of every reported contrast (columns :data:`POWER_COLUMNS`).

    Three scenarios per contrast: ``paper`` (the change-score d the paper's t implies),
    ``planted`` (the twin's planted d, when ``preset`` is given) and ``grid`` (each
    absolute d in ``d_grid``). Each scenario has one row per equal arm size in ``n_grid`` and one
    row at the actual arm sizes (``actual_n`` True).
    """
    rep = reported_contrasts()
    effects = [("paper", o, c, abs(d)) for o, c, d in rep[["outcome", "contrast", "d_change"]]
               .itertuples(index=False)]
    if preset is not None:
        effects += [("planted", o, c, abs(d)) for o, c, d in planted_d(preset).itertuples(
            index=False)]
    effects += [("grid", o, c, float(d)) for o, c in rep[["outcome", "contrast"]]
                .itertuples(index=False) for d in d_grid]
    info = rep.set_index(["outcome", "contrast"])
    rows = []
    for scenario, outcome, contrast, d in effects:
        row = info.loc[(outcome, contrast)]
        kind = row["kind"]
        n_eq = np.asarray(n_grid, float)
        df, _ = _design(kind, n_eq, n_eq)
        frame = pd.DataFrame({"n_per_arm": n_eq, "n1": n_eq,
                              "n2": n_eq if kind == "between" else np.nan, "df": df,
                              "power": power_t(d, kind, n_eq, n_eq, alpha), "actual_n": False})
        n1, n2 = row["n1"], row["n2"]
        df_a, _ = _design(kind, n1, n2)
        actual = pd.DataFrame({"n_per_arm": [np.nan], "n1": [n1], "n2": [n2],
                               "df": [float(df_a)],
                               "power": [float(power_t(d, kind, n1, n2, alpha))],
                               "actual_n": [True]})
        rows.append(pd.concat([frame, actual], ignore_index=True).assign(
            outcome=outcome, contrast=contrast, scenario=scenario, true_d=d))
    out = pd.concat(rows, ignore_index=True)
    return out[list(POWER_COLUMNS)]


def mde_table(power: float = POWER_TARGET, alpha: float = ALPHA) -> pd.DataFrame:
    r"""MDE of each reported contrast's design at the actual arm sizes.

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, kind, n1, n2, mde_d`` (change-score scale), ``mde_d_paper``
        (the same effect on the paper's scale: between arms :math:`d_s` times
        :math:`2/\sqrt{df_{88}}\,/\sqrt{1/n_1+1/n_2}`; within, unchanged), ``d_change``
        (the change-score d the paper's t implies) and ``power_at_paper_d``.
    """
    from mindpain.reported import d_paper

    rep = reported_contrasts()
    rows = []
    for r in rep.itertuples(index=False):
        n2 = None if r.kind == "within" else r.n2
        m = mde(r.kind, r.n1, n2, power, alpha)
        paper = m if r.kind == "within" else float(d_paper(m / np.sqrt(1 / r.n1 + 1 / r.n2),
                                                           r.df))
        rows.append({"outcome": r.outcome, "contrast": r.contrast, "kind": r.kind,
                     "n1": r.n1, "n2": r.n2, "mde_d": m, "mde_d_paper": paper,
                     "d_change": r.d_change,
                     "power_at_paper_d": float(power_t(abs(r.d_change), r.kind, r.n1, n2,
                                                       alpha))})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- simulated power


def simulated_power(preset: str, seed: int, outcome: str, contrast: str, n_values,
                    n_replications: int = 4000, alpha: float = ALPHA) -> pd.DataFrame:
    r"""Power of the change-score test by simulation from the twin's participant level.

    Each replication of :func:`mindpain.twin.participants.simulate_observed` redraws every
    participant's true and observed outcomes; for each ``n`` the first ``n`` completers
    of each arm (in participant order, which the generator randomizes) are analysed.

    Parameters
    ----------
    preset : str
        Twin preset (the design must have at least ``max(n_values)`` completers per arm).
    seed : int
        Master seed.
    outcome, contrast : str
        E.g. ``"nps"``, ``"MBSR_vs_HEP"`` or ``"MBSR_within"``.
    n_values : sequence of int
        Participants per arm.
    n_replications : int
        Replications (Monte-Carlo SE of a power near 0.5 is :math:`0.5/\sqrt{R}`).
    alpha : float
        Two-sided level.

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, n_per_arm, planted_d, power_simulated, mc_se,
        power_analytic, replications``.
    """
    from mindpain.stats.effect_sizes import between_d, within_d
    from mindpain.twin.participants import simulate_observed

    obs = simulate_observed(preset, seed, n_replications)
    obs = obs[obs["group"].isin(ARMS)]
    both = obs.groupby("participant_id")["session"].transform("nunique").eq(2)
    obs = obs[both].sort_values(["replication", "participant_id", "session"], kind="stable")
    # Sorted so that each replication holds the same participants, "post" before "pre".
    values = obs[outcome].to_numpy().reshape(n_replications, -1, 2)
    change = values[..., 0] - values[..., 1]
    first = obs[obs["replication"] == obs["replication"].iloc[0]]
    arm = first.drop_duplicates("participant_id")["group"].to_numpy()
    truth = planted_d(preset).set_index(["outcome", "contrast"])["planted_d"]
    d_true = float(truth.get((outcome, contrast), np.nan))
    if np.isnan(d_true):
        from mindpain.truth import planted_trial_effects

        table = planted_trial_effects(preset).set_index(["outcome", "contrast"])
        d_true = float(table.loc[(outcome, contrast), "planted_d"])
    kind = "within" if contrast.endswith("_within") else "between"
    arms = contrast.split("_vs_") if kind == "between" else [contrast.split("_")[0]]
    rows = []
    for n in n_values:
        cols = [np.flatnonzero(arm == a)[:n] for a in arms]
        if any(c.size < n for c in cols):
            raise ValueError(f"preset {preset!r} has fewer than {n} completers in an arm")
        if kind == "between":
            p = between_d(change[:, cols[0]], change[:, cols[1]])["p"]
        else:
            p = within_d(change[:, cols[0]])["p"]
        share = float(np.mean(p < alpha))
        rows.append({"outcome": outcome, "contrast": contrast, "n_per_arm": int(n),
                     "planted_d": d_true, "power_simulated": share,
                     "mc_se": float(np.sqrt(share * (1 - share) / n_replications)),
                     "power_analytic": float(power_t(abs(d_true), kind, n, n, alpha)),
                     "replications": n_replications})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- Gelman & Carlin


@dataclass(frozen=True)
class Retrodesign:
    """Result of :func:`retrodesign` (arrays broadcast over the inputs)."""

    power: np.ndarray
    type_s: np.ndarray
    exaggeration: np.ndarray


def _abs_moment_normal(lam, z):
    """E(|X| 1{|X| > z}) for X ~ N(lam, 1) (closed form)."""
    from scipy.stats import norm

    return (lam * (norm.cdf(lam - z) - norm.cdf(-lam - z)) + norm.pdf(lam - z)
            + norm.pdf(lam + z))


def _abs_moment_t(lam, z, df):
    r"""E(|lam + T| 1{|lam + T| > z}) for T ~ t(df), df > 1 (closed form).

    Uses :math:`\int_a^\infty x f_\nu(x)\,dx = f_\nu(a)(\nu + a^2)/(\nu - 1)`.
    """

    def tail(a):
        return stats.t.pdf(a, df) * (df + a**2) / (df - 1)

    return (lam * (stats.t.sf(z - lam, df) - stats.t.cdf(-z - lam, df)) + tail(z - lam)
            + tail(z + lam))


def retrodesign(true_effect, se, alpha: float = ALPHA, df: float = np.inf) -> Retrodesign:
    r"""Gelman & Carlin's (2014) retrospective design analysis.

    Parameters
    ----------
    true_effect : array_like
        Plausible true effect :math:`D` (same units as ``se``; non-zero for the
        exaggeration ratio).
    se : array_like
        Standard error of the estimate.
    alpha : float
        Two-sided significance level.
    df : float
        Degrees of freedom of the t reference (``inf``: normal, as in the paper).

    Returns
    -------
    Retrodesign
        ``power``, ``type_s`` (probability that a significant estimate has the wrong sign)
        and ``exaggeration`` (expected |estimate| / |D| given significance).

    Examples
    --------
    Gelman & Carlin's rule of thumb: at 50 % power the exaggeration ratio is about 1.4.

    >>> r = retrodesign(1.959964, 1.0)
    >>> round(float(r.power), 3), round(float(r.exaggeration), 2)
    (0.5, 1.41)
    """
    lam, se_b = np.broadcast_arrays(np.abs(np.asarray(true_effect, float)),
                                    np.asarray(se, float))
    lam = lam / se_b
    if np.isinf(df):
        z = stats.norm.isf(alpha / 2)
        hi, lo = stats.norm.sf(z - lam), stats.norm.cdf(-z - lam)
        moment = _abs_moment_normal(lam, z)
    else:
        z = stats.t.isf(alpha / 2, df)
        hi, lo = stats.t.sf(z - lam, df), stats.t.cdf(-z - lam, df)
        moment = _abs_moment_t(lam, z, df)
    power = hi + lo
    with np.errstate(divide="ignore", invalid="ignore"):
        exaggeration = np.where(lam > 0, moment / (power * lam), np.inf)
    return Retrodesign(power=np.asarray(power), type_s=np.asarray(lo / power),
                       exaggeration=np.asarray(exaggeration))


#: Plausible true effects as fractions of the paper-scale change-score d (assumed).
SHRINKAGE = (1.0, 0.5, 0.25)
SHRINKAGE_LABELS = {1.0: "as estimated", 0.5: "half (replication average)",
                    0.25: "quarter (sceptical)"}


def contrast_se(kind: str, n1, n2=None) -> float:
    r"""Return the SE of a change-score d: :math:`\sqrt{1/n_1+1/n_2}` or :math:`1/\sqrt{n}`."""
    if kind == "within":
        return float(1 / np.sqrt(n1))
    return float(np.sqrt(1 / n1 + 1 / n2))


def retrodesign_table(shrinkage=SHRINKAGE, alpha: float = ALPHA) -> pd.DataFrame:
    """Type S and type M of every reported contrast for plausible true effects.

    The plausible true effect is the change-score d implied by the paper's t times a
    shrinkage factor (assumed: 1 = taken at face value; 0.5 = the average shrinkage of
    replications relative to original studies, Open Science Collaboration 2015; 0.25 =
    a sceptical prior). The SE is that of a change-score d at the actual arm sizes;
    the t reference has the contrast's df.

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, kind, d_change, shrinkage, true_d, se, df, power, type_s,
        exaggeration, expected_significant_d`` (true_d times exaggeration).
    """
    rows = []
    for r in reported_contrasts().itertuples(index=False):
        n2 = None if r.kind == "within" else r.n2
        se = contrast_se(r.kind, r.n1, n2)
        df = r.n1 - 1 if r.kind == "within" else r.n1 + r.n2 - 2
        for k in shrinkage:
            true = abs(r.d_change) * k
            res = retrodesign(true, se, alpha, df)
            rows.append({"outcome": r.outcome, "contrast": r.contrast, "kind": r.kind,
                         "d_change": r.d_change, "shrinkage": k, "true_d": true, "se": se,
                         "df": df, "power": float(res.power), "type_s": float(res.type_s),
                         "exaggeration": float(res.exaggeration),
                         "expected_significant_d": true * float(res.exaggeration)})
    return pd.DataFrame(rows)


def exaggeration_curve(d_values=None, alpha: float = ALPHA) -> pd.DataFrame:
    """Exaggeration ratio and type S rate against the true effect, per design.

    One curve per distinct design among the reported contrasts (MBSR vs HEP, MBSR vs WL,
    MBSR within), at the actual arm sizes.

    Returns
    -------
    pandas.DataFrame
        ``design, kind, n1, n2, true_d, power, type_s, exaggeration``.
    """
    d_values = np.round(np.arange(0.05, 1.0001, 0.025), 3) if d_values is None else d_values
    rep = reported_contrasts().drop_duplicates("contrast")
    rows = []
    for r in rep.itertuples(index=False):
        n2 = None if r.kind == "within" else r.n2
        se = contrast_se(r.kind, r.n1, n2)
        df = r.n1 - 1 if r.kind == "within" else r.n1 + r.n2 - 2
        res = retrodesign(np.asarray(d_values, float), se, alpha, df)
        rows.append(pd.DataFrame({"design": r.contrast, "kind": r.kind, "n1": r.n1, "n2": r.n2,
                                  "true_d": d_values, "power": res.power,
                                  "type_s": res.type_s, "exaggeration": res.exaggeration}))
    return pd.concat(rows, ignore_index=True)


# ---------------------------------------------------------------- sensitivity


#: Assumed twin parameters swept by :func:`sensitivity`: name -> (low, high) multipliers
#: of the assumed value (``n_runs``: absolute run counts).
SWEEP = {
    "bold.noise_percent": (0.5, 2.0),
    "task.n_runs": (1, 4),
    "outcomes.between_cv": (0.5, 2.0),
    "outcomes.change_sd_fraction": (0.5, 2.0),
}
SWEEP_LABELS = {"bold.noise_percent": "BOLD noise (% signal)",
                "task.n_runs": "runs per session",
                "outcomes.between_cv": "between-person variability (× assumed)",
                "outcomes.change_sd_fraction": "true change variability (× assumed)"}


def _variance_model(preset: str, outcome: str) -> dict:
    """Assumed variance components of one signature readout in the twin (score units).

    The readout's true level and change are its loadings on the latent responses applied
    to their covariances; its session-level measurement variance splits into scanner noise
    (which averages over runs) and the rest (idiosyncratic and generic patterns).
    """
    from mindpain.twin.model import READOUTS, derive_constants
    from mindpain.twin.params import load_parameters

    const = derive_constants(preset)
    params = load_parameters(preset)
    k = READOUTS.index(outcome)
    r = const.readout[k]
    scanner = float(const.noise_cov[k, k])
    return {"between": float(np.sqrt(r @ const.latent_cov("level") @ r)),
            "change": float(np.sqrt(r @ const.latent_cov("change") @ r)),
            "scanner": float(np.sqrt(scanner)),
            "other": float(np.sqrt(max(float(const.measurement_cov[k, k]) - scanner, 0.0))),
            "n_runs": params["task.n_runs"], "noise_percent": params["bold.noise_percent"],
            "between_cv": 1.0, "change_fraction": 1.0}


def _components(base: dict, parameter: str | None, value: float) -> dict:
    """Variance components with one parameter set to ``value`` (the twin's formulas).

    Scanner noise SD scales with the noise percent and with 1/sqrt(runs); the
    between-person SDs (and with them the true change SD) with the ``between_cv``
    multiplier; the true change SD with the ``change_sd_fraction`` multiplier.
    """
    between, change, scanner = base["between"], base["change"], base["scanner"]
    if parameter == "bold.noise_percent":
        scanner = scanner * value / base["noise_percent"]
    elif parameter == "task.n_runs":
        scanner = scanner * np.sqrt(base["n_runs"] / value)
    elif parameter == "outcomes.between_cv":
        between, change = between * value, change * value
    elif parameter == "outcomes.change_sd_fraction":
        change = change * value
    elif parameter is not None:
        raise ValueError(f"unknown swept parameter {parameter!r}; expected one of "
                         f"{', '.join(SWEEP)}")
    noise2 = scanner**2 + base["other"] ** 2
    var_pre = between**2 + noise2
    var_post = between**2 + change**2 + noise2
    return {"obs_change_sd": float(np.sqrt(change**2 + 2 * noise2)),
            "ancova_resid_sd": float(np.sqrt(var_post - between**4 / var_pre)),
            "obs_level_sd": float(np.sqrt(var_pre)),
            "prepost_r": float(between**2 / np.sqrt(var_pre * var_post))}


def _assumed_value(base: dict, parameter: str) -> float:
    return {"bold.noise_percent": base["noise_percent"], "task.n_runs": base["n_runs"],
            "outcomes.between_cv": base["between_cv"],
            "outcomes.change_sd_fraction": base["change_fraction"]}[parameter]


def _ltm_planted(preset: str) -> tuple[float, int]:
    """Planted retreat partial correlation (SIIPS1) and number of meditators."""
    from mindpain.truth import planted_meditator_effects
    from mindpain.twin.params import load_parameters

    planted = planted_meditator_effects(preset)
    row = planted.query("outcome == 'siips1' and effect == 'retreat' and method == 'partial_r'")
    return float(row["planted"].iloc[0]), int(load_parameters(preset)["design.n_meditators"])


def _ltm_power(r0: float, n: int, comp: dict, base_comp: dict, alpha: float) -> float:
    r"""Power of the meditators' retreat partial correlation (SIIPS1) for given components.

    The true slope in signature units is held at the twin's value; the partial
    correlation is :math:`A\sqrt{v}/\sqrt{A^2 v + s^2}` (``planted_meditator_effects``)
    with :math:`s` the observed level SD, so :math:`r^2/(1-r^2)` scales with
    :math:`1/s^2`; the test is Fisher's z with :math:`n - k - 3` (k = 3 covariates:
    non-retreat hours, age, sex).
    """
    snr = r0**2 / (1 - r0**2) * (base_comp["obs_level_sd"] / comp["obs_level_sd"]) ** 2
    r = np.sign(r0) * np.sqrt(snr / (1 + snr))
    z = abs(np.arctanh(r)) * np.sqrt(n - 3 - 3)
    crit = stats.norm.isf(alpha / 2)
    return float(stats.norm.sf(crit - z) + stats.norm.cdf(-crit - z))


def sensitivity(preset: str = "full", outcome: str = "nps", contrast: str = "MBSR_vs_HEP",
                sweep=None, n_points: int = 9, alpha: float = ALPHA) -> pd.DataFrame:
    """Power against each assumed twin parameter, swept alone over its stated range.

    The true mean difference in change (signature units) is held at the twin's planted
    value; for each parameter value the observed change SD, the ANCOVA residual SD and the
    observed level SD are recomputed with the twin's formulas (:func:`_components`), and
    with them the change-score power, the ANCOVA power (residual df :math:`n - 4` of the
    91 completers) and the power of the meditators' retreat dose-response (SIIPS1).

    Returns
    -------
    pandas.DataFrame
        ``parameter, label, value, assumed_value, relative, planted_d, effective_d,
        prepost_r, power_change, power_ancova, power_ltm``; ``relative`` is value over
        the assumed value.
    """
    sweep = SWEEP if sweep is None else sweep
    base = _variance_model(preset, outcome)
    base_comp = _components(base, None, 0.0)
    truth = planted_d(preset).set_index(["outcome", "contrast"])["planted_d"]
    d0 = abs(float(truth[(outcome, contrast)]))
    delta = d0 * base_comp["obs_change_sd"]
    a, b = contrast.split("_vs_")
    n1, n2 = N_COMPLETERS[a], N_COMPLETERS[b]
    df_anc = sum(N_COMPLETERS.values()) - 4
    se_k = np.sqrt(1 / n1 + 1 / n2)
    ltm_base = _variance_model(preset, "siips1")
    ltm_base_comp = _components(ltm_base, None, 0.0)
    r0, n_ltm = _ltm_planted(preset)
    rows = []
    for parameter, (low, high) in sweep.items():
        assumed = _assumed_value(base, parameter)
        if parameter == "task.n_runs":
            values = np.arange(int(low), int(high) + 1, dtype=float)
        else:
            values = assumed * np.geomspace(low, high, n_points)
        for v in values:
            comp = _components(base, parameter, v)
            d_eff = delta / comp["obs_change_sd"]
            p_anc = _nct_power(delta / (comp["ancova_resid_sd"] * se_k), df_anc, alpha)
            ltm_v = v * _assumed_value(ltm_base, parameter) / assumed \
                if parameter != "task.n_runs" else v
            ltm_comp = _components(ltm_base, parameter, ltm_v)
            rows.append({"parameter": parameter, "label": SWEEP_LABELS.get(parameter, parameter),
                         "value": float(v), "assumed_value": float(assumed),
                         "relative": float(v / assumed), "planted_d": d0, "effective_d": d_eff,
                         "prepost_r": comp["prepost_r"],
                         "power_change": float(power_t(d_eff, "between", n1, n2, alpha)),
                         "power_ancova": float(p_anc),
                         "power_ltm": _ltm_power(r0, n_ltm, ltm_comp, ltm_base_comp,
                                                 alpha)})
    return pd.DataFrame(rows)


def tornado(sens: pd.DataFrame, column: str = "power_change") -> pd.DataFrame:
    """Low and high end of each parameter's sweep for one power column (tornado bars).

    Returns
    -------
    pandas.DataFrame
        ``parameter, label, value_low, value_high, power_low, power_high, power_assumed``,
        sorted by the width of the bar (widest first).
    """
    rows = []
    for parameter, g in sens.groupby("parameter", sort=False):
        g = g.sort_values("value")
        at = g.iloc[(g["relative"] - 1).abs().argmin()]
        rows.append({"parameter": parameter, "label": g["label"].iloc[0],
                     "value_low": g["value"].iloc[0], "value_high": g["value"].iloc[-1],
                     "power_low": g[column].iloc[0], "power_high": g[column].iloc[-1],
                     "power_assumed": at[column]})
    out = pd.DataFrame(rows)
    width = (out["power_high"] - out["power_low"]).abs()
    return out.iloc[np.argsort(-width.to_numpy(), kind="stable")].reset_index(drop=True)


# ---------------------------------------------------------------- results file


def write_table(table: pd.DataFrame, name: str, columns: dict, cfg, out_dir=None,
                **meta) -> Path:
    """Write ``name`` (TSV, full precision) with a JSON sidecar of column meanings and ``meta``.

    The folder is ``out_dir``, else :func:`mindpain.trial.tables_dir` of ``cfg``; both
    files are written atomically.
    """
    from mindpain.io import write_json, write_tsv
    from mindpain.trial import tables_dir

    folder = Path(out_dir) if out_dir is not None else tables_dir(cfg)
    path = write_tsv(folder / name, table[list(columns)], float_format="%.10g")
    write_json(path.with_suffix(".json"), {**meta, "columns": columns})
    return path


def write_design_power(table: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write ``design_power.tsv`` and its JSON sidecar of column meanings."""
    return write_table(table, "design_power.tsv", POWER_COLUMNS, cfg, out_dir,
                       Description="Analytic power of the paper's reported contrasts "
                                   "(two-sided t test on change scores, noncentral t) by arm "
                                   "size and true effect", alpha=ALPHA)
