"""The simulated twin of the trial: a BIDS dataset with planted ground truth.

Stages: :mod:`~mindpain.twin.params` (the parameter file), :mod:`~mindpain.twin.model`
(generative model), :mod:`~mindpain.twin.participants` (participant level),
:mod:`~mindpain.twin.task`, :mod:`~mindpain.twin.bold` and :mod:`~mindpain.twin.bids`
(the dataset), :mod:`~mindpain.twin.generate` (orchestration).
"""

from mindpain.twin.generate import generate_twin, read_stamp
from mindpain.twin.params import load_parameters
from mindpain.twin.participants import draw_participants, draw_truth, simulate_observed

__all__ = ["draw_participants", "draw_truth", "generate_twin", "load_parameters", "read_stamp",
           "simulate_observed"]
