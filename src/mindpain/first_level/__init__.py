"""From BOLD runs to contrast maps: the first level and what stands on it.

The data flow through this stage, one module each:

* :mod:`~mindpain.first_level.glm`: nilearn's single-run GLM on arrays (design, AR(1) fit);
* :mod:`~mindpain.first_level.runs`: every run of a BIDS dataset fitted, each session's
  runs combined (``mindpain first-level``);
* :mod:`~mindpain.first_level.outputs`: the derivatives folder (names, sidecars, resume);
* :mod:`~mindpain.first_level.group`: fixed effects over a session's runs and the group map;
* :mod:`~mindpain.first_level.realism`: what the twin's realistic world does to the first
  level, measured on simulated runs (chapter 2).
"""

__all__ = ["glm", "group", "outputs", "realism", "runs"]
