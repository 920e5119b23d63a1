"""Pins of the BIDS reader's behaviour, written before its two copies were merged.

``mindpain.bids.describe`` (the chapters' names: ``list_runs``, ``load_events``,
``repetition_time``, ``load_participants``) and ``mindpain.first_level.runs`` (the GLM's:
``find_runs``, ``repetition_time``, ``load_events``, ``load_bold``) were two readers; they are
now one, :mod:`mindpain.bids`, and both names must keep agreeing on the same dataset: the same
runs in the same order, the same TR, the same events, the same participants. Only the first
level's run order changed on purpose (to :data:`mindpain.bids.RUN_ORDER`: pre before post,
run numbers as numbers).
"""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from mindpain import bids
from mindpain.bids import describe as dataset
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import GROUPS, SESSIONS, TASK, TRIAL_TYPES
from mindpain.first_level import group as group_level
from mindpain.twin import load_parameters


@pytest.fixture(scope="module")
def both(small_twin):
    return bids.list_runs(small_twin), bids.find_runs(small_twin)


def test_both_readers_list_the_same_runs(both):
    runs, specs = both
    assert len(runs) == len(specs) > 0
    listed = {(r.participant_id, r.session, r.run, r.bold_path) for r in runs.itertuples()}
    found = {(f"sub-{s.subject}", s.session, s.run, s.bold) for s in specs}
    assert listed == found
    assert all(s.events == r.events_path for s, r in
               zip(sorted(specs, key=lambda s: str(s.bold)),
                   runs.sort_values("bold_path", key=lambda c: c.map(str)).itertuples(),
                   strict=True))
    assert list(runs.session.unique()) == [s for s in SESSIONS if s in set(runs.session)]


def test_both_readers_give_the_same_repetition_time(small_twin, both):
    runs, specs = both
    planted = load_parameters("small")["task.repetition_time"]
    assert bids.repetition_time(small_twin) == planted
    for spec in specs[:3]:
        assert bids.run_repetition_time(spec) == planted
        assert bids.repetition_time(small_twin, spec.bold) == planted


def test_a_run_sidecar_overrides_the_dataset_tr_in_both(small_twin, tmp_path):
    copy = tmp_path / "twin"
    shutil.copytree(small_twin, copy)
    spec = bids.find_runs(copy)[0]
    sidecar = spec.bold.with_name(spec.bold.name.split(".nii")[0] + ".json")
    sidecar.write_text('{"RepetitionTime": 1.5}')
    # the header still says the planted TR: both readers refuse the disagreement alike
    with pytest.raises(MindpainError):
        bids.run_repetition_time(spec)
    with pytest.raises(MindpainError):
        bids.repetition_time(copy, spec.bold)


def test_both_readers_read_the_same_events(small_twin, both):
    runs, specs = both
    events = bids.load_events(small_twin)
    assert set(events.trial_type) <= set(TRIAL_TYPES)
    spec = specs[0]
    run_events = bids.load_run_events(spec.events)
    assert list(run_events.columns[:3]) == ["onset", "duration", "trial_type"]
    same = dataset.select_run(events, f"sub-{spec.subject}", spec.session, spec.run)
    np.testing.assert_array_equal(same.onset.to_numpy(float), run_events.onset.to_numpy(float))
    np.testing.assert_array_equal(same.duration.to_numpy(float),
                                  run_events.duration.to_numpy(float))
    assert same.trial_type.tolist() == run_events.trial_type.tolist()


def test_participants_and_naive_subjects_agree(small_twin):
    participants = bids.load_participants(small_twin)
    assert set(participants.group) <= set(GROUPS)
    naive = group_level.naive_subjects(small_twin)
    expected = sorted(participants.loc[participants.group.ne("LTM"), "participant_id"])
    assert sorted(naive) == expected or sorted(f"sub-{s}" for s in naive) == expected


