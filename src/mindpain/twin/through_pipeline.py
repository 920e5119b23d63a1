r"""What a signature reads of the twin through the pipeline: the planting's arithmetic.

The measurement model (:mod:`mindpain.twin.model`) reads a session's score over the whole
twin mask, :math:`m_k = L_k a + \ldots`. The pipeline (BOLD → first level → scoring) reads
it over the voxels its analysis mask keeps, and through a first level that is not the
model: :mod:`mindpain.endtoend.transfer` measures, per world and signature, the **kept
shares** of each latent loading and of the session noise variance (the analysis mask of a
preset's grid), and over those kept loadings a **gain** :math:`g`, an **offset** :math:`o`
(a change the pipeline adds to every participant, in SD of the kept change noise) and the
**noise ratios** :math:`q` (change) and :math:`q_l` (one session). The pipeline then reads

.. math:: m^{pipe}_k = c_s + g\,\tilde L_k a + e, \qquad
          \tilde L_{k,j} = s_{k,j} L_{k,j}, \qquad
          \mathrm{Var}(\Delta e) = q^2 \cdot 2\,\nu_k \Sigma_{kk},

with :math:`s_{k,j}` the share of loading :math:`L_{k,j}` the mask keeps and :math:`\nu_k`
the kept share of the noise variance. Because the shares are per latent response, the gain
does not depend on how the planted effect is divided between the two latent responses: the
twin solves its latent shifts through :math:`g\tilde L` (:func:`solve_pipeline_shifts`),
and the truth a chapter sets beside an estimate is read the same way
(:func:`recoverable_d_paper`).
"""

from __future__ import annotations

import numpy as np

from mindpain.core.vocabulary import ARMS, LATENTS, RATING_OUTCOMES


def pipeline_loading(loading: np.ndarray, transfer: dict) -> np.ndarray:
    r"""Return the loadings the pipeline reads, :math:`\tilde L_{k,j} = s_{k,j} L_{k,j}`.

    Parameters
    ----------
    loading : numpy.ndarray
        ``(2,)`` the measurement model's loadings of one readout on
        :data:`~mindpain.core.vocabulary.LATENTS`.
    transfer : dict
        The readout's transfer (:meth:`mindpain.twin.params.Parameters.transfer`) with its
        kept shares ``kept_<latent>`` (1 where absent).

    Returns
    -------
    numpy.ndarray
        ``(2,)`` the loadings over the voxels the analysis mask keeps (before the gain).

    Examples
    --------
    >>> pipeline_loading(np.array([2.0, 1.0]), {"kept_nociceptive": 0.5})
    array([1., 1.])
    """
    share = np.array([float(transfer.get(f"kept_{k}", 1.0)) for k in LATENTS])
    return np.asarray(loading, float) * share


def kept_noise_var(noise_var: float, transfer: dict) -> float:
    r"""Return the session noise variance over the kept voxels, :math:`\nu_k \Sigma_{kk}`."""
    return float(noise_var) * float(transfer.get("kept_noise", 1.0))


def pipeline_change_sd(params, transfer: dict, latent_var: float,
                       noise_var: float) -> dict:
    r"""SD of a signature's change score through the pipeline, per arm.

    :math:`\sqrt{g^2 \rho_a^2 v + q^2 \cdot 2\nu\Sigma_{kk}}`: the latent change's variance
    :math:`v = \tilde L_k^T C \tilde L_k` (over the kept loadings) read with the pipeline's
    gain :math:`g`, times the arm's squared change-SD ratio :math:`\rho_a`
    (``nuisance.arm_change_sd_ratio``, realistic world; 1 in the ideal one), plus the kept
    change noise :math:`2\nu\Sigma_{kk}` (``noise_var`` is :math:`\nu\Sigma_{kk}`) scaled by
    the pipeline's noise ratio :math:`q` (``change_noise_ratio``).
    """
    ratio = params["nuisance.arm_change_sd_ratio"] if params.realistic else {}
    return {a: float(np.sqrt(transfer["gain"] ** 2 * ratio.get(a, 1.0) ** 2 * latent_var
                             + transfer["change_noise_ratio"] ** 2 * 2 * noise_var))
            for a in ARMS}


