"""The package's one BIDS reader: every read of a BIDS dataset goes through here.

Every function takes the dataset folder (or a run of
:func:`~mindpain.bids.query.find_runs`) and works the same on the simulated twin and on real
data with the same layout::

    participants.tsv                      participant_id, group [, cohort, completed_post, age, sex]
    phenotype/practice.tsv                optional: participant_id, lifetime_hours, retreat_hours
    task-heat_bold.json                   RepetitionTime (s), inherited by every run
    sub-<id>/ses-<pre|post>/func/sub-<id>_ses-<s>_task-heat_run-<n>_bold.nii.gz
    sub-<id>/ses-<pre|post>/func/sub-<id>_ses-<s>_task-heat_run-<n>_events.tsv
    derivatives/twin-confounds/           twin only (realistic world): fMRIPrep-style confounds
    derivatives/twin-truth/truth.tsv      twin only: the planted truth

What it answers, in the style of nilearn's ``interfaces.bids`` query module (every name is
importable from here, ``from mindpain.bids import find_runs``):

runs
    :func:`~mindpain.bids.query.find_runs` (one :class:`~mindpain.bids.query.RunSpec` per
    run: BOLD, events, confounds, space) and :func:`~mindpain.bids.query.list_runs` (the
    same runs as a table), in one order, :data:`~mindpain.bids.query.RUN_ORDER`.
repetition time
    :func:`~mindpain.bids.query.repetition_time` and
    :func:`~mindpain.bids.query.run_repetition_time`: one rule (the sidecars'
    ``RepetitionTime`` by BIDS inheritance, in seconds, agreeing with the NIfTI header).
tables
    :func:`~mindpain.bids.tables.load_participants` (with practice hours),
    :func:`~mindpain.bids.tables.load_events`, :func:`~mindpain.bids.tables.load_run_events`,
    :func:`~mindpain.bids.tables.load_confounds` (:func:`~mindpain.bids.tables.read_confounds`
    unchecked, for display), :func:`~mindpain.bids.tables.practice_from_bids`,
    :func:`~mindpain.bids.tables.load_truth`, and :func:`~mindpain.bids.tables.read_bids_table`
    under them, with one policy for missing values (``n/a``, ``N/A``, ``NA`` and empty
    cells are missing).
images
    :func:`~mindpain.bids.images.load_bold`, :func:`~mindpain.bids.images.bold_grid` (a
    run's header checked), :func:`~mindpain.bids.images.constant_bold`,
    :func:`~mindpain.bids.images.nonfinite_voxels`,
    :func:`~mindpain.bids.images.header_repetition_time`.

Inputs are checked once, here: a missing file or column, or a value that would silently give
wrong numbers, raises :class:`mindpain.core.errors.MindpainError` naming the file and what was
expected.

A study's own names (a task ``pain``, conditions ``high``/``low``, sessions ``1``/``2``, arms
in lower case, ratings in columns of its own) are declared in a dataset map
(:mod:`mindpain.bids.datamap`, ``mindpain-map.toml`` beside the dataset); every reader here
translates on read, so what it returns is in the book's names.

The modules under it: :mod:`mindpain.bids.datamap` (the dataset map),
:mod:`mindpain.bids.query` (entities, sidecars, runs, repetition time),
:mod:`mindpain.bids.tables` (TSV tables), :mod:`mindpain.bids.images` (one BOLD run).
"""

from mindpain.bids.datamap import (
    MAP_FILE,
    DatasetMap,
    read_map,
    resolve_map,
    write_map,
)
from mindpain.bids.images import (
    bold_grid,
    constant_bold,
    header_repetition_time,
    load_bold,
    nonfinite_voxels,
)
from mindpain.bids.query import (
    DEFAULT_SPACE,
    MNI_FAMILY,
    RUN_ENTITIES,
    RUN_ORDER,
    TR_MAX_SECONDS,
    TR_TOLERANCE_S,
    RunSpec,
    bids_entities,
    bold_sidecars,
    check_dir,
    find_runs,
    is_mni_space,
    list_runs,
    name_prefix,
    read_sidecar,
    repetition_time,
    run_repetition_time,
    select_space,
    sidecar_chain,
    sidecar_path,
    space_entities,
    space_of,
    twin_world,
)
from mindpain.bids.tables import (
    CONFOUND_MAX,
    EVENT_COLUMNS,
    PARTICIPANT_COLUMNS,
    RATING_COLUMNS,
    TRUTH_TSV,
    check_columns,
    check_run_conditions,
    expand_confound_columns,
    load_confounds,
    load_events,
    load_participants,
    load_run_events,
    load_truth,
    practice_from_bids,
    read_bids_table,
    read_confounds,
)

__all__ = [
    "CONFOUND_MAX", "DEFAULT_SPACE", "EVENT_COLUMNS", "PARTICIPANT_COLUMNS", "RATING_COLUMNS",
    "RUN_ENTITIES", "RUN_ORDER", "TRUTH_TSV", "TR_MAX_SECONDS", "TR_TOLERANCE_S", "RunSpec",
    "bids_entities", "bold_grid", "bold_sidecars", "check_columns", "check_dir",
    "check_run_conditions", "constant_bold",
    "expand_confound_columns", "find_runs", "header_repetition_time", "list_runs",
    "load_bold", "load_confounds", "load_events", "load_participants", "load_run_events",
    "load_truth", "name_prefix", "nonfinite_voxels", "practice_from_bids", "read_confounds",
    "read_bids_table", "read_sidecar",
    "repetition_time", "run_repetition_time", "sidecar_chain", "sidecar_path", "twin_world",
    "MNI_FAMILY", "is_mni_space", "select_space", "space_entities", "space_of",
    "MAP_FILE", "DatasetMap", "read_map", "resolve_map", "write_map",
]
