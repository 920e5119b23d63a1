"""Statistics shared by the trial and the meditator analyses, one module per concern.

:mod:`~mindpain.stats.effect_sizes`
    Cohen's d (between arms, within an arm, standardised model estimates) with
    noncentral-t confidence intervals.
:mod:`~mindpain.stats.multiplicity`
    Holm's step-down correction (statsmodels), by family and by row.
:mod:`~mindpain.stats.tables`
    The checks of the participant-by-session outcomes table both analyses read.
"""
