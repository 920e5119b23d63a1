r"""Sensitivity of the trial's power to the twin's assumed parameters (tornado analysis).

The twin plants each effect as a d on the observed change score, so the change-score power
at a planted d (:mod:`mindpain.design.power`) does not depend on any assumed noise or
reliability. What does depend on them is (a) the power to detect a **fixed true neural
change** (in signature units) when the measurement noise, the number of runs or the
between-participant variability differ from what the twin assumes, (b) the ANCOVA's power
(through the pre-post correlation) and (c) the power of the meditators' dose-response
analysis. :func:`sensitivity` recomputes these in closed form from the twin's variance
model (:func:`mindpain.twin.model.derive_constants`), sweeping each assumed parameter
alone; :func:`tornado` reduces a sweep to the ends of each parameter's range.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.design.power import ALPHA, nct_power, planted_d_of, power_t
from mindpain.reported import N_COMPLETERS

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


def _variance_model(params, outcome: str) -> dict:
    """Assumed variance components of one signature readout in the twin (score units).

    The readout's true level and change are its loadings on the latent responses applied
    to their covariances; its session-level measurement variance splits into scanner noise
    (which averages over runs) and the rest (idiosyncratic and generic patterns). The same
    in every world and with or without the transfer (no planted shift is read).
    """
    from mindpain.twin.model import READOUTS, derive_constants

    const = derive_constants(params)
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


def _ltm_planted(params) -> tuple[float, int]:
    """Planted retreat partial correlation (SIIPS1) and number of meditators."""
    from mindpain.truth import planted_meditator_effects

    planted = planted_meditator_effects(params)
    row = planted.query("outcome == 'siips1' and effect == 'retreat' and method == 'partial_r'")
    return float(row["planted"].iloc[0]), int(params["design.n_meditators"])


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
    from mindpain.twin.params import participant_level_parameters

    sweep = SWEEP if sweep is None else sweep
    # the participant-level model's own planting (as the design analysis simulates it)
    params = participant_level_parameters(preset)
    base = _variance_model(params, outcome)
    base_comp = _components(base, None, 0.0)
    truth = planted_d_of(params).set_index(["outcome", "contrast"])["planted_d"]
    d0 = abs(float(truth[(outcome, contrast)]))
    delta = d0 * base_comp["obs_change_sd"]
    a, b = contrast.split("_vs_")
    n1, n2 = N_COMPLETERS[a], N_COMPLETERS[b]
    df_anc = sum(N_COMPLETERS.values()) - 4
    se_k = np.sqrt(1 / n1 + 1 / n2)
    ltm_base = _variance_model(params, "siips1")
    ltm_base_comp = _components(ltm_base, None, 0.0)
    r0, n_ltm = _ltm_planted(params)
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
            p_anc = nct_power(delta / (comp["ancova_resid_sd"] * se_k), df_anc, alpha)
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
