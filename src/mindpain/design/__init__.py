"""What the trial could detect, and what its results are evidence of (chapter 6).

* :mod:`~mindpain.design.power`: analytic and simulated power, minimum detectable effects;
* :mod:`~mindpain.design.retrodesign`: type S and type M errors (Gelman & Carlin);
* :mod:`~mindpain.design.sensitivity`: power's sensitivity to the twin's assumptions;
* :mod:`~mindpain.design.evidence`: equivalence tests and Bayes factors per contrast.
"""

__all__ = ["evidence", "power", "retrodesign", "sensitivity"]
