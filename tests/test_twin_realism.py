"""The realistic twin differs from the analysis model the way real scans do: measured on data.

Every property is measured on simulated runs (small grid, seeded, in memory through
:mod:`mindpain.first_level.realism`), never read from the parameter file; each realistic-world
number
is compared with the same measurement in the ideal world, which the analysis model fits
exactly.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_SEED

from mindpain.core.errors import MindpainError
from mindpain.first_level import realism
from mindpain.twin import generate as gen
from mindpain.twin import load_parameters
from mindpain.twin.nuisance import MOTION_COLUMNS, PHYSIO_COLUMNS

SEED = 7


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def test_glm_residuals_are_not_ar1_only():
    ideal = realism.residual_autocorrelation(seed=SEED, world="ideal", n_sessions=4)
    real = realism.residual_autocorrelation(seed=SEED, world="realistic", n_sessions=4)
    # After AR(1) whitening, ideal-world residuals are white (Q near its 10 lags); the
    # realistic world's keep autocorrelation an AR(1) model does not describe.
    assert ideal["ar1_leftover_q"].between(7, 13).all(), ideal
    assert real["ar1_leftover_q"].min() > 1.4 * ideal["ar1_leftover_q"].max(), real
    assert real["ar1_leftover_q"].mean() > 1.6 * ideal["ar1_leftover_q"].mean()


def test_hrf_latency_varies_across_participants():
    ideal = realism.hrf_latency(seed=SEED, world="ideal", n_sessions=8)
    real = realism.hrf_latency(seed=SEED, world="realistic", n_sessions=8)
    # The ideal world's spread is the estimator's own noise (every HRF canonical).
    assert real["latency"].std() > 3 * ideal["latency"].std(), (real, ideal)


def test_measured_latency_tracks_the_planted_participant_shift(monkeypatch):
    """The spread above is the HRF's: with the realistic world's noise sources switched off
    (motion signal, physiology, scanner noise; HRF, misregistration and temperatures kept),
    the latency measured from the BOLD follows each participant's planted shift."""
    import copy
    import dataclasses

    quiet = copy.deepcopy(load_parameters("small", "realistic"))
    nuisance = quiet.raw["nuisance"]
    nuisance["motion_artifact"]["value"].update(gain=0.0, nonlinear=0.0, spin_history=0.0,
                                                spike_drop_percent=0.0)
    nuisance["physio"]["value"].update(cardiac_percent=0.0, respiratory_percent=0.0,
                                       global_percent=0.0)
    quiet.raw["bold"]["noise_percent"]["value"] = 0.05
    # a key of its own, so the twin's caches never mistake it for the file's parameters
    quiet = dataclasses.replace(quiet, sha256="quiet")
    make_run = realism.make_run
    monkeypatch.setattr(realism, "make_run", lambda params, *args: make_run(quiet, *args))
    table = realism.hrf_latency(seed=SEED, world="realistic", n_sessions=None)
    per_participant = table.groupby("participant_id")[["latency", "planted"]].mean()
    assert len(per_participant) >= 12
    r = per_participant.corr().loc["latency", "planted"]
    assert r > 0.7, per_participant


def test_nps_tracks_trial_temperature_and_siips1_does_not():
    scores = realism.temperature_scores(seed=SEED, n_sessions=12)
    assert scores["offset"].nunique() >= 3
    slopes = realism.temperature_slopes(scores).set_index("signature")
    t = slopes["slope"] / slopes["se"]
    assert t["nps"] > 4, slopes
    assert abs(t["siips1"]) < 3, slopes


def test_motion_regressors_reduce_residual_variance():
    table = realism.motion_regression(seed=SEED, n_sessions=4)
    assert (table["n_confounds"] >= 12).all()
    assert (table["reduction"] > 0.05).all(), table
    # ... but not all of it: motion-related signal that regression only partly removes.
    assert (table["var_with"] > 0).all()


