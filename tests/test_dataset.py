"""Loading a BIDS dataset of the heat task (twin and user layout), bad input, chapter-1 plots."""

from __future__ import annotations

import shutil

import matplotlib
import numpy as np
import pandas as pd
import pytest
from _figure_helpers import assert_legible

from mindpain import bids
from mindpain.bids import describe as dataset
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import GROUPS
from mindpain.twin import load_parameters

matplotlib.use("Agg")


@pytest.fixture(scope="session")
def participants(small_twin):
    return bids.load_participants(small_twin)


@pytest.fixture(scope="session")
def events(small_twin):
    return bids.load_events(small_twin)


@pytest.fixture
def user_copy(small_twin, tmp_path):
    """A copy of the twin's top level and two participants, without the truth (like real data)."""
    root = tmp_path / "bids"
    root.mkdir()
    for name in ("participants.tsv", "task-heat_bold.json", "dataset_description.json"):
        shutil.copy(small_twin / name, root / name)
    for pid in ("sub-001", "sub-002"):
        shutil.copytree(small_twin / pid, root / pid)
    table = pd.read_csv(root / "participants.tsv", sep="\t")
    table[table["participant_id"].isin(["sub-001", "sub-002"])].to_csv(
        root / "participants.tsv", sep="\t", index=False)
    return root


# ------------------------------------------------------------------ loaders on the twin
def test_participants_match_design(participants):
    params = load_parameters("small")
    assert participants["participant_id"].is_unique
    assert participants["completed_post"].dtype == bool
    for arm, n in params["design.n_completers"].items():
        rows = participants[participants["group"] == arm]
        assert rows["completed_post"].sum() == n
        assert len(rows) == n + params["design.n_baseline_only"][arm]
    ltm = participants[participants["group"] == "LTM"]
    assert len(ltm) == params["design.n_meditators"]
    assert ltm["lifetime_hours"].notna().all()
    assert participants.loc[participants["group"] != "LTM", "lifetime_hours"].isna().all()


def test_list_runs_finds_every_run(small_twin, participants):
    runs = bids.list_runs(small_twin)
    n_runs = load_parameters("small")["task.n_runs"]
    n_sessions = len(participants) + participants["completed_post"].sum()
    assert len(runs) == n_sessions * n_runs
    assert runs["events_path"].notna().all()
    assert set(runs["session"]) == {"pre", "post"}
    first = runs[runs["participant_id"] == "sub-001"]
    assert first["session"].tolist()[:n_runs] == ["pre"] * n_runs


def test_events_long_table(events, small_twin):
    params = load_parameters("small")
    assert list(events.columns[:3]) == ["participant_id", "session", "run"]
    per_run = events.groupby(["participant_id", "session", "run"])["trial_type"].value_counts()
    assert (per_run.xs("hot", level="trial_type") == params["task.trials_per_condition_per_run"]
            ).all()
    rated = events[events["trial_type"].isin(["hot", "warm"])]
    assert rated["intensity_rating"].between(0, 100).all()
    assert events.loc[events["trial_type"] == "rating", "intensity_rating"].isna().all()


def test_session_ratings_are_hot_trial_means(events):
    ratings = dataset.session_ratings(events)
    assert not ratings.duplicated(["participant_id", "session"]).any()
    one = events[(events["participant_id"] == "sub-001") & (events["session"] == "pre")
                 & (events["trial_type"] == "hot")]
    row = ratings[(ratings["participant_id"] == "sub-001") & (ratings["session"] == "pre")]
    assert row["intensity"].item() == pytest.approx(one["intensity_rating"].mean())
    assert row["unpleasantness"].item() == pytest.approx(one["unpleasantness_rating"].mean())
    assert row["n_trials"].item() == len(one)


def test_session_ratings_track_the_planted_truth(small_twin, events):
    truth = bids.load_truth(small_twin)
    merged = dataset.session_ratings(events).merge(truth, on=["participant_id", "session"],
                                                   suffixes=("", "_true"))
    assert len(merged) == len(truth)
    assert np.corrcoef(merged["intensity"], merged["intensity_true"])[0, 1] > 0.9


def test_participant_flow_counts(participants):
    flow = dataset.participant_flow(participants)
    params = load_parameters("small")
    assert flow["completed"] == params["design.n_completers"]
    assert flow["baseline_only"] == params["design.n_baseline_only"]
    assert flow["baseline"] == sum(flow["randomized"].values())
    assert flow["baseline"] == flow["n_completed"] + flow["n_baseline_only"]
    assert flow["ltm"] == params["design.n_meditators"]
    assert all(isinstance(v, int) for v in flow["completed"].values())


