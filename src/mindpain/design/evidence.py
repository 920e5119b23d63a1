r"""Evidence for and against each trial contrast: equivalence tests and Bayes factors.

A non-significant contrast is not evidence of no effect. Two tools say how much the data
support "no effect worth caring about":

Equivalence test (TOST; Schuirmann 1987, pingouin ``tost``)
    Two one-sided t tests of the change scores against the bounds
    :math:`\pm\delta\,s`, where :math:`\delta` is the **smallest effect size of
    interest** (SESOI, Cohen's d) and :math:`s` the contrast's SD of change (pooled over
    the two arms between arms; the arm's SD within an arm). Equivalence is declared when
    both one-sided p values are below :math:`\alpha` (TOST p = the larger one), i.e. when
    the :math:`1-2\alpha` (90 %) CI of the difference lies inside the bounds.
Smallest effect size of interest
    The default :data:`SESOI` is half a standard deviation. Signature responses have no
    clinical anchor of their own; half an SD is the threshold of a minimal important
    difference found across many health outcomes, including pain ratings (Norman, Sloan &
    Wyrwich 2003), and it is about the size of the effects the paper reports, so an
    effect smaller than it would not support the paper's conclusions either way. It is a
    stated choice; every function takes another.
Bayes factors
    Default JZS Bayes factors :math:`BF_{10}` (Rouder et al. 2009; pingouin
    ``bayesfactor_ttest``, Cauchy prior on d with scale :math:`r = \sqrt{2}/2`) of the same
    t statistics: two-sample between arms, one-sample within an arm.
    :math:`BF_{01} = 1/BF_{10}`; by the usual convention a BF above 3 is moderate and
    above 10 strong evidence.
Operating characteristics
    With the bound set from the sample SD, TOST declares equivalence exactly when
    :math:`|t| < \delta/k - t_{1-\alpha,df}` (:math:`k = \sqrt{1/n_1+1/n_2}` or
    :math:`1/\sqrt n`), so its power under a true effect :math:`d` is a noncentral-t
    probability (:func:`tost_power`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from mindpain.core.vocabulary import ARMS, BETWEEN, SIGNATURE_OUTCOMES, TRIAL_CONTRASTS
from mindpain.stats.effect_sizes import between_d, within_d
from mindpain.trial.models import change_scores, validate_outcomes

ALPHA = 0.05
#: Default smallest effect size of interest (Cohen's d, change-score scale).
SESOI = 0.5
#: Columns of ``equivalence.tsv``.
EVIDENCE_COLUMNS = {
    "outcome": "trial outcome (signature response or mean rating)",
    "contrast": "between arms (A_vs_B: change of A minus change of B) or within an arm "
                "(A_within: post minus pre)",
    "n1": "participants with pre and post in the first (or only) arm",
    "n2": "participants with pre and post in the second arm (NaN within an arm)",
    "estimate_d": "Cohen's d on the change score (d_s between arms, d_z within)",
    "ci90_low": "lower end of the 90% CI of d (noncentral t; the interval TOST checks)",
    "ci90_high": "upper end of the 90% CI of d",
    "t": "t statistic of the change-score test",
    "df": "degrees of freedom of t",
    "p": "two-sided p of the change-score test",
    "sesoi_d": "smallest effect size of interest (equivalence bound, in d)",
    "bound": "equivalence bound in the outcome's units (sesoi_d times the SD of change)",
    "tost_p": "p of the two one-sided tests (pingouin tost); equivalence when < alpha",
    "equivalent": "True when tost_p < alpha (the 90% CI lies inside +-sesoi_d)",
    "bf10": "default JZS Bayes factor for an effect (pingouin, Cauchy scale 0.707)",
    "bf01": "1 / bf10: Bayes factor for no effect",
    "evidence": "reading of bf10: 'for an effect' (bf10 > 3), 'for no effect' "
                "(bf10 < 1/3) or 'inconclusive'",
    "planted_d": "the twin's planted d (NaN on a user's dataset)",
    "reported_d": "the paper's reported d (its own scale, 2t/sqrt(88) between arms)",
}


def _arms(contrast: str) -> list[str]:
    return contrast.split("_vs_") if contrast in BETWEEN else [contrast.split("_")[0]]


def tost_power(sesoi: float, kind: str, n1, n2=None, true_d: float = 0.0,
               alpha: float = ALPHA) -> float:
    r"""Probability that TOST declares equivalence at bound ``sesoi`` (exact, normal data).

    Equivalence holds when :math:`|t| < \delta/k - t_{1-\alpha,df}`; ``t`` follows a
    noncentral t with :math:`\lambda = d/k`.

    Examples
    --------
    >>> round(tost_power(0.5, "between", 100), 3)
    0.939
    """
    if kind == "within":
        df, k = n1 - 1, 1 / np.sqrt(n1)
    else:
        n2 = n1 if n2 is None else n2
        df, k = n1 + n2 - 2, np.sqrt(1 / n1 + 1 / n2)
    c = sesoi / k - stats.t.isf(alpha, df)
    if c <= 0:
        return 0.0
    ncp = true_d / k
    return float(stats.nct.cdf(c, df, ncp) - stats.nct.cdf(-c, df, ncp))


def n_for_equivalence(sesoi: float, kind: str, power: float = 0.8, true_d: float = 0.0,
                      alpha: float = ALPHA) -> int:
    """Smallest equal arm size for which TOST reaches ``power`` when the true d is ``true_d``.

    Examples
    --------
    >>> n_for_equivalence(0.5, "between")
    70
    """
    n = 3
    while tost_power(sesoi, kind, n, n, true_d, alpha) < power:
        n += 1
        if n > 100_000:
            raise ValueError(f"no arm size up to 100000 gives TOST power {power}")
    return n


def bf10(t: float, n1: int, n2: int | None = None) -> float:
    """Default JZS Bayes factor BF10 of a two-sample (or one-sample, ``n2=None``) t."""
    import pingouin as pg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(pg.bayesfactor_ttest(float(t), int(n1), None if n2 is None else int(n2),
                                          paired=False))


def _reading(bf: float) -> str:
    if bf > 3:
        return "for an effect"
    if bf < 1 / 3:
        return "for no effect"
    return "inconclusive"


def evidence_table(outcomes: pd.DataFrame, truth: pd.DataFrame | None = None,
                   sesoi: float = SESOI, outcome_names=SIGNATURE_OUTCOMES,
                   contrasts=TRIAL_CONTRASTS, alpha: float = ALPHA) -> pd.DataFrame:
    """TOST and JZS Bayes factor of every contrast of every outcome.

    Parameters
    ----------
    outcomes : pandas.DataFrame
        Outcomes table (:func:`mindpain.pipeline.load_outcomes`, or a user's table with
        the same columns); validated by :func:`mindpain.trial.models.validate_outcomes`.
    truth : pandas.DataFrame, optional
        ``outcome, contrast, planted_d, reported_d`` (:func:`mindpain.trial.analysis.truth_table`).
    sesoi : float
        Smallest effect size of interest (d).
    outcome_names, contrasts : sequence of str
        What to test.
    alpha : float
        Level of each one-sided test.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`EVIDENCE_COLUMNS`.

    Examples
    --------
    >>> from mindpain.twin import participant_level_parameters, simulate_observed
    >>> params = participant_level_parameters("small")
    >>> obs = simulate_observed(params, seed=1, n_replications=1)
    >>> table = evidence_table(obs, outcome_names=("nps",))
    >>> table["contrast"].tolist()[:2]
    ['MBSR_vs_HEP', 'MBSR_vs_WL']
    """
    import pingouin as pg

    if not np.isfinite(sesoi) or sesoi <= 0:
        raise ValueError(f"sesoi must be a positive number of SDs, got {sesoi!r}")
    trial = validate_outcomes(outcomes, outcome_names)
    rows = []
    for outcome in outcome_names:
        ch = change_scores(trial, outcome)
        arm = {a: ch.loc[ch.group == a, "change"].to_numpy(float) for a in ARMS}
        for contrast in contrasts:
            arms = _arms(contrast)
            x = arm[arms[0]]
            if len(arms) == 2:
                y = arm[arms[1]]
                res = between_d(x, y, level=1 - 2 * alpha)
                n1, n2 = x.size, y.size
                sd, y_test = float(res["sd"]), y
            else:
                res = within_d(x, level=1 - 2 * alpha)
                n1, n2 = x.size, None
                sd, y_test = float(res["sd"]), 0.0
            bound = sesoi * sd
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tost = pg.tost(x, y_test, bound=float(bound), paired=False)
            tost_p = float(tost["pval"].iloc[0])
            bf = bf10(res["t"], n1, n2)
            rows.append({"outcome": outcome, "contrast": contrast, "n1": n1,
                         "n2": np.nan if n2 is None else n2, "estimate_d": float(res["d"]),
                         "ci90_low": float(res["ci_low"]), "ci90_high": float(res["ci_high"]),
                         "t": float(res["t"]), "df": float(res["df"]), "p": float(res["p"]),
                         "sesoi_d": sesoi, "bound": bound, "tost_p": tost_p,
                         "equivalent": bool(tost_p < alpha), "bf10": bf, "bf01": 1 / bf,
                         "evidence": _reading(bf)})
    table = pd.DataFrame(rows)
    if truth is None:
        table["planted_d"] = np.nan
        table["reported_d"] = np.nan
    else:
        table = table.merge(truth[["outcome", "contrast", "planted_d", "reported_d"]],
                            on=["outcome", "contrast"], how="left")
    return table[list(EVIDENCE_COLUMNS)]


def write_equivalence(table: pd.DataFrame, cfg, out_dir=None) -> Path:
    """Write ``equivalence.tsv`` and its JSON sidecar (column meanings, SESOI, alpha)."""
    from mindpain.core.store import table_path, write_table

    return write_table(
        table, table_path(cfg, "equivalence.tsv", out_dir), EVIDENCE_COLUMNS,
        float_format="%.10g",
        Description="Equivalence tests (TOST) and default JZS Bayes factors of every trial "
                    "contrast, on change scores of completers",
        alpha=ALPHA, sesoi_default=SESOI,
        sesoi_justification="half an SD: the minimal important difference across health "
                            "outcomes (Norman, Sloan & Wyrwich 2003)")
