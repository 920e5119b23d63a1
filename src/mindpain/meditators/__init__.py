"""Long-term meditators: group comparison with naive participants and practice dose-response.

* :mod:`~mindpain.meditators.models`: the practice table and the models;
* :mod:`~mindpain.meditators.analysis`: the analysis chapter 5 reports;
* :mod:`~mindpain.meditators.calibration`: the models' coverage on the twin.
"""

__all__ = ["analysis", "calibration", "models"]