def test_demographics_table(participants):
    numbers = dataset.demographics_table(participants, formatted=False)
    assert numbers.loc["All naive", "n"] == participants["group"].ne("LTM").sum()
    naive = participants[participants["group"] != "LTM"]
    assert numbers.loc["All naive", "age_mean"] == pytest.approx(naive["age"].mean())
    assert numbers.loc["All naive", "female_percent"] == pytest.approx(
        100 * naive["sex"].eq("F").mean())
    assert np.isnan(numbers.loc["LTM", "n_completed_post"])
    shown = dataset.demographics_table(participants)
    assert "±" in shown.loc["MBSR", "Age, years (mean ± SD)"]


def test_repetition_time(small_twin):
    assert bids.repetition_time(small_twin) == load_parameters("small")["task.repetition_time"]


# ------------------------------------------------------------------ a user's dataset
def test_user_dataset_without_truth_or_optional_columns(user_copy):
    assert bids.load_truth(user_copy) is None
    table = pd.read_csv(user_copy / "participants.tsv", sep="\t")
    table[["participant_id", "group"]].to_csv(user_copy / "participants.tsv", sep="\t",
                                              index=False)
    participants = bids.load_participants(user_copy)
    # completed_post comes from the session folders; cohort from the group
    assert participants.set_index("participant_id")["completed_post"].to_dict() == {
        "sub-001": True, "sub-002": False}
    assert set(participants["cohort"]) == {"naive"}
    assert "lifetime_hours" not in participants
    assert len(bids.load_events(user_copy)) > 0


# ------------------------------------------------------------------ bad input
def test_missing_participants_file(user_copy):
    (user_copy / "participants.tsv").unlink()
    with pytest.raises(MindpainError, match=r"participants\.tsv.*participant_id, group"):
        bids.load_participants(user_copy)


def test_missing_required_column(user_copy):
    table = pd.read_csv(user_copy / "participants.tsv", sep="\t").drop(columns="group")
    table.to_csv(user_copy / "participants.tsv", sep="\t", index=False)
    with pytest.raises(MindpainError, match=r"participants\.tsv: missing column\(s\) group"):
        bids.load_participants(user_copy)


def test_unknown_group(user_copy):
    table = pd.read_csv(user_copy / "participants.tsv", sep="\t")
    table["group"] = "placebo"
    table.to_csv(user_copy / "participants.tsv", sep="\t", index=False)
    with pytest.raises(MindpainError, match="expected one of MBSR, HEP, WL, LTM"):
        bids.load_participants(user_copy)


def test_not_a_folder(tmp_path):
    with pytest.raises(MindpainError, match="not a folder"):
        bids.load_participants(tmp_path / "nowhere")


def test_events_file_missing_column(user_copy):
    path = next(user_copy.glob("sub-001/ses-pre/func/*run-1_events.tsv"))
    pd.read_csv(path, sep="\t").drop(columns="trial_type").to_csv(path, sep="\t", index=False)
    with pytest.raises(MindpainError, match=r"_events\.tsv: missing column\(s\) trial_type"):
        bids.load_events(user_copy)


def test_events_file_absent(user_copy):
    next(user_copy.glob("sub-001/ses-pre/func/*run-1_events.tsv")).unlink()
    with pytest.raises(MindpainError, match="has no events file"):
        bids.load_events(user_copy)


def test_no_runs(tmp_path):
    with pytest.raises(MindpainError, match="no task-heat BOLD runs found"):
        bids.list_runs(tmp_path)


def test_session_ratings_needs_rating_columns(events):
    with pytest.raises(MindpainError, match="intensity_rating"):
        dataset.session_ratings(events.drop(columns="intensity_rating"))


def test_select_run_and_summary(events, small_twin):
    params = load_parameters("small")
    one = dataset.select_run(events, "sub-001", "pre", 1)
    assert "participant_id" not in one
    summary = dataset.run_summary(one, tr=2.0, n_volumes=100)
    assert summary["n_hot"] == summary["n_warm"] == params["task.trials_per_condition_per_run"]
    assert summary["stimulus_s"] == params["task.stimulus_duration"]
    assert all(isinstance(v, int | float) for v in summary.values())
    with pytest.raises(MindpainError, match="no events for sub-999"):
        dataset.select_run(events, "sub-999", "pre", 1)


