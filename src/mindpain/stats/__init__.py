"""Statistics shared by the trial and the meditator analyses, one module per concern.

:mod:`~mindpain.stats.multiplicity`
    Holm's step-down correction (statsmodels), by family and by row.
"""
