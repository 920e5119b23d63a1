r"""The twin's measurement model: what the signatures read from the twin's BOLD.

The BOLD generator (:mod:`mindpain.twin.patterns`, :mod:`mindpain.twin.bold`) makes each
session's hot>warm response from the twin's own spatial patterns,

.. math:: \beta_{is} = a^{noc}_{is} P_{noc} + a^{mod}_{is} P_{mod} + g_{is} G + e_{is},

without reading any signature map. This module applies the **scorer** to that generator:
with :math:`w_k` the weights of readout *k* (NPS, SIIPS1, NPSpos, NPSneg of the open
surrogates, resampled to the twin grid as the scoring stage does), a session's score is

.. math:: m_{k,is} = L_{k,noc} a^{noc}_{is} + L_{k,mod} a^{mod}_{is}
                   + (w_k^T G) g_{is} + w_k^T e_{is} + \varepsilon_{k,is},
   \qquad L_{k,j} = w_k^T P_j .

The loadings :math:`L` are the scorer applied to the generator's patterns; their cosine
form is the *similarity* stated in the parameter file (``patterns.similarity``) and checked
by a test. Everything that is not the latent response leaks into the score as in real data:
the generic activation (its session-to-session amplitude variation), the idiosyncratic
pattern :math:`e_{is}` (smooth, of fixed voxel SD) and the scanner noise
:math:`\varepsilon` whose covariance follows from the BOLD noise model (spatially smooth,
AR(1), fixed amplitude): for weights :math:`w_x, w_y`,
:math:`\mathrm{Cov}(\varepsilon_x, \varepsilon_y) = \sigma^2 (K w_x)^T (K w_y) / c \cdot
g^T \Sigma g / R`, with :math:`K` the spatial smoothing operator, :math:`c` its variance
normaliser, :math:`g` the contrast's estimation vector of one run, :math:`\Sigma` the AR(1)
correlation and :math:`R` the number of runs. The idiosyncratic pattern uses the same
smoothing, so its score covariance is :math:`\sigma_e^2 (K w_x)^T (K w_y) / c`.

Planting (:func:`derive_constants`): the paper's reported contrasts are on the observed
NPS and SIIPS1 scores. The observed change-score shifts that give each reported contrast
its reported *expected* t (the change-score d values of
:func:`mindpain.reported.effect_scale_table`) are mapped to the latent space by
inverting the 2 × 2 loading block of NPS and SIIPS1, so the twin's truth is latent
while the observed expected t match the paper.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd

from mindpain.core.config import derive_rng
from mindpain.core.images import resample_like
from mindpain.core.vocabulary import (
    ARMS,
    RATING_OUTCOMES,
    TRIAL_CONTRASTS,
    TWIN_READOUTS,
)
from mindpain.twin.params import Parameters
from mindpain.twin.patterns import (
    LATENTS,
    GeneratorSpace,
    generator_space,
    smooth_noise_operator,
)
from mindpain.twin.task import frame_times, make_run_events
from mindpain.twin.through_pipeline import (
    kept_noise_var,
    pipeline_change_sd,
    pipeline_loading,
    recoverable_d_paper,
    solve_pipeline_shifts,
)

#: Signatures the twin's measurement model reads out (open surrogates).
PLANTED_SIGNATURES = {"nps": "nps-surrogate", "siips1": "siips1-surrogate"}
#: Readouts computed for every session, in the generator's order.
READOUTS = TWIN_READOUTS
#: The participant-level quantities drawn per session: latent responses and true ratings.
LATENT_OUTCOMES = LATENTS + RATING_OUTCOMES
#: Observed outcomes whose effects the parameter file plants.
OUTCOMES = ("nps", "siips1", "intensity", "unpleasantness")


@dataclass(frozen=True)
class TwinSpace:
    """The generator's space plus the scorer: surrogate weights and loadings on the twin grid.

    Attributes
    ----------
    generator : GeneratorSpace
        Grid, mask and the generator's own patterns (built without any signature map).
    weights : dict
        Readout name -> in-mask weight vector of the open surrogate.
    readout : numpy.ndarray
        ``(4, 2)`` loadings :math:`L_{k,j} = w_k^T P_j` of :data:`READOUTS` on
        :data:`~mindpain.twin.patterns.LATENTS`.
    generic_readout : numpy.ndarray
        ``(4,)`` :math:`w_k^T G` (generic pattern of peak 1).
    similarity : pandas.DataFrame
        Measured cosine similarity of each readout's weights with each latent pattern and
        the generic pattern.
    """

    generator: GeneratorSpace
    weights: dict
    readout: np.ndarray
    generic_readout: np.ndarray
    similarity: pd.DataFrame

    def __getattr__(self, name):
        # Grid attributes (shape, affine, mask, voxel_size, to_volume, ...) of the generator.
        if name == "generator":
            raise AttributeError(name)
        return getattr(self.generator, name)


def _cosine(a, b) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else 0.0


@lru_cache(maxsize=8)
def twin_space(params: Parameters) -> TwinSpace:
    """Build the :class:`TwinSpace` of ``params``' preset (deterministic; cached).

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters (:func:`~mindpain.twin.params.load_parameters`).

    Returns
    -------
    TwinSpace
        The generator's space with the planted signatures' readouts.
    """
    from mindpain.signatures.surrogates import build_surrogate

    gen = generator_space(params)
    weights = {}
    for key, name in PLANTED_SIGNATURES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            w = resample_like(build_surrogate(name).weights, gen.shape, gen.affine)
        weights[key] = w[gen.mask]
    weights["nps_pos"] = np.clip(weights["nps"], 0, None)
    weights["nps_neg"] = np.clip(weights["nps"], None, 0)
    return readout_space(gen, weights)


def readout_space(gen: GeneratorSpace, weights: dict) -> TwinSpace:
    """Build the :class:`TwinSpace` of readout ``weights`` (in-mask vectors) on ``gen``."""
    P = gen.pattern_matrix()
    readout = np.array([[weights[r] @ P[:, j] for j in range(len(LATENTS))] for r in READOUTS])
    generic = np.array([weights[r] @ gen.generic for r in READOUTS])
    rows = []
    for r in READOUTS:
        for name, vec in (*((k, gen.patterns[k]) for k in LATENTS), ("generic", gen.generic)):
            rows.append({"readout": r, "pattern": name, "cosine": _cosine(weights[r], vec)})
    return TwinSpace(generator=gen, weights=weights, readout=readout, generic_readout=generic,
                     similarity=pd.DataFrame(rows))


def contrast_variance_factor(params: Parameters, n_designs: int = 16) -> float:
    r"""Mean of :math:`g^T \Sigma g` for the hot-minus-warm contrast of one run.

    Averaged over ``n_designs`` jittered designs drawn from a fixed stream (a property
    of the task, not of any dataset seed). Uses nilearn's design matrix: Glover HRF and
    a cosine drift basis with a 1/128 Hz cut-off, as the first-level stage does.
    """
    from nilearn.glm.first_level import make_first_level_design_matrix

    rho = params["bold.noise_ar1"]
    times = frame_times(params)
    lags = np.abs(np.subtract.outer(np.arange(times.size), np.arange(times.size)))
    sigma_t = rho ** lags
    values = []
    for k in range(n_designs):
        rng = derive_rng(0, "reference-design", k)
        events = make_run_events(rng, params, hot_temperature=48.0)
        X = make_first_level_design_matrix(times, events[["onset", "duration", "trial_type"]],
                                           hrf_model="glover", drift_model="cosine",
                                           high_pass=1 / 128)
        c = np.array([1.0 if col == "hot" else -1.0 if col == "warm" else 0.0 for col in X.columns])
        g = X.to_numpy() @ np.linalg.pinv(X.to_numpy().T @ X.to_numpy()) @ c
        values.append(g @ sigma_t @ g)
    return float(np.mean(values))


@dataclass(frozen=True)
class Constants:
    """Derived constants of the participant-level model.

    Latent responses are in percent signal change at the peak of their pattern; readouts
    in score units of the open surrogates; ratings on the 0-100 scale.

    Attributes
    ----------
    mean, between_sd, change_sd : dict
        Per :data:`LATENT_OUTCOMES`: baseline mean, between-participant SD of the true
        level, SD of the true pre-to-post change.
    correlation : numpy.ndarray
        ``(4, 4)`` correlation of levels and of changes across :data:`LATENT_OUTCOMES`.
    readout : numpy.ndarray
        ``(4, 2)`` loadings of :data:`READOUTS` on the latent responses.
    generic_mean : numpy.ndarray
        ``(4,)`` mean contribution of the generic activation to each readout.
    noise_cov, idiosyncratic_cov, generic_cov : numpy.ndarray
        ``(4, 4)`` session-level covariance of the readouts from scanner noise, from the
        idiosyncratic pattern and from the generic amplitude's variation.
    measurement_cov : numpy.ndarray
        Their sum: everything in a session's score that is not the latent response.
    rating_measurement_sd : float
        Noise SD of a session's mean rating.
    latent_shift : dict
        Per latent outcome and arm: true mean change (the planted effects).
    observed_shift : dict
        Per readout and rating, per arm: expected mean change of the observed outcome.
    observed_change_sd, observed_level_sd : dict
        Per readout and rating: SD of the observed change score and of one observed level.
    pipeline_transfer : dict
        Per readout with a measured transfer in this world: its ``gain, offset_ratio,
        change_noise_ratio, level_noise_ratio`` and the kept shares ``kept_<part>`` of the
        grid's analysis mask (:mod:`mindpain.endtoend.transfer`,
        :mod:`mindpain.twin.through_pipeline`).
    pipeline_change_sd : dict
        Per such readout and arm: SD of the change score through the pipeline
        (:func:`pipeline_change_sd`).
    """

    mean: dict
    between_sd: dict
    change_sd: dict
    correlation: np.ndarray
    readout: np.ndarray
    generic_mean: np.ndarray
    noise_cov: np.ndarray
    idiosyncratic_cov: np.ndarray
    generic_cov: np.ndarray
    measurement_cov: np.ndarray
    rating_measurement_sd: float
    latent_shift: dict
    observed_shift: dict
    observed_change_sd: dict
    observed_level_sd: dict
    pipeline_transfer: dict
    pipeline_change_sd: dict

    def measurement_sd(self, outcome: str) -> float:
        """Session-level SD of everything in ``outcome`` that is not its true value."""
        if outcome in READOUTS:
            k = READOUTS.index(outcome)
            return float(np.sqrt(self.measurement_cov[k, k]))
        return self.rating_measurement_sd

    def latent_cov(self, which: str = "change") -> np.ndarray:
        """``(2, 2)`` covariance of the latent responses' levels or changes."""
        sd = np.array([(self.change_sd if which == "change" else self.between_sd)[k]
                       for k in LATENTS])
        return self.correlation[:2, :2] * np.outer(sd, sd)

    def to_latent(self, observed: dict) -> np.ndarray:
        """Latent shift that moves the expected NPS and SIIPS1 scores by ``observed``."""
        block = self.readout[[READOUTS.index("nps"), READOUTS.index("siips1")]]
        return np.linalg.solve(block, [observed.get("nps", 0.0), observed.get("siips1", 0.0)])