def pooled_change_sd(sd_arm: dict) -> float:
    """Return the three arms' pooled change SD (weights: the paper's completers minus one)."""
    from mindpain.reported import N_COMPLETERS

    w = {a: N_COMPLETERS[a] - 1 for a in ARMS}
    return float(np.sqrt(sum(w[a] * sd_arm[a] ** 2 for a in ARMS) / sum(w.values())))


def solve_pipeline_shifts(effects: dict, transfer: dict, sd_arm: dict,
                          noise_var: float) -> dict:
    r"""Per arm, the shift of :math:`\tilde L_k a` whose pipeline readout gives each target its t.

    ``effects`` as in :func:`mindpain.twin.model.solve_group_shifts` (change-score d:
    :math:`d_s` between arms, :math:`d_z` within). Through the pipeline a difference between
    arms is read over the three arms' pooled change SD (:func:`pooled_change_sd`, the
    paper's test) and an arm's change over its own SD, so the pipeline's arm mean changes
    :math:`\mu_a` are solved with those SDs; the pipeline adds its offset
    :math:`o\sqrt{2\nu\Sigma_{kk}}` (``noise_var`` is :math:`\nu\Sigma_{kk}`) to every change
    and reads the kept loadings with gain :math:`g`, so the shift of :math:`\tilde L_k a` is
    :math:`(\mu_a - o\sqrt{2\nu\Sigma_{kk}}) / g`.
    """
    from mindpain.twin.model import solve_group_shifts

    pooled = pooled_change_sd(sd_arm)
    raw = {k: d * (sd_arm[k.split("_")[0]] if k.endswith("_within") else pooled)
           for k, d in effects.items()}
    mean = solve_group_shifts(raw, 1.0)
    offset = transfer["offset_ratio"] * np.sqrt(2 * noise_var)
    return {a: float((mean[a] - offset) / transfer["gain"]) for a in ARMS}


def pipeline_arm_means(const, outcome: str) -> dict | None:
    r"""Return the expected mean change of ``outcome``'s pipeline score per arm, or ``None``.

    :math:`g\,\tilde L_k \Delta a_a + o\sqrt{2\nu\Sigma_{kk}}` with the planted latent shifts
    :math:`\Delta a_a` (:attr:`~mindpain.twin.model.Constants.latent_shift`); ``None`` for a
    signature without a measured transfer.
    """
    from mindpain.twin.model import READOUTS

    transfer = const.pipeline_transfer.get(outcome)
    if transfer is None:
        return None
    k = READOUTS.index(outcome)
    loading = transfer["gain"] * pipeline_loading(const.readout[k], transfer)
    offset = transfer["offset_ratio"] * np.sqrt(
        2 * kept_noise_var(const.measurement_cov[k, k], transfer))
    return {a: float(loading @ [const.latent_shift[j][a] for j in LATENTS] + offset)
            for a in ARMS}


def recoverable_d_paper(const, outcome: str, contrast: str, planted: float) -> float:
    r"""Return the paper-scale effect the pipeline can recover (the analysis's estimand).

    For a signature with a measured pipeline transfer
    (:attr:`~mindpain.twin.model.Constants.pipeline_transfer`), the planted latent shifts are
    read through the pipeline (:func:`pipeline_arm_means`) and over the pipeline's change
    SDs (:attr:`~mindpain.twin.model.Constants.pipeline_change_sd`): between arms the three
    arms' pooled SD (the paper's test, df 88), within an arm its own SD; the expected t is
    put on the paper's scale. Ratings do not pass through the pipeline (``planted`` is
    returned); a signature without a measured transfer gives NaN.
    """
    from mindpain.reported import N_COMPLETERS, d_paper

    if outcome in RATING_OUTCOMES:
        return float(planted)
    mean = pipeline_arm_means(const, outcome)
    if mean is None:
        return float("nan")
    sd_arm = const.pipeline_change_sd[outcome]
    if contrast.endswith("_within"):
        arm = contrast.split("_")[0]
        return float(mean[arm] / sd_arm[arm])
    a, b = contrast.split("_vs_")
    t = ((mean[a] - mean[b]) / pooled_change_sd(sd_arm)
         / np.sqrt(1 / N_COMPLETERS[a] + 1 / N_COMPLETERS[b]))
    return float(d_paper(t, sum(N_COMPLETERS.values()) - len(ARMS)))
