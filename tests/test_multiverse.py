"""Multiverse: batched models against mindpain.trial.analysis, the permutation null, the key."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import work_config

from mindpain import multiverse as mv
from mindpain.core.errors import MindpainError
from mindpain.twin.params import load_parameters, participant_level_parameters


@pytest.fixture(scope="module")
def replication():
    from mindpain.trial.models import validate_outcomes
    from mindpain.twin.participants import draw_participants, simulate_observed

    obs = simulate_observed(participant_level_parameters("full"), 3, 1)
    trial = validate_outcomes(obs)
    scores = trial.rename(columns={"nps": "response"})[["participant_id", "session", "response"]]
    frame = mv.participant_frame(scores, draw_participants(load_parameters("full"), 3))
    return trial, frame


def test_grid_has_at_least_48_specifications():
    for grid in mv.GRIDS:
        assert mv.n_specifications(grid) >= 48
        labels = [v.label for v in mv.first_level_variants(grid)]
        assert len(set(labels)) == len(labels)
    with pytest.raises(MindpainError, match="grid"):
        mv.first_level_variants("huge")


def test_book_grid_varies_smoothing_confounds_hrf_and_high_pass():
    from mindpain.core.vocabulary import MOTION_CONFOUNDS

    variants = mv.first_level_variants("book")
    assert len(variants) == 16 and mv.n_specifications("book") == 384
    assert {v.smoothing_fwhm for v in variants} == {None, 6.0}
    assert {v.confounds for v in variants} == {"none", "motion"}
    assert len({v.hrf_model for v in variants}) == 2
    assert len({v.high_pass_s for v in variants}) == 2
    motion = next(v for v in variants if v.confounds == "motion")
    assert motion.settings().confounds == MOTION_CONFOUNDS
    # the pipeline's own settings are one of the variants
    from mindpain.first_level.runs import ModelSettings

    assert ModelSettings(confounds=MOTION_CONFOUNDS) in {v.settings() for v in variants}
    # the ideal twin writes no confounds: its confound axis is "none" only
    ideal = mv.first_level_variants("book", "ideal")
    assert len(ideal) == 8 and {v.confounds for v in ideal} == {"none"}
    assert ModelSettings(confounds=()) in {v.settings() for v in ideal}


def test_batched_models_match_the_trial_stage(replication):
    from mindpain.stats.effect_sizes import between_d
    from mindpain.trial.models import ancova_contrasts, change_scores, fit_ancova, fit_mixedlm

    trial, frame = replication
    labels = frame["group"].to_numpy()[None, :]
    res = {(r["model"], r["sample"], r["covariates"]): r
           for r in mv.estimate_specs(frame, labels)}
    ch = change_scores(trial, "nps")
    ref = between_d(ch.change[ch.group == "MBSR"], ch.change[ch.group == "HEP"])
    got = res[("change_score", "completers", "none")]
    for k in ("d", "ci_low", "ci_high", "p"):
        assert got[k][0] == pytest.approx(float(ref[k]), rel=1e-9)
    ref = ancova_contrasts(fit_ancova(ch), ch, "classical")["MBSR_vs_HEP"]
    got = res[("ancova", "completers", "none")]
    for k in ("d", "ci_low", "ci_high", "p"):
        assert got[k][0] == pytest.approx(float(ref[k]), rel=1e-9)
    for sample, data in (("all", trial), ("completers",
                                          trial[trial.participant_id.isin(ch.index)])):
        ref = fit_mixedlm(data, "nps")["contrasts"]["MBSR_vs_HEP"]
        got = res[("mixedlm", sample, "none")]
        assert got["d"][0] == pytest.approx(float(ref["d"]), abs=1e-4)
        assert got["p"][0] == pytest.approx(float(ref["p"]), abs=1e-3)
        assert got["ci_low"][0] == pytest.approx(float(ref["ci_low"]), abs=1e-3)


def test_permutations_stay_within_the_two_arms(replication):
    _, frame = replication
    groups = frame["group"].to_numpy()
    labels = mv.permuted_labels(groups, "MBSR_vs_HEP", 50, seed=1)
    assert (labels[0] == groups).all()
    assert (labels[:, groups == "WL"] == "WL").all()
    for row in labels:
        assert (row == "MBSR").sum() == (groups == "MBSR").sum()
    assert not (labels[1:] == groups).all(axis=1).any()
    again = mv.permuted_labels(groups, "MBSR_vs_HEP", 50, seed=1)
    assert (again == labels).all()


def test_null_curves_are_centred_on_zero(replication):
    _, frame = replication
    labels = mv.permuted_labels(frame["group"].to_numpy(), "MBSR_vs_HEP", 300, seed=2)
    rows = mv.estimate_specs(frame, labels, ci=False)
    d = np.array([r["d"] for r in rows]).T[1:]
    p = np.array([r["p"] for r in rows]).T[1:]
    assert abs(np.median(d)) < 0.05
    # Under the permutation null each specification rejects about 5% of the time.
    assert 0.02 < (p < 0.05).mean() < 0.09


def test_committed_result_key_is_checked(tmp_path):
    key = mv.content_key("reduced", 1, 10)
    assert key["world"] == "realistic"
    assert key != mv.content_key("reduced", 2, 10)
    assert key != mv.content_key("reduced", 1, 10, world="ideal")
    with pytest.raises(MindpainError, match="make multiverse"):
        mv.load_result(tmp_path, key)
    import pandas as pd

    result = mv.Multiverse(specs=pd.DataFrame({"spec": [0]}), null=pd.DataFrame({"a": [1]}),
                           summary=pd.DataFrame({"b": [2]}))
    mv.write_result(result, tmp_path, key)
    assert mv.load_result(tmp_path, key).summary.b.tolist() == [2]
    with pytest.raises(MindpainError, match="stale .*seed"):
        mv.load_result(tmp_path, mv.content_key("reduced", 2, 10))
    meta = json.loads((tmp_path / "multiverse.json").read_text())
    assert set(meta["columns"]) == set(mv.SPEC_COLUMNS)


def test_command_line_fails_in_one_line(tmp_path, capsys, monkeypatch):
    """``python -m mindpain.multiverse``: bad input is one line on stderr, exit 2, no output."""
    from mindpain.multiverse.__main__ import main

    out = tmp_path / "out"
    monkeypatch.setenv("MINDPAIN_N_JOBS", "0")  # a bad setting only the configuration sees
    assert main(["--preset", "small", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mindpain multiverse: ") and "MINDPAIN_N_JOBS" in err
    assert err.count("\n") == 1 and not out.exists()
    monkeypatch.delenv("MINDPAIN_N_JOBS")
    for bad in (["--grid", "huge"], ["--preset", "nope"], ["--seed", "-1"]):
        with pytest.raises(SystemExit) as done:  # a parser error: one line, exit 2
            main([*bad, "--out", str(out)])
        assert done.value.code == 2
        assert capsys.readouterr().err.count("\n") == 1 and not out.exists()


def _tree_digest(folder):
    """sha256 of every file under ``folder`` (relative path and bytes)."""
    import hashlib
    from pathlib import Path

    out = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        out.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return out.hexdigest()


@pytest.mark.slow
class TestOnTheBooksBuild:
    """The multiverse on the small twin where the book's build ran it (a work unit of its own,
    taken once the build is done: ``HEAVY_FIRST`` in ``tests/conftest.py``)."""

    def test_multiverse_runs_through_the_pipeline_on_the_small_twin(self, book_build,
                                                                    shared_work, small_twin,
                                                                    tmp_path):
        from mindpain.core.folders import read_marker
        from mindpain.pipeline import ensure_first_level, first_level_dir

        # The twin of the book's build (its work folder, after the build): its first level and
        # chapter 6's multiverse variants are fitted there already, and this run finds every
        # run of them current (runs_computed 0) instead of fitting them a second time.
        cfg = work_config(shared_work, n_jobs=1)
        assert cfg.twin_dir == small_twin
        pipeline = ensure_first_level(cfg)
        assert pipeline == first_level_dir(cfg)
        before = _tree_digest(cfg.derivatives_dir)
        result = mv.run_multiverse(cfg, n_permutations=20, grid="small")
        assert {v["runs_computed"] for v in result.timing["variants"].values()} == {0}
        # the multiverse never writes into the pipeline's derivatives
        assert _tree_digest(cfg.derivatives_dir) == before
        assert read_marker(mv.work_folder(cfg))["kind"] == "multiverse"
        for variant in mv.first_level_variants("small"):
            folder = mv.variant_dir(cfg, variant)
            assert folder.parent == mv.work_folder(cfg)
            assert read_marker(folder)["kind"] == "first-level"
        assert len(result.specs) == 2 * mv.n_specifications("small")
        assert result.specs.estimate_d.notna().all()
        assert set(result.specs.world) == {"realistic"}
        recoverable = mv.recoverable_truth(load_parameters("small", "realistic"))
        for outcome, rows in result.specs.groupby("outcome"):
            assert np.allclose(rows.recoverable_d, recoverable[outcome])
        assert set(result.specs.confounds) == {"none", "motion"}
        # confounds change the estimates (the motion variant is fitted with them)
        nps = result.specs[result.specs.outcome == "nps"].set_index(
            ["smoothing_fwhm", "metric", "model", "sample", "covariates", "confounds"]).estimate_d
        assert not np.allclose(nps.xs("none", level="confounds"),
                               nps.xs("motion", level="confounds"))
        assert set(result.summary.outcome) == set(mv.OUTCOMES)
        assert result.summary.p_share.between(0, 1).all()
        path = mv.write_multiverse(result.specs, cfg, out_dir=tmp_path)
        assert path.is_file()


def test_work_folder_it_did_not_make_is_refused(tmp_path):
    from mindpain.core.config import get_config

    cfg = get_config(preset="small", work_dir=tmp_path, n_jobs=1)
    folder = mv.work_folder(cfg)
    assert cfg.derivatives_dir not in folder.parents and folder != cfg.derivatives_dir
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(MindpainError, match="not made by the multiverse"):
        mv.prepare_work_folder(cfg)
    assert (folder / "notes.txt").read_text() == "mine"
    (folder / "notes.txt").unlink()
    assert mv.prepare_work_folder(cfg) == folder