@lru_cache(maxsize=8)
def derive_constants(params: Parameters) -> Constants:
    """Compute the participant-level constants of ``params`` (cached).

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters of a preset and world; loaded with the transfer
        (:attr:`~mindpain.twin.params.Parameters.with_transfer`) they plant through the
        measured pipeline transfer of the world (see :func:`constants_of`), without it for
        the measurement model itself.

    Returns
    -------
    Constants
        The participant-level constants, read out by :func:`twin_space`.
    """
    return constants_of(params, twin_space(params))


def constants_of(params: Parameters, space: TwinSpace) -> Constants:
    """Compute the participant-level constants of ``params`` read out by ``space``."""
    mean = {k: float(params[f"patterns.{k}_peak_percent"]) for k in LATENTS}
    ratings = params["outcomes.ratings"]
    mean["intensity"], mean["unpleasantness"] = (ratings["intensity_mean"],
                                                 ratings["unpleasantness_mean"])
    cv, frac = params["outcomes.between_cv"], params["outcomes.change_sd_fraction"]
    between = {k: cv[k] * mean[k] for k in LATENTS}
    between["intensity"], between["unpleasantness"] = (ratings["intensity_sd"],
                                                       ratings["unpleasantness_sd"])
    change = {k: frac[k] * between[k] for k in LATENTS}
    for k in RATING_OUTCOMES:
        change[k] = ratings["change_sd_fraction"] * between[k]
    corr = np.asarray(params["outcomes.correlation"], float)

    n_runs = params["task.n_runs"]
    gsg = contrast_variance_factor(params)
    smoothed = np.column_stack([smooth_noise_operator(space.generator, space.weights[r])
                                for r in READOUTS])
    kernel = smoothed.T @ smoothed
    noise_cov = params["bold.noise_percent"] ** 2 * kernel * gsg / n_runs
    idio_cov = params["bold.idiosyncratic_percent"] ** 2 * kernel
    generic = params["bold.generic_percent"] * space.generic_readout
    generic_cov = params["bold.generic_amplitude_cv"] ** 2 * np.outer(generic, generic)
    mcov = noise_cov + idio_cov + generic_cov
    n_hot = n_runs * params["task.trials_per_condition_per_run"]
    rating_sd = ratings["trial_sd"] / np.sqrt(n_hot)

    L = space.readout
    sd_l = np.array([between[k] for k in LATENTS])
    sd_c = np.array([change[k] for k in LATENTS])
    cov_l, cov_c = corr[:2, :2] * np.outer(sd_l, sd_l), corr[:2, :2] * np.outer(sd_c, sd_c)
    obs_change, obs_level = {}, {}
    for k, r in enumerate(READOUTS):
        obs_change[r] = float(np.sqrt(L[k] @ cov_c @ L[k] + 2 * mcov[k, k]))
        obs_level[r] = float(np.sqrt(L[k] @ cov_l @ L[k] + mcov[k, k]))
    for r in RATING_OUTCOMES:
        obs_change[r] = float(np.sqrt(change[r] ** 2 + 2 * rating_sd**2))
        obs_level[r] = float(np.sqrt(between[r] ** 2 + rating_sd**2))

    # Observed-scale targets -> arm shifts of the observed NPS, SIIPS1 and ratings; for a
    # signature with a measured pipeline transfer, the targets hold through the pipeline.
    # The shifts are solved on the loadings each signature is read with: the pipeline's
    # kept loadings (mindpain.twin.through_pipeline) where a transfer was measured.
    pipeline_sd, transfer, rows = {}, {}, {}
    for k, r in enumerate(READOUTS):
        tr = params.transfer(r)
        rows[r] = L[k] if tr is None else pipeline_loading(L[k], tr)
        if tr is not None:
            transfer[r] = tr
            pipeline_sd[r] = pipeline_change_sd(params, tr, rows[r] @ cov_c @ rows[r],
                                                kept_noise_var(mcov[k, k], tr))
    observed = {}
    for k in OUTCOMES:
        if k in transfer:
            j = READOUTS.index(k)
            observed[k] = solve_pipeline_shifts(effect_targets(params, k), transfer[k],
                                                pipeline_sd[k],
                                                kept_noise_var(mcov[j, j], transfer[k]))
        else:
            observed[k] = solve_group_shifts(effect_targets(params, k), obs_change[k])
    block = np.vstack([rows["nps"], rows["siips1"]])
    latent_arm = {a: np.linalg.solve(block, [observed["nps"][a], observed["siips1"][a]])
                  for a in ARMS}
    latent_shift = {k: {a: float(latent_arm[a][j]) for a in ARMS} for j, k in enumerate(LATENTS)}
    for r in RATING_OUTCOMES:
        latent_shift[r] = observed[r]
    for k, r in enumerate(READOUTS):
        observed[r] = {a: float(L[k] @ latent_arm[a]) for a in ARMS}
    return Constants(
        mean=mean, between_sd=between, change_sd=change, correlation=corr, readout=L,
        generic_mean=generic, noise_cov=noise_cov, idiosyncratic_cov=idio_cov,
        generic_cov=generic_cov, measurement_cov=mcov, rating_measurement_sd=float(rating_sd),
        latent_shift=latent_shift, observed_shift=observed, observed_change_sd=obs_change,
        observed_level_sd=obs_level, pipeline_transfer=transfer, pipeline_change_sd=pipeline_sd,
    )


