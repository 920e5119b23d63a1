"""The multiverse replicated in memory: first level as on disk, seeds, table, summaries."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import TEST_SEED, twin_run_in_memory

from mindpain import multiverse as mv
from mindpain.core.errors import MindpainError
from mindpain.multiverse import replications as mvr
from mindpain.twin.params import load_parameters


def test_in_memory_variants_equal_the_file_based_first_level(small_twin, tmp_path):
    """Smoothing, confounds and HRF in memory give the first level's own maps of a run."""
    import nibabel as nib

    from mindpain.first_level import outputs as first_level_outputs
    from mindpain.first_level import runs as fl
    from mindpain.twin.patterns import generator_space

    spec, data = twin_run_in_memory(small_twin, "pre", 1)
    space = generator_space(load_parameters("small"))
    variants = [mv.FirstLevelVariant(6.0, "glover", 128.0, "motion"),
                mv.FirstLevelVariant(None, "glover + derivative", 100.0, "none"),
                mv.FirstLevelVariant(6.0, "glover + derivative", 128.0, "none")]
    fits = mv.fit_run_variants(data, 2.0, space.affine, variants)
    for i, variant in enumerate(variants):
        out = tmp_path / f"v{i}"
        status = fl._fit_run(spec, out, variant.settings(), None)
        assert status["status"] == "computed", status
        path = first_level_outputs.run_map_path(out, spec, "hotVsWarm", "effect")
        on_disk = np.asarray(nib.load(path).dataobj)
        mask, effect, _ = fits[variant.label]
        in_memory = np.zeros(space.shape)
        in_memory[mask] = effect
        assert (mask == (on_disk != 0)).all()
        # The smoothed series are nilearn's masker's to the bit; the fits agree to float32
        # rounding (the map is written as float32, the smoothed signal varies less), except
        # where a voxel's AR(1) coefficient sits on the edge of nilearn's 1/100 bins and the
        # two fits' rounding puts it in neighbouring bins (a few voxels, 1e-3 apart).
        close = np.isclose(in_memory, on_disk, rtol=1e-4, atol=1e-6)
        assert close.mean() > 0.999, (variant.label, (~close).sum())
        np.testing.assert_allclose(in_memory, on_disk, rtol=1e-3, atol=1e-6)
    # smoothing does change the map (the kernel is not a no-op on this grid)
    plain = mv.fit_run_variants(data, 2.0, space.affine,
                                [mv.FirstLevelVariant(None, "glover", 128.0, "motion")])
    assert not np.allclose(plain["fwhm0-glover-hp128-confmotion"][1],
                           fits[variants[0].label][1])


def test_smooth_run_is_nilearns_smoothing():
    import nibabel as nib
    from nilearn.image import smooth_img

    rng = np.random.default_rng(0)
    bold = rng.integers(900, 1100, size=(5, 6, 4, 7)).astype(np.int16)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    ref = smooth_img(nib.Nifti1Image(bold.astype(np.float32), affine), 6.0).get_fdata()
    np.testing.assert_allclose(mv.smooth_run(bold, affine, 6.0), ref, rtol=1e-6)
    assert mv.smooth_run(bold, affine, None).dtype == np.float32
    np.testing.assert_array_equal(mv.smooth_run(bold, affine, None), bold)


def test_replication_seeds_are_disjoint_from_the_end_to_end_ones():
    from mindpain.endtoend import replication_seed as endtoend_seed

    ours = {mv.replication_seed(TEST_SEED, r) for r in range(200)}
    theirs = {endtoend_seed(TEST_SEED, r) for r in range(200)}
    assert len(ours) == 200 and not ours & theirs
    assert mv.replication_seed(TEST_SEED, 3) == mv.replication_seed(TEST_SEED, 3)


def test_recoverable_truth_is_on_the_change_score_scale():
    from mindpain.truth import planted_trial_effects, recoverable_trial_effects

    table = recoverable_trial_effects(load_parameters("small", "realistic"))
    assert list(table.columns) == ["outcome", "contrast", "recoverable_d_paper",
                                   "planted_d_paper"]
    truth = mv.recoverable_truth(load_parameters("small", "realistic"))
    planted = planted_trial_effects(load_parameters("small", "realistic")).set_index(
        ["outcome", "contrast"])
    for outcome in mv.OUTCOMES:
        row = planted.loc[(outcome, "MBSR_vs_HEP")]
        # the paper scale and the change-score scale differ by one constant per contrast,
        # the one that links planted_d_paper and planted_d
        assert truth[outcome] == pytest.approx(
            float(row["recoverable_d_paper"] * row["planted_d"] / row["planted_d_paper"]),
            rel=1e-9)


def _synthetic(n_reps=4):
    """Two specifications of one outcome over ``n_reps`` replications, known numbers."""
    rows = []
    for r in range(n_reps):
        for spec, shift in (("a", 0.0), ("b", 0.2)):
            d = -0.5 + shift + 0.1 * r
            rows.append({"replication": r, "outcome": "nps", "first_level": spec,
                         "metric": "dot", "model": "change_score", "sample": "completers",
                         "covariates": "none", "estimate_d": d, "ci_low": d - 0.15,
                         "ci_high": d + 0.15, "p": 0.01 if d < -0.3 else 0.5})
    return pd.DataFrame(rows)


