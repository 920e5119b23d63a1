r"""What the paper reported, and the effect-size scales its numbers live on.

The one home of the paper's reported trial contrasts (Wielgosz et al. 2022, abstract) and
of the conversions between effect-size scales. The paper's Methods were not available, so
the scale of its d values is *reconstructed* from its own p values:

* each **between-arm** d equals, to two decimals, :math:`2t/\sqrt{df}` with
  :math:`df = 88` (91 completers − 3 arms), where :math:`t` is the two-sided t of the
  reported p on 88 df — the classic t-to-d conversion of a contrast tested against a
  3-arm pooled error (e.g. the group × time interaction of a mixed ANOVA on completers);
* the **MBSR within-arm** d fits :math:`d_z = t/\sqrt{n}` with :math:`n = 28`
  (t on 27 df).

On the change-score scale with the two arms' pooled SD (Cohen's :math:`d_s`) the same
between-arm effects are larger: :math:`d_s = t\sqrt{1/n_1 + 1/n_2}`.

Examples
--------
>>> round(float(t_from_p(0.050, 88)), 2)
1.99
>>> round(float(d_paper(t_from_p(0.050, 88), 88)), 2)
0.42
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Randomized completers with pre and post fMRI (reported).
N_COMPLETERS = {"MBSR": 28, "HEP": 32, "WL": 31}
#: Arms in the trial.
N_ARMS = len(N_COMPLETERS)
#: Error degrees of freedom of the between-arm contrasts (completers − arms).
DF_BETWEEN = sum(N_COMPLETERS.values()) - N_ARMS


@dataclass(frozen=True)
class ReportedContrast:
    """One contrast as the paper's abstract reports it.

    Attributes
    ----------
    outcome : str
        ``"nps"`` or ``"siips1"``.
    contrast : str
        ``"MBSR_vs_HEP"``, ``"MBSR_vs_WL"`` or ``"MBSR_within"`` (post − pre).
    d : float
        Reported Cohen's d (sign: negative = reduction in MBSR).
    p : float
        Reported two-sided p value.
    """

    outcome: str
    contrast: str
    d: float
    p: float

    @property
    def kind(self) -> str:
        """``"within"`` for a pre→post change of one arm, else ``"between"``."""
        return "within" if self.contrast.endswith("_within") else "between"

    @property
    def arms(self) -> tuple[str, ...]:
        """The arm(s) the contrast compares (first minus second)."""
        if self.kind == "within":
            return (self.contrast.split("_")[0],)
        a, b = self.contrast.split("_vs_")
        return (a, b)

    @property
    def df(self) -> int:
        """Degrees of freedom of the t that reproduces the reported d."""
        if self.kind == "within":
            return N_COMPLETERS[self.arms[0]] - 1
        return DF_BETWEEN


#: The abstract's trial contrasts (STUDY.md "Reported results").
REPORTED = (
    ReportedContrast("nps", "MBSR_vs_HEP", -0.43, 0.050),
    ReportedContrast("nps", "MBSR_within", -0.47, 0.023),
    ReportedContrast("nps", "MBSR_vs_WL", -0.36, 0.096),
    ReportedContrast("siips1", "MBSR_vs_HEP", -0.37, 0.089),
    ReportedContrast("siips1", "MBSR_vs_WL", -0.37, 0.087),
)


def t_from_p(p, df):
    """Positive t whose two-sided p on ``df`` degrees of freedom is ``p``."""
    return stats.t.isf(np.asarray(p, float) / 2.0, df)


def p_from_t(t, df):
    """Two-sided p of ``t`` on ``df`` degrees of freedom."""
    return 2.0 * stats.t.sf(np.abs(np.asarray(t, float)), df)


def d_paper(t, df):
    r"""Between-arm d on the paper's scale, :math:`2t/\sqrt{df}`."""
    return 2.0 * np.asarray(t, float) / np.sqrt(df)


def d_s(t, n1, n2):
    r"""Change-score Cohen's :math:`d_s` of a two-sample t, :math:`t\sqrt{1/n_1+1/n_2}`."""
    return np.asarray(t, float) * np.sqrt(1.0 / n1 + 1.0 / n2)


def d_z(t, n):
    r"""Within-arm :math:`d_z = t/\sqrt{n}` of a one-sample t on ``n`` changes."""
    return np.asarray(t, float) / np.sqrt(n)


def expected_t(contrast: ReportedContrast) -> float:
    """Signed t that reproduces the reported p, with the reported d's sign."""
    return float(np.sign(contrast.d) * t_from_p(contrast.p, contrast.df))


def effect_scale_table() -> pd.DataFrame:
    r"""How each reported d maps onto the model's scales.

    Returns
    -------
    pandas.DataFrame
        One row per reported contrast: ``outcome, contrast, kind, reported_d, reported_p,
        df, t`` (signed, from p), ``d_paper`` (between: :math:`2t/\sqrt{df}`; within:
        :math:`d_z`), ``d_change`` (the change-score d the t implies: :math:`d_s` between
        arms, :math:`d_z` within) and ``n1, n2``.
    """
    rows = []
    for c in REPORTED:
        t = expected_t(c)
        n1 = N_COMPLETERS[c.arms[0]]
        if c.kind == "within":
            n2 = np.nan
            paper = change = float(d_z(t, n1))
        else:
            n2 = N_COMPLETERS[c.arms[1]]
            paper = float(d_paper(t, c.df))
            change = float(d_s(t, n1, n2))
        rows.append({"outcome": c.outcome, "contrast": c.contrast, "kind": c.kind,
                     "reported_d": c.d, "reported_p": c.p, "df": c.df, "t": t,
                     "d_paper": paper, "d_change": change, "n1": n1, "n2": n2})
    return pd.DataFrame(rows)