def test_na_policy_of_the_bids_reader(tmp_path):
    table = tmp_path / "t.tsv"
    table.write_text("participant_id\tage\tnote\nsub-1\tn/a\t\nsub-2\tNA\tx\n")
    read = bids.read_bids_table(table, ("participant_id",))
    assert read.age.isna().all()          # n/a and NA are missing in a BIDS table
    assert read.note.isna().tolist() == [True, False]
    strict = pd.read_csv(table, sep="\t", na_values=["n/a"], keep_default_na=False)
    from mindpain.core.io import read_tsv

    pd.testing.assert_frame_equal(read_tsv(table), strict)   # our own tables: n/a only


def test_task_label_is_the_vocabulary_one(both):
    _, specs = both
    assert all(f"_task-{TASK}_" in s.bold.name for s in specs)


# ------------------------------------------------------------------ run order (pinned)
def _layout(root, runs):
    """A BIDS folder of empty-named runs: ``[(sub, ses, run), ...]`` (files are stubs)."""
    (root / "dataset_description.json").write_text('{"Name": "t", "BIDSVersion": "1.10.0"}')
    for sub, ses, run in runs:
        func = root / f"sub-{sub}" / f"ses-{ses}" / "func"
        func.mkdir(parents=True, exist_ok=True)
        stem = f"sub-{sub}_ses-{ses}_task-{TASK}_run-{run}"
        (func / f"{stem}_bold.nii.gz").write_bytes(b"")
        (func / f"{stem}_events.tsv").write_text("onset\tduration\ttrial_type\n")
    return root


LAYOUT = [("02", "pre", 1), ("01", "post", 2), ("01", "pre", 10), ("01", "pre", 2),
          ("01", "post", 1), ("01", "pre", 1)]


def test_list_runs_order(tmp_path):
    runs = bids.list_runs(_layout(tmp_path, LAYOUT))
    assert list(zip(runs.participant_id, runs.session, runs.run, strict=True)) == [
        ("sub-01", "pre", 1), ("sub-01", "pre", 2), ("sub-01", "pre", 10),
        ("sub-01", "post", 1), ("sub-01", "post", 2), ("sub-02", "pre", 1)]


def test_find_runs_order(tmp_path):
    """The first level's runs come in the one order too (it was the file paths' order)."""
    specs = bids.find_runs(_layout(tmp_path, LAYOUT))
    assert [(s.subject, s.session, s.run) for s in specs] == [
        ("01", "pre", 1), ("01", "pre", 2), ("01", "pre", 10), ("01", "post", 1),
        ("01", "post", 2), ("02", "pre", 1)]


def test_one_run_finder(tmp_path):
    from mindpain import bids

    assert bids.find_runs is bids.find_runs and bids.list_runs is bids.list_runs
    root = _layout(tmp_path, LAYOUT + [("01", "baseline2", 1)])
    runs, specs = bids.list_runs(root), bids.find_runs(root)
    assert [(r.participant_id, r.session, r.run) for r in runs.itertuples()] == [
        (f"sub-{s.subject}", s.session, s.run) for s in specs]
    # a session the study does not name comes after pre and post
    assert [s.session for s in specs if s.subject == "01"][-1] == "baseline2"


def test_run_order_of_other_entities(tmp_path):
    """Within a session: the run's entities in BIDS order (acq before run), numbers as numbers."""
    func = _layout(tmp_path, [("01", "pre", 1)]) / "sub-01" / "ses-pre" / "func"
    for name in ("acq-b_run-1", "acq-a_run-2", "acq-a_run-1"):
        (func / f"sub-01_ses-pre_task-{TASK}_{name}_bold.nii.gz").write_bytes(b"")
    labels = [s.label.split(f"task-{TASK}_")[1] for s in bids.find_runs(tmp_path)]
    assert labels == ["acq-a_run-1", "acq-a_run-2", "acq-b_run-1", "run-1"]