def test_coverage_and_spreads_of_a_known_table():
    table = _synthetic()
    cov = mv.spec_coverage(table, {"nps": -0.4}).set_index("first_level")
    # spec a: d = -0.5, -0.4, -0.3, -0.2; CI covers -0.4 for the first three
    assert cov.loc["a", "coverage"] == pytest.approx(0.75)
    # spec b: d = -0.3, -0.2, -0.1, 0.0; covers for the first only
    assert cov.loc["b", "coverage"] == pytest.approx(0.25)
    assert cov.loc["a", "sampling_sd"] == pytest.approx(np.std([0, .1, .2, .3], ddof=1))
    assert cov.loc["a", "share_significant"] == pytest.approx(0.5)
    summary = mv.spread_summary(table, {"nps": -0.4}).iloc[0]
    assert summary.spec_sd_median == pytest.approx(np.std([0.0, 0.2], ddof=1))
    assert summary.sampling_sd_median == pytest.approx(np.std([0, .1, .2, .3], ddof=1))
    assert summary.coverage_min == pytest.approx(0.25)
    assert summary.coverage_max == pytest.approx(0.75)
    assert summary.replications == 4 and summary.n_specs == 2
    assert len(mv.spec_spreads(table)) == 4


def test_replications_key_is_checked(tmp_path):
    from mindpain.core.store import sidecar
    from mindpain.multiverse.replications import TABLE_NAME, content_key

    key = content_key("calibration", 1, "realistic", 20)
    assert key != content_key("calibration", 1, "ideal", 20)
    assert key != content_key("calibration", 2, "realistic", 20)
    with pytest.raises(MindpainError, match="make multiverse"):
        mv.load_replications(tmp_path, key)
    table = _synthetic().assign(contrast="MBSR_vs_HEP", world="realistic")
    mv.write_replications(table, tmp_path, key, {"wall_s": 1.0})
    assert len(mv.load_replications(tmp_path, key)) == len(table)
    # another count of replications is read as it is: the table says how many
    assert len(mv.load_replications(tmp_path, content_key("calibration", 1, "realistic", 40))) \
        == len(table)
    with pytest.raises(MindpainError, match="stale .*world"):
        mv.load_replications(tmp_path, content_key("calibration", 1, "ideal", 20))
    meta = json.loads(sidecar(tmp_path / TABLE_NAME).read_text())
    assert meta["key"] == key and "replication" in meta["columns"]
    # the table is compressed, and the same table gives the same bytes
    assert TABLE_NAME.endswith(".tsv.gz")
    first = (tmp_path / TABLE_NAME).read_bytes()
    mv.write_replications(table, tmp_path, key, {"wall_s": 1.0})
    assert (tmp_path / TABLE_NAME).read_bytes() == first


@pytest.mark.slow
def test_two_replications_of_the_small_multiverse(tmp_path):
    """Two tiny replications through every specification; a second call resumes."""
    table, timing = mv.run_replications(TEST_SEED, 2, preset="small", grid="small",
                                        cache_root=tmp_path)
    assert list(table.columns) == list(mv.REPLICATION_COLUMNS)
    assert len(table) == 2 * 2 * mv.n_specifications("small")
    assert sorted(table.replication.unique()) == [0, 1]
    assert set(table.world) == {"realistic"}
    assert table.estimate_d.notna().all()
    assert timing["replications_computed"] == 2
    # independent draws: the estimates differ between replications
    a, b = (table[table.replication == r].estimate_d.to_numpy() for r in (0, 1))
    assert not np.allclose(a, b)
    again, timing = mv.run_replications(TEST_SEED, 2, preset="small", grid="small",
                                        cache_root=tmp_path)
    assert timing["replications_computed"] == 0
    pd.testing.assert_frame_equal(again, table)
    summary = mv.spread_summary(table, mv.recoverable_truth(load_parameters("small", "realistic")))
    assert set(summary.outcome) == set(mv.OUTCOMES)
    assert (summary.sampling_sd_median > 0).all() and (summary.spec_sd_median > 0).all()
    with pytest.raises(MindpainError, match="at least 2"):
        mv.run_replications(TEST_SEED, 1, preset="small", grid="small", cache_root=tmp_path)
    # files of other code are reused when the current code reproduces replication 0
    key = mvr.content_key("small", TEST_SEED, "realistic", 2, "small")
    label = mvr.cache_folder(tmp_path, key) / "code.json"
    label.write_text(json.dumps({"code": "0" * 64}))
    again, timing = mv.run_replications(TEST_SEED, 2, preset="small", grid="small",
                                        cache_root=tmp_path)
    assert timing["replications_computed"] == 0
    assert json.loads(label.read_text())["code"] == key["code"]
    # the committed table is re-keyed when its first replications are reproduced ...
    out = tmp_path / "committed"
    mv.write_replications(table, out, dict(key, code="0" * 64))
    assert mvr.rekey(out, n_check=1) == key
    assert len(mv.load_replications(out, key)) == len(table)
    # ... and refused when they are not
    changed = table.assign(estimate_d=table.estimate_d.where(table.replication != 0, 0.0))
    mv.write_replications(changed, out, dict(key, code="0" * 64))
    with pytest.raises(MindpainError, match="replication 0 differs"):
        mvr.rekey(out, n_check=1)


def test_replication_figure_is_legible():
    from _figure_helpers import assert_legible

    from mindpain.figures import design as figures_design

    table = _synthetic(6)
    fig = figures_design.plot_replication_evidence(mv.spec_coverage(table, {"nps": -0.4}),
                                                   mv.spec_spreads(table), "nps")
    assert_legible(fig)
    assert len(fig.axes) == 2
