"""End-to-end calibration (mindpain.endtoend): tiny, seeded runs on the small preset."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_SEED, twin_run_in_memory

from mindpain import endtoend
from mindpain.core.errors import MindpainError
from mindpain.core.store import ReplicationCache
from mindpain.core.vocabulary import WORLDS
from mindpain.endtoend import runner
from mindpain.twin.params import load_parameters

N_REPS = 3
#: One scenario (the realistic world) keeps the module's fixture cheap.
REALISTIC = {"realistic": ("realistic", None, 1.0)}


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Three replications of the small trial through the pipeline (realistic world)."""
    cache = tmp_path_factory.mktemp("endtoend-cache")
    out = endtoend.run_endtoend(TEST_SEED, N_REPS, preset="small", scenarios=REALISTIC,
                                n_jobs=1, cache_root=cache)
    return (*out, cache)


def test_pipeline_runs_and_table_columns(small_run):
    table, scores, timing, _ = small_run
    assert list(table.columns) == list(endtoend.COLUMNS)
    assert set(table.world) == {"realistic"} and set(table.scenario) == {"realistic"}
    assert set(table.outcome) == set(endtoend.OUTCOMES)
    assert set(table.contrast) == set(endtoend.CONTRASTS)
    assert set(table.model) == set(endtoend.MODELS)
    assert (table.replications == N_REPS).all()
    assert table.coverage.between(0, 1).all() and (table.mc_se >= 0).all()
    assert np.isfinite(table[["mean_estimate", "mean_ci_width", "planted_d_paper"]]).all().all()
    # every reported contrast is there
    from mindpain.reported import REPORTED

    got = set(zip(table.outcome, table.contrast, strict=True))
    assert {(c.outcome, c.contrast) for c in REPORTED} <= got
    assert table.loc[table.reported, "reported_d"].notna().all()
    # scores: one row per completer and session, per replication
    assert timing["replications"] == {"realistic": N_REPS}
    per_rep = scores.groupby("replication").size()
    assert (per_rep == per_rep.iloc[0]).all()
    assert np.isfinite(scores[list(endtoend.OUTCOMES)]).all().all()


def test_deterministic_for_a_seed(small_run):
    _, scores, timing, _ = small_run
    weights = endtoend.surrogate_weights(load_parameters("small"))
    again = endtoend.replicate(load_parameters("small", "realistic"), TEST_SEED, 1, weights)
    first = scores[scores.replication == 1].drop(columns="scenario").reset_index(drop=True)
    pd.testing.assert_frame_equal(first, again)
    # the check digest of a replication is that of its recomputation
    assert timing["check_digests"]["realistic"][1] == endtoend.scores_digest(again)
    other = endtoend.replicate(load_parameters("small", "realistic"), TEST_SEED + 1, 1, weights)
    assert not np.allclose(other["nps"].to_numpy(), again["nps"].to_numpy())


def test_replication_seeds_differ_and_are_shared_by_worlds():
    seeds = {endtoend.replication_seed(TEST_SEED, r) for r in range(20)}
    assert len(seeds) == 20
    assert endtoend.replication_seed(TEST_SEED, 3) == endtoend.replication_seed(TEST_SEED, 3)


def test_resume_reads_finished_replications(small_run, monkeypatch):
    table, _, _, cache = small_run
    calls = []
    monkeypatch.setattr(runner, "replicate", lambda *a: calls.append(a))
    again, _, timing = endtoend.run_endtoend(TEST_SEED, N_REPS, preset="small",
                                             scenarios=REALISTIC, cache_root=cache)
    assert calls == [] and timing["tasks_computed"] == 0
    pd.testing.assert_frame_equal(again, table)


def test_scenario_replications():
    got = endtoend.scenario_replications(300)
    assert got == {"ideal": 300, "realistic": 300, "ideal_mar": 50}
    assert min(endtoend.scenario_replications(4).values()) == 3