def test_load_bold_checks_its_input(small_twin, tmp_path):
    run = bids.list_runs(small_twin).iloc[0]
    img = bids.load_bold(run.bold_path)
    assert img.ndim == 4 and img.get_data_dtype() == np.float32
    with pytest.raises(MindpainError, match="file not found"):
        bids.load_bold(tmp_path / "missing_bold.nii.gz")


# ------------------------------------------------------------------ chapter-1 figures
@pytest.fixture(scope="module")
def one_run(small_twin, events):
    run = bids.list_runs(small_twin).iloc[0]
    return (bids.load_bold(run.bold_path),
            dataset.select_run(events, run.participant_id, run.session, run.run))


def test_voxel_timeseries_finds_the_planted_hot_response(one_run):
    bold, ev = one_run
    vt = dataset.voxel_timeseries(bold, ev, tr=2.0)
    assert np.allclose(vt["xyz"], dataset.DEFAULT_VOXEL_MM, atol=bold.header.get_zooms()[0])
    assert {"hot", "warm", "rating"} <= set(vt["betas"])
    assert len(vt["percent"]) == bold.shape[-1]
    assert abs(vt["percent"].mean()) < 1e-9


def test_status_counts_add_up():
    table = load_parameters("small").table()
    counts = dataset.status_counts(table)
    assert counts.loc["total"].sum() == len(table)
    assert list(counts.columns) == ["reported", "derived", "context", "assumed"]
    with pytest.raises(MindpainError, match="parameter table lacks column 'status'"):
        dataset.status_counts(table.drop(columns="status"))


def test_as_bold_image_rejects_a_3d_image():
    import nibabel as nib

    img = nib.Nifti1Image(np.zeros((3, 3, 3), dtype=np.float32), np.eye(4))
    with pytest.raises(MindpainError, match="expected a 4D BOLD image, got 3D"):
        dataset.as_bold_image(img)
    with pytest.raises(MindpainError, match="expected a 4D BOLD image"):
        dataset.nearest_brain_voxel(img)


def test_every_plot_returns_a_figure(small_twin, participants, events, one_run):
    from matplotlib.figure import Figure

    from mindpain.figures import data as figures_data

    bold, ev = one_run
    figures = [
        figures_data.plot_participant_flow(dataset.participant_flow(participants)),
        figures_data.plot_task_timeline(ev, tr=2.0, n_volumes=bold.shape[-1], title="run"),
        figures_data.plot_mean_bold(bold),
        figures_data.plot_voxel_timeseries(bold, ev, tr=2.0),
        figures_data.plot_ratings(dataset.session_ratings(events), participants),
        figures_data.plot_parameter_status(load_parameters("small").table()),
    ]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert fig.axes
        assert_legible(fig)
    assert set(figures_data.GROUP_COLORS) == set(GROUPS)
    html = figures_data.style_parameters(load_parameters("small").table()).to_html()
    assert "n_completers" in html and figures_data.STATUS_COLORS["reported"] in html


def test_plots_reject_bad_input(participants):
    from mindpain.figures import data as figures_data

    with pytest.raises(MindpainError, match="flow lacks"):
        figures_data.plot_participant_flow({"baseline": 1})
    with pytest.raises(MindpainError, match="trial_type"):
        figures_data.plot_task_timeline(pd.DataFrame({"onset": [0.0], "duration": [1.0]}), 2.0)
    with pytest.raises(MindpainError, match="session ratings lack"):
        figures_data.plot_ratings(pd.DataFrame({"participant_id": []}), participants)


def test_ratings_plot_is_the_same_in_every_build(participants, events):
    """The strip plot's jitter is seeded: the same data give the same points."""
    import numpy as np

    from mindpain.figures import data as figures_data

    def points(fig):
        return [c.get_offsets().copy() for ax in fig.axes for c in ax.collections]

    ratings = dataset.session_ratings(events)
    np.random.seed(0)  # noqa: NPY002 (the global state seaborn would otherwise draw from)
    before = np.random.get_state()[1].copy()  # noqa: NPY002
    first = points(figures_data.plot_ratings(ratings, participants))
    np.random.seed(1)  # noqa: NPY002
    second = points(figures_data.plot_ratings(ratings, participants))
    assert len(first) == len(second) > 0
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a, b)
    # the caller's global random state is left as it was
    np.random.seed(0)  # noqa: NPY002
    figures_data.plot_ratings(ratings, participants)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
