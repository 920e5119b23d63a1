"""The simulated twin of the trial: a BIDS dataset with planted ground truth.

Stages: :mod:`~mindpain.twin.params` (the parameter file), :mod:`~mindpain.twin.patterns`
(the generator's own spatial patterns), :mod:`~mindpain.twin.model` (the measurement model:
what the signatures read from them), :mod:`~mindpain.twin.participants` (participant
level), :mod:`~mindpain.twin.task`, :mod:`~mindpain.twin.bold` and
:mod:`~mindpain.twin.bids` (the dataset), :mod:`~mindpain.twin.nuisance` (what the realistic
world adds: motion, physiology, noise that is not AR(1), HRF shape, misregistration, trial
temperature), :mod:`~mindpain.twin.run` (one run in memory, either world),
:mod:`~mindpain.twin.generate` (orchestration) and :mod:`~mindpain.twin.meditators` (the
planted value of every meditator estimand).

Two worlds (``world=`` of :func:`generate_twin` and :func:`load_parameters`): ``realistic``
(default) and ``ideal`` (the BOLD made by the analysis model itself, byte-identical to the
generator before the realistic world existed).

The public names are imported lazily, so the generator's modules (``patterns``, ``bold``)
can be imported without the scorer's (a test checks they never read a signature map).
"""

from importlib import import_module

_EXPORTS = {"draw_participants": "participants", "draw_truth": "participants",
            "generate_twin": "generate", "load_parameters": "params",
            "participant_level_parameters": "params", "read_stamp": "generate",
            "simulate_observed": "participants"}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(import_module(f"mindpain.twin.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'mindpain.twin' has no attribute {name!r}")