def test_content_key_changes_with_parameters(tmp_path, monkeypatch):
    base = endtoend.content_key("calibration", 1, 200)
    assert base == endtoend.content_key("calibration", 1, 200)
    assert endtoend.content_key("calibration", 2, 200) != base
    assert endtoend.content_key("small", 1, 200) != base
    assert endtoend.content_key("calibration", 1, 100)["n_replications"] == 100
    assert endtoend.content_key("calibration", 1, 200, REALISTIC) != base
    files = endtoend.code_files()
    toml = next(p for p in files if p.name == "parameters.toml")
    changed = tmp_path / "parameters.toml"
    shutil.copy(toml, changed)
    changed.write_text(changed.read_text().replace("value = 1.2", "value = 1.3", 1))
    monkeypatch.setattr(runner, "code_files",
                        lambda: [changed if p == toml else p for p in files])
    assert endtoend.content_key("calibration", 1, 200)["code"] != base["code"]


def test_load_result_checks_the_key(tmp_path, small_run):
    table, _, timing, _ = small_run
    key = endtoend.content_key("small", TEST_SEED, N_REPS, REALISTIC)
    with pytest.raises(MindpainError, match="make calibrate"):
        endtoend.load_result(tmp_path, key)
    endtoend.write_result(table, tmp_path, key, timing)
    back, meta = endtoend.load_result(tmp_path, dict(key, n_replications=200))
    assert list(back.columns) == list(endtoend.COLUMNS) and len(back) == len(table)
    assert meta["timing"]["replications"] == {"realistic": N_REPS}
    assert set(json.loads((tmp_path / "trial_coverage_endtoend.json").read_text())["columns"]) \
        == set(endtoend.COLUMNS)
    with pytest.raises(MindpainError, match=r"stale \(code changed\).*make calibrate"):
        endtoend.load_result(tmp_path, dict(key, code="0" * 64))


def test_rekey_renews_the_key_only_when_the_numbers_hold(tmp_path, small_run, monkeypatch):
    table, _, timing, _ = small_run
    key = endtoend.content_key("small", TEST_SEED, N_REPS, REALISTIC)
    endtoend.write_result(table, tmp_path, dict(key, code="0" * 64), timing)
    assert endtoend.rekey(tmp_path) == key  # same numbers: the current code's key
    endtoend.load_result(tmp_path, key)
    meta_path = tmp_path / "trial_coverage_endtoend.json"
    meta = json.loads(meta_path.read_text())
    meta["key"]["code"] = "0" * 64
    meta["timing"]["check_digests"]["realistic"][0] = "f" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(MindpainError, match="differs with the current code"):
        endtoend.rekey(tmp_path)
    assert json.loads(meta_path.read_text())["key"]["code"] == "0" * 64