def solve_group_shifts(effects: dict, sd: float) -> dict:
    """Turn planted d values into true mean changes per arm.

    ``effects`` holds ``"A_within": d`` (d_z of arm A) and ``"A_vs_B": d`` (difference in
    change between arms, in SD of the observed change); every arm must be reachable.

    Examples
    --------
    >>> shifts = solve_group_shifts({"MBSR_within": -0.5, "MBSR_vs_HEP": -0.5,
    ...                              "MBSR_vs_WL": -0.5}, sd=2.0)
    >>> shifts["MBSR"], shifts["HEP"]
    (-1.0, 0.0)
    """
    known = {k.split("_")[0]: d * sd for k, d in effects.items() if k.endswith("_within")}
    pairs = [(k.split("_vs_")[0], k.split("_vs_")[1], d * sd) for k, d in effects.items()
             if "_vs_" in k]
    for _ in range(len(ARMS)):
        for a, b, diff in pairs:
            if a in known and b not in known:
                known[b] = known[a] - diff
            elif b in known and a not in known:
                known[a] = known[b] + diff
    missing = [a for a in ARMS if a not in known]
    if missing:
        raise ValueError(f"parameters.toml: effects leave arms {missing} undetermined")
    return {a: float(known[a]) for a in ARMS}


def effect_targets(params: Parameters, outcome: str) -> dict:
    """Planted observed-scale d values of ``outcome`` (reported, derived and assumed parts).

    For the NPS and SIIPS1 the reported part comes from :mod:`mindpain.reported` (see
    :func:`mindpain.twin.params.load_parameters`); d is the change-score d in SD of the
    observed change (between arms :math:`d_s`, within an arm :math:`d_z`).
    """
    entry = params.raw["effects"][outcome]
    merged = {**entry["value"], **entry.get("derived", {}), **entry.get("assumed", {})}
    return {k: v for k, v in merged.items() if k in TRIAL_CONTRASTS}


