"""The randomized trial: MBSR vs the Health Enhancement Program vs waitlist, pre and post.

* :mod:`~mindpain.trial.models`: the outcomes table and the trial's models and estimators;
* :mod:`~mindpain.trial.analysis`: the analysis chapter 4 reports (every contrast, every
  outcome, the paper's test beside the models that check it);
* :mod:`~mindpain.trial.calibration`: the models' coverage on the twin's participant level.
"""

__all__ = ["analysis", "calibration", "models"]
