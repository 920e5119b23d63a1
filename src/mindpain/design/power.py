r"""Design analysis of the trial: analytic and simulated power, minimum detectable effects.

What could a trial of this size detect? Everything here is on the **change-score scale**
(Cohen's :math:`d_s` between arms, :math:`d_z` within an arm), the scale the analyses of
chapter 4 and the twin use.
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
Results file
    :func:`write_design_power` writes ``design_power.tsv`` with a JSON sidecar of column
    meanings (:func:`mindpain.core.store.write_table`).

How much a significant estimate exaggerates (type S and type M errors) is computed by
:mod:`mindpain.design.retrodesign`; how the power depends on the twin's assumed parameters by
:mod:`mindpain.design.sensitivity`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, stats

from mindpain.core.vocabulary import ARMS
from mindpain.reported import REPORTED, effect_scale_table

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
    return nct_power(ncp, df, alpha)


def nct_power(ncp, df, alpha: float = ALPHA):
    r"""Two-sided power of a t test with noncentrality ``ncp`` (NaN far in the tail -> 1).

    Parameters
    ----------
    ncp : array_like
        Noncentrality of the t statistic.
    df : array_like
        Degrees of freedom.
    alpha : float
        Two-sided level.

    Returns
    -------
    numpy.ndarray
        :math:`P(|T| > t_{1-\alpha/2, df})` under the noncentral t, broadcast over the
        inputs.

    Examples
    --------
    >>> round(float(nct_power(2.8, 126)), 3)
    0.794
    """
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
    """Planted d of the reported contrasts in the twin of ``preset`` (change-score scale).

    A chapter's helper: :func:`planted_d_of` the participant-level model of ``preset``
    (:func:`~mindpain.twin.params.participant_level_parameters`, loaded once).

    Parameters
    ----------
    preset : str
        The twin's preset.

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, planted_d``, one row per reported contrast.
    """
    from mindpain.twin.params import participant_level_parameters

    return planted_d_of(participant_level_parameters(preset))


def planted_d_of(params) -> pd.DataFrame:
    """Planted d of the reported contrasts in the twin of ``params`` (change-score scale).

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The participant-level model's parameters
        (:func:`~mindpain.twin.params.participant_level_parameters`: the measurement model's
        own planting).

    Returns
    -------
    pandas.DataFrame
        ``outcome, contrast, planted_d``, one row per reported contrast.
    """
    from mindpain.truth import planted_trial_effects

    planted = planted_trial_effects(params)
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
        from mindpain.twin.params import participant_level_parameters

        params = participant_level_parameters(preset)
        effects += [("planted", o, c, abs(d)) for o, c, d in planted_d_of(params).itertuples(
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
    from mindpain.twin.params import participant_level_parameters
    from mindpain.twin.participants import simulate_observed

    params = participant_level_parameters(preset)
    obs = simulate_observed(params, seed, n_replications)
    obs = obs[obs["group"].isin(ARMS)]
    both = obs.groupby("participant_id")["session"].transform("nunique").eq(2)
    obs = obs[both].sort_values(["replication", "participant_id", "session"], kind="stable")
    # Sorted so that each replication holds the same participants, "post" before "pre".
    values = obs[outcome].to_numpy().reshape(n_replications, -1, 2)
    change = values[..., 0] - values[..., 1]
    first = obs[obs["replication"] == obs["replication"].iloc[0]]
    arm = first.drop_duplicates("participant_id")["group"].to_numpy()
    truth = planted_d_of(params).set_index(["outcome", "contrast"])["planted_d"]
    d_true = float(truth.get((outcome, contrast), np.nan))
    if np.isnan(d_true):
        from mindpain.truth import planted_trial_effects

        table = planted_trial_effects(params).set_index(["outcome", "contrast"])
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


# ---------------------------------------------------------------- results file


def write_design_power(table: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write ``design_power.tsv`` and its JSON sidecar of column meanings."""
    from mindpain.core.store import table_path, write_table

    return write_table(table, table_path(cfg, "design_power.tsv", out_dir), POWER_COLUMNS,
                       float_format="%.10g",
                       Description="Analytic power of the paper's reported contrasts (two-sided "
                                   "t test on change scores, noncentral t) by arm size and true "
                                   "effect", alpha=ALPHA)