def planted_trial_effects(params: Parameters, keep: np.ndarray | None = None) -> pd.DataFrame:
    r"""Planted effect of every trial contrast on every observed outcome.

    ``planted_d`` is the population d of the observed change score: the expected mean
    change difference (between arms) or mean change (within an arm) divided by the SD of
    the observed change (true latent change read out by the signature, plus twice the
    session-level variance of everything else: idiosyncratic pattern, generic activation,
    scanner noise). ``planted_t`` is the expected t of the contrast in the paper's
    completers (:data:`mindpain.reported.N_COMPLETERS`) and ``planted_d_paper`` that t on
    the paper's scale (:math:`2t/\sqrt{df}`, df 88, between; :math:`d_z` within).
    ``latent_d`` is the same contrast of the latent response the signature targets
    (nociceptive for NPS, NPSpos, NPSneg; modulatory for SIIPS1; ratings: their true
    value), in SD of its true change. ``status`` says whether the value is reported,
    derived from reported values, or assumed.

    With ``keep`` (boolean over the generator's in-mask voxels), the effects are those a
    scorer sees whose map holds only those voxels (an analysis mask that drops voxels the
    surrogate weights): the latent shifts stay the generator's, each readout's loadings
    and its session-level noise are those of the weights inside ``keep``.

    ``params``' world and transfer choose the planting (:func:`derive_constants`): the twin
    of a world plants through that world's measured pipeline transfer, so that the reported
    contrasts' expected t hold *through the pipeline*; ``recoverable_d_paper`` is then the
    paper-scale effect the pipeline can recover (:func:`recoverable_d_paper`; the reported d
    for the reported contrasts), while ``planted_d_paper`` is the effect as the measurement
    model reads the generator. The participant-level simulations (which never pass through
    the pipeline) plant with parameters loaded with ``transfer=False``: their model
    reproduces the paper itself.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters of a preset and world, with or without the transfer.
    keep : numpy.ndarray, optional
        Boolean over the generator's in-mask voxels.

    Returns
    -------
    pandas.DataFrame
        One row per outcome and contrast (columns of
        :data:`mindpain.truth.TRIAL_TRUTH_COLUMNS`).
    """
    from mindpain.reported import N_COMPLETERS, d_paper

    const = seen = derive_constants(params)
    shifts = const.observed_shift
    if keep is not None:
        space = twin_space(params)
        seen = constants_of(params, readout_space(
            space.generator, {r: np.where(keep, w, 0.0) for r, w in space.weights.items()}))
        latent_arm = {a: np.array([const.latent_shift[k][a] for k in LATENTS]) for a in ARMS}
        shifts = {**const.observed_shift,
                  **{r: {a: float(seen.readout[k] @ latent_arm[a]) for a in ARMS}
                     for k, r in enumerate(READOUTS)}}
    rows = []
    for outcome in READOUTS + RATING_OUTCOMES:
        shift = shifts[outcome]
        sd = seen.observed_change_sd[outcome]
        target = TARGET_LATENT.get(outcome, outcome)
        lat_shift, lat_sd = const.latent_shift[target], const.change_sd[target]
        entry = params.raw["effects"].get(outcome, {})
        for contrast in TRIAL_CONTRASTS:
            if contrast.endswith("_within"):
                arm = contrast.split("_")[0]
                diff, lat = shift[arm], lat_shift[arm]
                t = diff / sd * np.sqrt(N_COMPLETERS[arm])
                paper = t / np.sqrt(N_COMPLETERS[arm])
            else:
                a, b = contrast.split("_vs_")
                diff, lat = shift[a] - shift[b], lat_shift[a] - lat_shift[b]
                t = diff / sd / np.sqrt(1 / N_COMPLETERS[a] + 1 / N_COMPLETERS[b])
                paper = float(d_paper(t, sum(N_COMPLETERS.values()) - len(ARMS)))
            if contrast in entry.get("value", {}):
                status = entry["status"]
            elif contrast in entry.get("assumed", {}):
                status = "assumed"
            else:
                status = "derived"
            rows.append({"outcome": outcome, "contrast": contrast, "planted_d": diff / sd,
                         "planted_t": t, "planted_d_paper": paper,
                         "recoverable_d_paper": recoverable_d_paper(const, outcome, contrast,
                                                                    paper),
                         "latent_d": lat / lat_sd,
                         "reported_d": REPORTED_D.get((outcome, contrast), np.nan),
                         "status": status, "true_change_difference": diff,
                         "observed_change_sd": sd})
    return pd.DataFrame(rows)


