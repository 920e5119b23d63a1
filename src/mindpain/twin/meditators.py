r"""The long-term meditators of the twin: the planted value of every meditator estimand.

The generator (:mod:`mindpain.twin.participants`) draws practice hours and adds the
meditator terms; this module derives, exactly, what each analysis of
:mod:`mindpain.meditators.analysis` should estimate on that data.

The twin adds to each LTM's true level of outcome *j* the term
:math:`s_j\,(g_j + a_j z_r + b_j z_d)` with :math:`s_j` the observed single-session SD
(``derive_constants(params).observed_level_sd``), :math:`g, a, b` the parameter file's
``group_d``, ``retreat_slope`` and ``daily_slope``, and
:math:`z_r = (\log_{10} R - c_r)/\sigma_L`, :math:`z_d = (\log_{10} D - c_d)/\sigma_L`
(:math:`\sigma_L` the log10 SD of **lifetime** hours; :math:`c_r, c_d` the log10 of the
median lifetime hours times the mean retreat / non-retreat share). With
:math:`\log_{10} L` a normal censored at the minimum and the retreat share
:math:`B \sim \mathrm{Beta}(a, b)` independent of it, every moment below is exact
(digamma/trigamma for :math:`\log B`, :math:`\log(1-B)`; the censored normal for
:math:`\log L`), up to the rounding of hours to whole hours and the clipping of mean
ratings to 0-100. The NPS and SIIPS1 terms are stated on the observed scores and planted
as latent shifts (the twin's measurement model maps them back through the signatures'
loadings), so NPSpos/NPSneg receive the readout of those latent shifts (a fixed mix of the
NPS and SIIPS1 terms, :math:`r_k`).

* ``ols``/``rlm`` slopes (naive SD per tenfold hours): retreat :math:`A_k/s_k`, daily
  :math:`B_k/s_k`, lifetime :math:`(A_k+B_k)/s_k`, with
  :math:`A_k = r_k\cdot(s\,a)/\sigma_L` (the conditional mean is exactly linear in the
  log hours, so these are the regression estimands). Huber's M-estimator targets the same
  slope because the twin's errors are normal.
* ``partial_r``: the population (linear-projection) partial correlation, e.g. retreat
  :math:`A\sqrt{v_{R|D}}/\sqrt{A^2 v_{R|D} + s^2}`.
* ``welch_d``/``ancova_d``: :math:`E[T_k]/\sigma_{pooled}` with
  :math:`\sigma_{pooled}^2 = ((n_L-1)(s^2+\mathrm{Var}\,T_k) + (n_N-1)s^2)/(n_L+n_N-2)`
  (age and sex do not enter the twin's outcomes, so the adjusted difference is the same).
  Note :math:`E[z_r] \neq 0`: the centre uses :math:`\log_{10} E[B]`, not
  :math:`E[\log_{10} B]`, so the retreat term shifts the LTM mean of SIIPS1 although
  ``group_d`` is 0.
* ``spearman``: 0 where the outcome is independent of all practice terms, else NaN (no
  closed form); ``bf10``: NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.core.vocabulary import (
    DOSE_METHODS,
    GROUP_METHODS,
    SIGNATURE_OUTCOMES,
    TRIAL_OUTCOMES,
)
from mindpain.twin.model import READOUTS, derive_constants
from mindpain.twin.params import Parameters, load_parameters
from mindpain.twin.participants import practice_moments
from mindpain.twin.through_pipeline import kept_noise_var, pipeline_loading


def _practice_moments(params) -> dict:
    """Exact moments of log10 hours (from the generator) and its standardisation."""
    mom = practice_moments(params)
    # The generator standardises log10 hours with these exact moments.
    mom.update(sigma_r=float(np.sqrt(mom["v_r"])), sigma_d=float(np.sqrt(mom["v_d"])),
               c_r=mom["e_r"], c_d=mom["e_d"])
    return mom


def planted_meditator_effects(params: Parameters) -> pd.DataFrame:
    r"""Planted value of every meditator analysis' estimand on the observed scale.

    The derivation is in the module docstring ("Planted values"). Briefly, for outcome
    *k* the LTM term is :math:`T_k = G_k + A_k(\log_{10}R - c_r) + B_k(\log_{10}D - c_d)`,
    exactly linear in the log hours, and independent of the naive-like level and
    measurement noise (variance :math:`s_k^2`, the naive observed SD).

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters: its preset's group sizes enter the pooled SD of
        ``welch_d``/``ancova_d``; ``recoverable`` reads each signature through its world's
        measured pipeline transfer (gain and session noise,
        :mod:`mindpain.endtoend.transfer`).

    Returns
    -------
    pandas.DataFrame
        ``outcome, effect, method, planted, recoverable, parameter, parameter_value,
        status`` where ``planted`` is the value on the measurement model's scale,
        ``recoverable`` the value a signature read through the pipeline holds (the
        analysis's estimand; ratings: ``planted``; NaN when no transfer was measured),
        ``parameter`` is the parameter-file entry behind the effect and ``parameter_value``
        its value (0 = a planted null at the parameter level).

    Examples
    --------
    >>> from mindpain.twin.params import load_parameters
    >>> planted = planted_meditator_effects(load_parameters("full"))
    >>> row = planted.query("outcome == 'nps' and effect == 'retreat' and method == 'ols'")
    >>> float(row["planted"].iloc[0])
    0.0
    """
    const = derive_constants(params)
    mom = _practice_moments(params)
    g, a, b = (params[f"meditators.{n}"] for n in ("group_d", "retreat_slope", "daily_slope"))
    base = ("nps", "siips1")
    # Readout k of a shift that moves the expected (NPS, SIIPS1) scores by (1, 0) / (0, 1):
    # the terms are stated on the observed NPS and SIIPS1 and planted in latent space.
    unmix = np.column_stack([const.to_latent({x: 1.0}) for x in base])
    mixing = _mixing(const.readout, unmix)
    cov_b = const.latent_cov("level")
    n_ltm = params["design.n_meditators"]
    n_naive = (sum(params["design.n_completers"].values())
               + sum(params["design.n_baseline_only"].values()))
    status = {n: params.raw["meditators"][n]["status"]
              for n in ("group_d", "retreat_slope", "daily_slope")}
    rows = []
    for k in TRIAL_OUTCOMES:
        transfer = const.pipeline_transfer.get(k)
        planted = _estimands(k, const, mixing, cov_b, mom, (g, a, b), (n_ltm, n_naive))
        recoverable = (planted if k not in READOUTS else
                       {key: np.nan for key in planted} if transfer is None else
                       _estimands(k, const, mixing, cov_b, mom, (g, a, b), (n_ltm, n_naive),
                                  (transfer, unmix)))
        pval = _parameter_values(k, mixing, (g, a, b))
        for (effect, method), value in planted.items():
            param = {"group": ("group_d", pval["g"]), "retreat": ("retreat_slope", pval["a"]),
                     "daily": ("daily_slope", pval["b"]),
                     "lifetime": ("retreat_slope", max(pval["a"], pval["b"]))}[effect]
            rows.append({"outcome": k, "effect": effect, "method": method,
                         "planted": value, "recoverable": recoverable[(effect, method)],
                         "parameter": param[0], "parameter_value": param[1],
                         "status": status[param[0]]})
    out = pd.DataFrame(rows)
    out[["planted", "recoverable"]] = out[["planted", "recoverable"]].astype(float)
    return out


def _mixing(loading: np.ndarray, unmix: np.ndarray) -> np.ndarray:
    """Readout of unit observed NPS and SIIPS1 shifts (``loading @ unmix``).

    Rounding-level entries are set to exactly 0, so a term the readout does not carry reads
    as absent.
    """
    mixing = np.array([loading @ u for u in unmix.T]).T  # one column of unmix at a time
    mixing[np.abs(mixing) < 1e-9] = 0.0
    return mixing


def _parameter_values(k: str, mixing: np.ndarray, terms: tuple) -> dict:
    """Parameter-file value behind each term of outcome ``k`` (the readout mixes NPS, SIIPS1)."""
    base = ("nps", "siips1")
    names = ("g", "a", "b")
    if k in READOUTS:
        r = mixing[READOUTS.index(k)]
        return {n: float(max(abs(p.get(x, 0.0)) for x in base if r[base.index(x)] != 0))
                for n, p in zip(names, terms, strict=True)}
    return {n: abs(p.get(k, 0.0)) for n, p in zip(names, terms, strict=True)}


def _estimands(k: str, const, mixing, cov_b, mom: dict, terms: tuple, sizes: tuple,
               through: tuple | None = None) -> dict:
    """Value of every meditator estimand of outcome ``k``: ``{(effect, method): value}``.

    With ``through`` (a signature's measured pipeline transfer and the ``(2, 2)`` latent
    shift per unit of observed NPS and SIIPS1), the values a signature read through the
    pipeline holds: its LTM terms and its naive level variance's latent part read with the
    gain over the kept loadings (:func:`mindpain.twin.through_pipeline.pipeline_loading`),
    the session noise over the kept voxels times the squared level-noise ratio.
    """
    g, a, b = terms
    n_ltm, n_naive = sizes
    base = ("nps", "siips1")
    sd_obs = const.observed_level_sd
    if k in READOUTS:
        loading, r = const.readout[READOUTS.index(k)], mixing[READOUTS.index(k)]
        noise = const.measurement_sd(k) ** 2
        if through is not None:
            transfer, unmix = through
            loading = transfer["gain"] * pipeline_loading(loading, transfer)
            r = _mixing(loading, unmix)
            noise = transfer["level_noise_ratio"] ** 2 * kept_noise_var(noise, transfer)
        var_n = float(loading @ cov_b @ loading) + noise
        coefs = {n: float(r @ [sd_obs[x] * p.get(x, 0.0) for x in base])
                 for n, p in (("g", g), ("a", a), ("b", b))}
    else:
        var_n = const.between_sd[k] ** 2 + const.measurement_sd(k) ** 2
        coefs = {n: sd_obs[k] * p.get(k, 0.0) for n, p in (("g", g), ("a", a), ("b", b))}
    s = np.sqrt(var_n)
    A, B = coefs["a"] / mom["sigma_r"], coefs["b"] / mom["sigma_d"]
    mean_t = coefs["g"] + A * (mom["e_r"] - mom["c_r"]) + B * (mom["e_d"] - mom["c_d"])
    var_t = A**2 * mom["v_r"] + B**2 * mom["v_d"] + 2 * A * B * mom["c_rd"]
    pooled = np.sqrt(((n_ltm - 1) * (var_n + var_t) + (n_naive - 1) * var_n)
                     / (n_ltm + n_naive - 2))
    out = {("group", m): (mean_t / pooled if m != "bf10" else np.nan) for m in GROUP_METHODS}
    if k not in SIGNATURE_OUTCOMES:
        return {key: float(v) for key, v in out.items()}
    v_r_d = mom["v_r"] - mom["c_rd"] ** 2 / mom["v_d"]
    v_d_r = mom["v_d"] - mom["c_rd"] ** 2 / mom["v_r"]
    slopes = {"retreat": A, "daily": B, "lifetime": A + B}
    partial = {
        "retreat": A * np.sqrt(v_r_d) / np.sqrt(A**2 * v_r_d + var_n),
        "daily": B * np.sqrt(v_d_r) / np.sqrt(B**2 * v_d_r + var_n),
        "lifetime": (A + B) * mom["v_l"] / np.sqrt(mom["v_l"] * (var_n + var_t)),
    }
    independent = A == 0 and B == 0
    for effect in ("retreat", "daily", "lifetime"):
        values = {"ols": slopes[effect] / s, "rlm": slopes[effect] / s,
                  "partial_r": partial[effect], "spearman": 0.0 if independent else np.nan}
        for method in DOSE_METHODS:
            out[(effect, method)] = values[method]
    return {key: float(v) for key, v in out.items()}


def practice_summary(preset: str) -> dict:
    """Implied features of the twin's practice model used in the chapter's prose.

    Returns the SD of log10 retreat hours, the slope of SIIPS1 per SD of log10 retreat
    hours (naive SD units), the mean of the generator's standardised retreat term
    :math:`E[z_r]`, and the retreat-daily correlation of log hours.

    A chapter's helper: it loads the parameters of ``preset`` (the default world) once.
    """
    params = load_parameters(preset)
    mom = _practice_moments(params)
    planted = planted_meditator_effects(params).set_index(["outcome", "effect", "method"])
    slope = float(planted.loc[("siips1", "retreat", "ols"), "planted"])
    return {"sd_log_retreat": float(np.sqrt(mom["v_r"])),
            "sd_log_lifetime": float(np.sqrt(mom["v_l"])),
            "generator_sd": float(mom["sigma_r"]),
            "siips1_slope_per_sd": slope * float(np.sqrt(mom["v_r"])),
            "mean_z_retreat": float((mom["e_r"] - mom["c_r"]) / mom["sigma_r"]),
            "corr_retreat_daily": float(mom["c_rd"] / np.sqrt(mom["v_r"] * mom["v_d"])),
            "retreat_slope_parameter": float(params["meditators.retreat_slope"]["siips1"])}


def meditator_parameters(preset: str) -> pd.DataFrame:
    """Return the parameter file's ``meditators`` entries with value, status and note.

    A chapter's helper: it loads the parameters of ``preset`` once.
    """
    table = load_parameters(preset).table()
    return table[table["section"].eq("meditators")].drop(columns=["section", "unit"]) \
        .reset_index(drop=True)