def test_confounds_table_has_fmriprep_columns(small_twin):
    files = sorted((small_twin / "derivatives" / "twin-confounds").glob(
        "sub-*/ses-*/func/*_desc-confounds_timeseries.tsv"))
    bolds = sorted(small_twin.glob("sub-*/ses-*/func/*_bold.nii.gz"))
    assert len(files) == len(bolds) > 0
    table = pd.read_csv(files[0], sep="\t", na_values="n/a", keep_default_na=False)
    expected = [*MOTION_COLUMNS, *(f"{c}_derivative1" for c in MOTION_COLUMNS),
                "framewise_displacement", "global_signal", *PHYSIO_COLUMNS]
    assert set(expected) <= set(table.columns)
    assert table.loc[0, [f"{c}_derivative1" for c in MOTION_COLUMNS]].isna().all()
    assert np.isnan(table.loc[0, "framewise_displacement"])
    assert table.loc[1:, expected].notna().all().all()
    described = json.loads((small_twin / "derivatives" / "twin-confounds"
                            / "task-heat_desc-confounds_timeseries.json").read_text())
    assert set(expected) <= set(described)
    # FD is Power's: absolute backward differences, rotations at 50 mm.
    motion = table[list(MOTION_COLUMNS)].to_numpy()
    diff = np.abs(np.diff(motion, axis=0))
    fd = diff[:, :3].sum(1) + 50 * diff[:, 3:].sum(1)
    assert np.allclose(fd, table["framewise_displacement"].to_numpy()[1:], rtol=1e-4, atol=1e-5)


def test_first_level_uses_the_twins_motion_confounds(small_twin, tmp_path):
    from mindpain import bids
    from mindpain.first_level import runs as fl
    from mindpain.pipeline import twin_confounds_dir

    conf_dir = twin_confounds_dir(small_twin)
    assert conf_dir is not None
    specs = bids.find_runs(small_twin, confounds_dir=conf_dir, participant_label=["001"])
    assert all(s.confounds is not None and s.confounds.is_file() for s in specs)
    settings = fl.ModelSettings(confounds=fl.MOTION_CONFOUNDS)
    design = fl.fit_run_model(specs[0], settings).design
    assert {f"{c}_derivative1" for c in MOTION_COLUMNS} <= set(design.columns)
    table = pd.read_csv(specs[0].confounds, sep="\t")
    outliers = [c for c in table.columns if c.startswith("motion_outlier")]
    assert set(outliers) <= set(design.columns)


def test_every_nuisance_parameter_is_labelled():
    table = load_parameters("small").table()
    nuisance = table[table["section"] == "nuisance"]
    assert len(nuisance) >= 10
    assert (nuisance["status"] == "assumed").all()
    assert nuisance["note"].str.len().gt(40).all()


def test_world_is_in_the_key_and_the_description(small_twin):
    key = gen.read_stamp(small_twin)
    assert key["world"] == "realistic"
    description = json.loads((small_twin / "dataset_description.json").read_text())
    assert "world=realistic" in description["GeneratedBy"][0]["Description"]
    with pytest.raises(MindpainError, match="world ideal"):
        key = gen.generation_key(load_parameters("small", "ideal"), TEST_SEED)
        gen._check_existing(small_twin, key, overwrite=False, if_current=True)


def test_world_is_validated_by_the_parser(tmp_path, capsys):
    from mindpain.cli import main

    assert main(["twin", "--out", str(tmp_path / "t"), "--world", "dreamy"]) == 2
    assert "realistic" in capsys.readouterr().err


def test_ideal_world_run_is_the_analysis_model():
    from mindpain.twin.run import make_run

    truth = realism.sessions(load_parameters("small", "ideal"), SEED, 1).iloc[0].to_dict()
    ideal = make_run(load_parameters("small", "ideal"), SEED, truth, 1, truth["hot_temperature"])
    real = make_run(load_parameters("small", "realistic"), SEED, truth, 1,
                    truth["hot_temperature"])
    assert ideal.confounds is None and real.confounds is not None
    hot = ideal.events["trial_type"].eq("hot")
    assert ideal.events.loc[hot, "temperature"].nunique() == 1
    assert real.events.loc[hot, "temperature"].nunique() > 1
    assert ideal.bold.shape == real.bold.shape and ideal.bold.dtype == np.int16