#: The latent response each readout targets.
TARGET_LATENT = {"nps": "nociceptive", "nps_pos": "nociceptive", "nps_neg": "nociceptive",
                 "siips1": "modulatory"}


def _reported_d() -> dict:
    from mindpain.reported import REPORTED

    return {(c.outcome, c.contrast): c.d for c in REPORTED}


REPORTED_D = _reported_d()


def score_variance_shares(params: Parameters) -> pd.DataFrame:
    """Decompose a session's signature score by the twin's measurement model.

    Over baseline sessions of naive participants (between-participant variation of the
    latent responses, no group shifts): the share of a score's variance due to the latent
    responses, scanner noise, the idiosyncratic pattern and the generic amplitude, and the
    correlation this implies between the score and the latent response it targets
    (:data:`TARGET_LATENT`). A prediction of the model, to set beside the measured one.

    Parameters
    ----------
    params : mindpain.twin.params.Parameters
        The twin's parameters; the shares are the same in every world and with or without
        the transfer (they read no planted shift).

    Returns
    -------
    pandas.DataFrame
        Index ``readout``; ``target, loading, latent_share, noise_share,
        idiosyncratic_share, generic_share, predicted_r``.
    """
    const = derive_constants(params)
    cov_b = const.latent_cov("level")
    rows = []
    for k, r in enumerate(READOUTS):
        L = const.readout[k]
        parts = {"latent": float(L @ cov_b @ L), "noise": const.noise_cov[k, k],
                 "idiosyncratic": const.idiosyncratic_cov[k, k],
                 "generic": const.generic_cov[k, k]}
        total = sum(parts.values())
        j = LATENTS.index(TARGET_LATENT[r])
        rows.append({"readout": r, "target": TARGET_LATENT[r], "loading": float(L[j]),
                     **{f"{name}_share": value / total for name, value in parts.items()},
                     "predicted_r": float(L @ cov_b[:, j] / np.sqrt(total * cov_b[j, j]))})
    return pd.DataFrame(rows).set_index("readout")