def test_command_line_rekeys_and_fails_in_one_line(tmp_path, small_run, capsys, monkeypatch):
    """``python -m mindpain.endtoend``: ``--rekey`` renews a result's key; bad input is one
    line on stderr with exit 2, and nothing is written."""
    from mindpain.endtoend.__main__ import main

    table, _, timing, _ = small_run
    key = endtoend.content_key("small", TEST_SEED, N_REPS, REALISTIC)
    endtoend.write_result(table, tmp_path, dict(key, code="0" * 64), timing)
    assert main(["--rekey", "--preset", "small", "--out", str(tmp_path)]) == 0
    assert "re-keyed" in capsys.readouterr().out
    endtoend.load_result(tmp_path, key)
    empty = tmp_path / "empty"
    monkeypatch.setenv("MINDPAIN_N_JOBS", "0")  # a bad setting only the configuration sees
    assert main(["--preset", "small", "--out", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mindpain endtoend: ") and "MINDPAIN_N_JOBS" in err
    assert err.count("\n") == 1 and not empty.exists()
    monkeypatch.delenv("MINDPAIN_N_JOBS")
    with pytest.raises(SystemExit) as done:  # checked in the parser: one line, exit 2
        main(["--preset", "nope", "--out", str(empty)])
    assert done.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1 and not empty.exists()


def test_in_memory_first_level_equals_on_disk(small_twin, tmp_path):
    """One run of the twin written by ``mindpain twin``: the in-memory fit gives its map."""
    import nibabel as nib

    from mindpain.first_level import outputs as first_level_outputs
    from mindpain.first_level import runs as fl
    from mindpain.first_level.runs import MOTION_CONFOUNDS, ModelSettings
    from mindpain.twin.patterns import generator_space

    spec, data = twin_run_in_memory(small_twin, "post", 2)
    settings = ModelSettings(confounds=MOTION_CONFOUNDS)
    status = fl._fit_run(spec, tmp_path, settings, None)
    assert status["status"] == "computed", status
    effect_map = first_level_outputs.run_map_path(tmp_path, spec, "hotVsWarm", "effect")
    on_disk = np.asarray(nib.load(effect_map).dataobj)

    space = generator_space(load_parameters("small"))
    mask, effect, variance = endtoend.fit_run_in_memory(data, 2.0, MOTION_CONFOUNDS,
                                                        space.affine)
    in_memory = np.zeros(space.shape)
    in_memory[mask] = effect
    assert (mask == (on_disk != 0)).all()
    np.testing.assert_allclose(in_memory, on_disk, rtol=1e-5, atol=1e-7)
    # fitting only the voxels the signatures weight gives the same values there
    weights = endtoend.surrogate_weights(load_parameters("small"))
    support = (weights != 0).any(1).reshape(space.shape)
    sub_mask, sub_effect, sub_var = endtoend.fit_run_in_memory(data, 2.0, MOTION_CONFOUNDS,
                                                               space.affine, support)
    assert (sub_mask == (mask & support)).all()
    np.testing.assert_allclose(sub_effect, in_memory[sub_mask], rtol=1e-10, atol=1e-12)
    # the fast path equals the first level's own functions (glm.design_matrix, fit_arrays)
    slow = endtoend.fit_run_in_memory(data, 2.0, MOTION_CONFOUNDS, space.affine, support,
                                      fast=False)
    assert (slow[0] == sub_mask).all()
    np.testing.assert_allclose(sub_effect, slow[1], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sub_var, slow[2], rtol=1e-10, atol=0)


def test_session_effect_is_the_fixed_effects_mean():
    shape = (2, 2, 1)
    m1 = np.array([[True, True], [True, False]]).reshape(shape)
    m2 = np.array([[True, False], [True, True]]).reshape(shape)
    fits = [(m1, np.array([1.0, 2.0, 3.0]), np.ones(3)),
            (m2, np.array([3.0, 5.0, 7.0]), np.ones(3))]
    out = endtoend.session_effect(fits)
    # voxels covered by both runs: (0,0) and (1,0): means 2 and 4; the others 0
    np.testing.assert_array_equal(out, np.array([2.0, 0.0, 4.0, 0.0], dtype=np.float32))


@pytest.fixture(scope="module")
def realistic_run():
    """One realistic run of the small twin (motion outliers, confounds) and its design."""
    from mindpain.first_level.runs import MOTION_CONFOUNDS
    from mindpain.twin.participants import draw_participants, draw_truth
    from mindpain.twin.run import make_run

    params = load_parameters("small", "realistic")
    participants = draw_participants(params, TEST_SEED)
    truth = draw_truth(participants, params, TEST_SEED)
    rec = truth.iloc[1].to_dict()
    hot = participants.set_index("participant_id").loc[rec["participant_id"], "hot_temperature"]
    data = make_run(params, TEST_SEED, rec, 1, float(hot))
    events = endtoend.run_events(data.events)
    confounds = endtoend.select_confounds(data.confounds, MOTION_CONFOUNDS)
    return data, events, confounds


@pytest.mark.parametrize("with_confounds", [False, True])
def test_fast_design_equals_the_first_levels(realistic_run, with_confounds):
    from mindpain.first_level.glm import design_matrix
    from mindpain.first_level.runs import ModelSettings

    data, events, confounds = realistic_run
    confounds = confounds if with_confounds else None
    n = data.bold.shape[3]
    expected = design_matrix(events, n, 2.0, confounds=confounds)
    got = endtoend.fast_design(events, n, 2.0, ModelSettings(), confounds)
    assert list(got.columns) == list(expected.columns)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_ar1_contrast_equals_fit_arrays(realistic_run):
    """The stacked AR(1) fit gives nilearn's per-bin models' effects and variances."""
    from mindpain.first_level.glm import design_matrix, fit_arrays

    data, events, confounds = realistic_run
    n = data.bold.shape[3]
    design = design_matrix(events, n, 2.0, confounds=confounds)
    Y = np.asarray(data.bold, np.float32).reshape(-1, n)
    Y = Y[Y.min(1) > 0][:300].T
    fit = fit_arrays(Y, design)
    assert len(fit.results) > 5  # many AR(1) bins
    effect, variance = fit.contrast("hot - warm")
    vector = fit.contrast_vector("hot - warm")
    got_e, got_v = endtoend.ar1_contrast(Y, design.to_numpy(), vector)
    np.testing.assert_allclose(got_e, effect, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(got_v, variance, rtol=1e-10, atol=0)
    # a rank-deficient design takes nilearn's pseudo-inverse
    twice = design.assign(hot_copy=design["hot"])
    fit = fit_arrays(Y, twice)
    effect, variance = fit.contrast("hot - warm")
    got_e, got_v = endtoend.ar1_contrast(Y, twice.to_numpy(), fit.contrast_vector("hot - warm"))
    np.testing.assert_allclose(got_e, effect, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(got_v, variance, rtol=1e-8, atol=0)


def test_cache_is_reused_after_a_code_change_only_if_reproduced(small_run, monkeypatch):
    _, _, _, cache = small_run
    key = endtoend.content_key("small", TEST_SEED, N_REPS, REALISTIC)
    folder = endtoend.cache_folder(cache, key)
    weights = endtoend.surrogate_weights(load_parameters("small"))
    params = runner.world_parameters("small", REALISTIC)
    label = folder / "code.json"
    assert json.loads(label.read_text())["code"] == key["code"]
    # other code that gives the same numbers: the files are kept and re-labelled
    runner.check_cache(ReplicationCache(folder, "1" * 64), params, TEST_SEED, REALISTIC,
                       weights)
    assert json.loads(label.read_text())["code"] == "1" * 64
    assert len(list(folder.glob("realistic/*.tsv"))) == N_REPS
    # code that gives other numbers: the folder is set aside, the run starts afresh
    real = endtoend.replicate
    monkeypatch.setattr(runner, "replicate", lambda *a: real(*a).assign(nps=0.0))
    runner.check_cache(ReplicationCache(folder, key["code"]), params, TEST_SEED, REALISTIC,
                       weights)
    assert list(folder.glob("realistic/*.tsv")) == []
    stale = folder.with_name(folder.name + ".stale-" + "1" * 12)
    assert len(list(stale.glob("realistic/*.tsv"))) == N_REPS


# ---------------------------------------------------------------- the analysis mask


def test_run_mask_is_the_first_levels_implicit_mask(realistic_run):
    data = realistic_run[0]
    fast = endtoend.run_mask(data.bold)
    np.testing.assert_array_equal(fast, endtoend.run_mask(data.bold, fast=False))
    assert 0 < fast.sum() < fast.size


def test_planted_effects_in_a_mask_that_loses_no_weight_are_the_planted_ones():
    from mindpain.twin.model import planted_trial_effects, twin_space

    space = twin_space(load_parameters("small"))
    whole = planted_trial_effects(load_parameters("small"))
    # every voxel kept: the same table, bit for bit
    pd.testing.assert_frame_equal(
        whole, planted_trial_effects(load_parameters("small"), np.ones(space.n_voxels, bool)))
    # dropping only voxels where no readout weighs anything changes nothing that is read
    weighted = np.column_stack(list(space.weights.values())).any(axis=1)
    assert not weighted.all(), "the test needs unweighted voxels in the small twin's mask"
    dropped = planted_trial_effects(load_parameters("small"), weighted)
    np.testing.assert_allclose(dropped["planted_d_paper"], whole["planted_d_paper"],
                               rtol=1e-12)


def test_planted_effects_in_a_smaller_mask_follow_the_readout_kept():
    """Independent of the twin's constants: a readout's planted shift is its weights times
    the latent arm shifts, inside the voxels kept."""
    from mindpain.twin.model import derive_constants, planted_trial_effects, twin_space

    space = twin_space(load_parameters("small"))
    const = derive_constants(load_parameters("small"))
    keep = np.zeros(space.n_voxels, bool)
    keep[: space.n_voxels // 2] = True
    seen = planted_trial_effects(load_parameters("small"), keep).set_index(["outcome", "contrast"])
    P = space.generator.pattern_matrix()
    for outcome in ("nps", "siips1"):
        w = np.where(keep, space.weights[outcome], 0.0)
        lat = {a: np.array([const.latent_shift[k]["MBSR"] - const.latent_shift[k][a]
                            for k in ("nociceptive", "modulatory")]) for a in ("HEP", "WL")}
        for arm in ("HEP", "WL"):
            row = seen.loc[(outcome, f"MBSR_vs_{arm}")]
            np.testing.assert_allclose(row["true_change_difference"], w @ P @ lat[arm],
                                       rtol=1e-10)


def test_mask_effects_measure_the_calibration_grids_mask():
    table = endtoend.mask_effects(load_parameters("small", "ideal"), TEST_SEED, n_sessions=2)
    assert set(table.outcome) == set(endtoend.OUTCOMES)
    assert set(table.contrast) == set(endtoend.CONTRASTS)
    kept, total = table.analysis_mask_voxels.iloc[0], table.twin_mask_voxels.iloc[0]
    assert 0 < kept <= total
    assert np.isfinite(table[["planted_d_paper", "planted_d_paper_in_mask"]]).all().all()


def test_the_book_reads_the_committed_result(tmp_path, monkeypatch):
    """Chapter 4 on the full preset: the result `make calibrate` committed, key checked
    against this code, adopted into the results folder."""
    from mindpain.core.config import get_config

    monkeypatch.setenv("MINDPAIN_RESULTS", str(tmp_path))
    cfg = get_config(preset="full")
    table, meta, from_disk = endtoend.load_or_run(cfg)
    assert from_disk and meta["key"] == endtoend.content_key(
        endtoend.ENDTOEND_PRESET, cfg.seed, endtoend.DEFAULT_REPLICATIONS)
    # the table says how many replications finished, as its sidecar records them
    done = meta["timing"]["replications"]
    got = {k: sorted(set(v)) for k, v in table.groupby("scenario")["replications"]}
    assert got == {k: [v] for k, v in done.items()}
    assert list(table.columns) == list(endtoend.COLUMNS)
    assert (tmp_path / endtoend.TABLE_NAME).is_file()


def test_the_committed_result_has_every_replication_asked_for():
    from mindpain.core.config import get_config

    cfg = get_config(preset="full")
    table, _, _ = endtoend.load_or_run(cfg)
    assert (table.loc[table.scenario.isin(WORLDS), "replications"]
            >= endtoend.DEFAULT_REPLICATIONS).all()


def test_small_preset_keeps_its_replications_in_the_work_folder(tmp_path, monkeypatch):
    """Chapter 4 on the small preset keeps its end-to-end replications in the work folder's
    ``endtoend-cache``, so a chapter run again, or on another dataset there, reads them
    (reading finished replications: ``test_resume_reads_finished_replications``)."""
    from mindpain.core.config import get_config
    from mindpain.endtoend import results

    calls = []

    def fake_run(seed, n_replications, **kwargs):
        calls.append((seed, n_replications, kwargs))
        return pd.DataFrame(), pd.DataFrame(), {"replications": {}}

    monkeypatch.setattr(results, "run_endtoend", fake_run)
    monkeypatch.setenv("MINDPAIN_WORK", str(tmp_path / "work"))
    cfg = get_config(preset="small")
    _, meta, from_disk = endtoend.load_or_run(cfg, small_replications=3)
    assert not from_disk and meta["key"] == endtoend.content_key("small", cfg.seed, 3)
    [(seed, n, kwargs)] = calls
    assert (seed, n, kwargs["preset"]) == (cfg.seed, 3, "small")
    assert kwargs["cache_root"] == tmp_path / "work" / "endtoend-cache"
