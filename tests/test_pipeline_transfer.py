"""Planting through the pipeline: the measured transfer, the recoverable truth, the signal floor."""

from __future__ import annotations

import copy
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mindpain import endtoend
from mindpain.endtoend import transfer as tr
from mindpain.first_level import glm
from mindpain.reported import REPORTED
from mindpain.twin.model import (
    READOUTS,
    constants_of,
    twin_space,
)
from mindpain.twin.params import KEPT_PARTS, TRANSFER_FIELDS, Parameters, load_parameters
from mindpain.twin.through_pipeline import pipeline_loading, recoverable_d_paper

# ---------------------------------------------------------------- the signal floor


def test_signal_floor_drops_only_voxels_below_the_share_of_the_median():
    mean = np.full((6, 6, 6), 100.0)
    mean[0, 0, 0], mean[1, 0, 0], mean[2, 0, 0] = 10.0, 45.0, 55.0
    mask = np.ones(mean.shape, bool)
    kept = glm.signal_floor(mask, mean, 0.5)
    assert not kept[0, 0, 0] and not kept[1, 0, 0] and kept[2, 0, 0]
    assert kept.sum() == mask.sum() - 2
    assert glm.signal_floor(mask, mean, 0).sum() == mask.sum()


def _brain_img():
    """A 4-D run: a bright block of brain whose bottom slab has a third of its signal."""
    rng = np.random.default_rng(3)
    data = np.zeros((14, 14, 12, 30), np.float32)
    data[3:11, 3:11, 3:9] = 1000.0
    data[3:11, 3:11, 3] = 300.0
    data += rng.normal(0, 5, data.shape).astype(np.float32) * (data > 0)
    return nib.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))


def test_implicit_mask_leaves_out_voxels_of_little_signal():
    from nilearn.masking import compute_multi_epi_mask

    img = _brain_img()
    epi = np.asarray(compute_multi_epi_mask([img]).dataobj).astype(bool)
    ours = np.asarray(glm.implicit_mask(img).dataobj).astype(bool)
    dim = np.zeros(epi.shape, bool)
    dim[3:11, 3:11, 3] = True
    assert (epi & dim).any(), "the fixture must put dim voxels inside nilearn's EPI mask"
    assert np.array_equal(ours, epi & ~dim)
    # without the floor it is nilearn's EPI mask
    assert np.array_equal(np.asarray(glm.implicit_mask(img, 0).dataobj).astype(bool), epi)


def test_a_dim_voxel_would_otherwise_dominate_its_run_map():
    """What the floor prevents: a fluctuation that is a large share of a small mean."""
    img = _brain_img()
    events = pd.DataFrame({"onset": [4.0, 14.0, 24.0, 34.0], "duration": [3.0] * 4,
                           "trial_type": ["hot", "warm", "hot", "warm"]})
    data = np.asarray(img.dataobj).copy()
    data[3:11, 3:11, 3, 4:9] *= 4.0   # a burst in the dim slab during the first hot trial
    img = nib.Nifti1Image(data, img.affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = np.asarray(glm.fit_image(img, events, 2.0, baseline_floor=0)
                           .contrast_maps("hot - warm")[0].dataobj)
        floored = np.asarray(glm.fit_image(img, events, 2.0)
                             .contrast_maps("hot - warm")[0].dataobj)
    slab, brain = plain[3:11, 3:11, 3], np.abs(floored[3:11, 3:11, 4:9])
    assert np.abs(slab).max() > 10 * brain.max()
    assert not floored[3:11, 3:11, 3].any()


# ---------------------------------------------------------------- measuring the transfer


def test_replication_transfer_recovers_a_known_gain_offset_and_noise():
    """Synthetic scores with a known gain, offset and noise: estimates within 4 SE."""
    rng = np.random.default_rng(11)
    n = 20000
    loadings = np.array([[2.0, 0.5], [0.3, 1.5]])
    noise_var = np.array([0.8, 0.4])
    level = rng.normal([1.0, 0.5], [0.6, 0.4], (n, 2))
    change = rng.normal(0.0, [0.3, 0.2], (n, 2))
    latent = {"pre": level, "post": level + change}
    gain, offset, ratio = (0.8, 0.6), (0.3, -0.2), (1.2, 0.9)
    rows = []
    for s in ("pre", "post"):
        row = {"participant_id": np.arange(n), "session": s,
               "nociceptive": latent[s][:, 0], "modulatory": latent[s][:, 1]}
        for j, o in enumerate(tr.OUTCOMES):
            sd = ratio[j] * np.sqrt(noise_var[j])
            shift = offset[j] * np.sqrt(2 * noise_var[j]) if s == "post" else 0.0
            row[o] = (5.0 + shift + gain[j] * latent[s] @ loadings[j]
                      + rng.normal(0, sd, n))
        rows.append(pd.DataFrame(row))
    got = tr.replication_transfer(pd.concat(rows, ignore_index=True), loadings, noise_var)
    for j, o in enumerate(tr.OUTCOMES):
        r = got.set_index("readout").loc[o]
        assert r["gain"] == pytest.approx(gain[j], abs=0.02)
        assert r["gain_change"] == pytest.approx(gain[j], abs=0.05)
        assert r["offset_ratio"] == pytest.approx(offset[j], abs=4 * ratio[j] / np.sqrt(n))
        assert np.sqrt(r["change_var_ratio"]) == pytest.approx(ratio[j], rel=0.03)
        assert np.sqrt(r["level_var_ratio"]) == pytest.approx(ratio[j], rel=0.03)


def _kept_scores(rng, n, shift, loadings, shares, gain, noise_var):
    """Synthetic sessions whose scores read the kept loadings ``loadings * shares``."""
    level = rng.normal([1.0, 0.5], [0.6, 0.4], (n, 2))
    latent = {"pre": level, "post": level + shift + rng.normal(0.0, [0.3, 0.2], (n, 2))}
    rows = []
    for s in ("pre", "post"):
        row = {"participant_id": np.arange(n), "session": s,
               "nociceptive": latent[s][:, 0], "modulatory": latent[s][:, 1]}
        for j, o in enumerate(tr.OUTCOMES):
            row[o] = (5.0 + gain * latent[s] @ (loadings[j] * shares[j])
                      + rng.normal(0, np.sqrt(noise_var[j]), n))
        rows.append(pd.DataFrame(row))
    return pd.concat(rows, ignore_index=True)


def test_over_the_kept_loadings_the_offset_does_not_move_with_the_planting():
    """Issue #23's cause and its fix, on synthetic scores: when the mask keeps different
    shares of a signature's two loadings (SIIPS1 on the 15 mm grid: most of its modulatory
    loading, a negative share of its nociceptive one), one gain over the whole loadings
    leaves an offset that moves with how the planted change divides between the latent
    responses; over the kept loadings the offset is 0 (within 4 SE) for any planting."""
    n = 20000
    loadings = np.array([[2.0, 0.3], [0.4, 1.5]])
    shares = np.array([[1.0, 1.0], [-0.5, 0.8]])
    noise_var = np.array([0.8, 0.4])
    kept = loadings * shares
    se = 4 * 1.0 / np.sqrt(n)
    offsets = {}
    for name, shift in {"nociceptive": [0.4, 0.0], "modulatory": [0.0, 0.4]}.items():
        scores = _kept_scores(np.random.default_rng(5), n, np.array(shift), loadings, shares,
                              0.9, noise_var)
        new = tr.replication_transfer(scores, kept, noise_var).set_index("readout")
        old = tr.replication_transfer(scores, loadings, noise_var).set_index("readout")
        for o in tr.OUTCOMES:
            assert new.loc[o, "offset_ratio"] == pytest.approx(0.0, abs=se), (name, o)
            assert new.loc[o, "gain"] == pytest.approx(0.9, abs=0.02), (name, o)
        offsets[name] = old.loc["siips1", "offset_ratio"]
    assert abs(offsets["nociceptive"] - offsets["modulatory"]) > 5 * se


def test_summarise_gives_means_and_monte_carlo_errors():
    per = pd.DataFrame({"world": "ideal", "readout": "nps", "replication": range(4),
                        "gain": [0.9, 1.1, 1.0, 1.0], "gain_change": [1.0] * 4,
                        "offset_ratio": [0.0] * 4, "change_var_ratio": [1.0, 1.21, 0.81, 1.0],
                        "level_var_ratio": [1.0] * 4})
    table = tr.summarise(per, "calibration")
    assert list(table.columns) == list(tr.TRANSFER_COLUMNS)
    row = table.iloc[0]
    assert row["gain"] == pytest.approx(1.0)
    assert row["gain_se"] == pytest.approx(np.std([0.9, 1.1, 1.0, 1.0], ddof=1) / 2)
    assert row["change_noise_ratio"] == pytest.approx(np.sqrt(np.mean([1.0, 1.21, 0.81, 1.0])))


def test_transfer_seeds_are_disjoint_from_the_evaluations():
    from mindpain.endtoend.settings import replication_seed

    a = {tr.transfer_seed(20220701, r) for r in range(300)}
    b = {replication_seed(20220701, r) for r in range(300)}
    assert len(a) == 300 and not a & b


def test_written_transfer_reads_back_into_the_parameters(tmp_path):
    import tomllib

    table = pd.DataFrame([{"world": w, "readout": o, "grid": "calibration", "replications": 3,
                           "gain": 0.1 + i, "offset_ratio": 1 / 3, "change_noise_ratio": 1.1,
                           "level_noise_ratio": 0.9}
                          for i, (w, o) in enumerate([("ideal", "nps"), ("realistic", "siips1")])])
    path = tr.write_transfer(table, tmp_path / "pipeline_transfer.toml")
    parsed = tomllib.loads(path.read_text())
    assert parsed["ideal"]["nps"]["offset_ratio"] == 1 / 3  # full precision
    assert set(parsed["realistic"]["siips1"]) == set(TRANSFER_FIELDS)


# ---------------------------------------------------------------- planting through it


#: Kept shares like the calibration grid's (SIIPS1 keeps most of its modulatory loading and a
#: negative share of its small nociceptive one).
SHARES = {"nps": {"kept_nociceptive": 0.99, "kept_modulatory": 1.09, "kept_noise": 0.99},
          "siips1": {"kept_nociceptive": -0.46, "kept_modulatory": 0.82, "kept_noise": 0.77}}


def _with_transfer(world: str, gain: float, offset: float, noise: float,
                   shares: bool = True) -> Parameters:
    base = load_parameters("small", world, transfer=False)
    raw = copy.deepcopy(base.raw)
    raw["pipeline"] = {f"{world}_{o}": {"value": {"gain": gain, "offset_ratio": offset,
                                                  "change_noise_ratio": noise,
                                                  "level_noise_ratio": noise,
                                                  **(SHARES[o] if shares else {})},
                                        "status": "derived"} for o in ("nps", "siips1")}
    return Parameters(preset="small", raw=raw, sha256="test", world=world)


@pytest.mark.parametrize("world, gain, offset, noise, shares", [
    ("ideal", 1.0, 0.0, 1.0, False), ("ideal", 0.9, 0.1, 0.8, True),
    ("realistic", 0.7, -0.2, 1.3, True)])
def test_planting_through_the_transfer_makes_the_reported_d_recoverable(world, gain, offset,
                                                                         noise, shares):
    """Through any transfer, the recoverable paper-scale d of every reported contrast is the
    reported d (to floating point), while the model-scale planted effect moves with it."""
    from mindpain.reported import N_COMPLETERS, d_paper, expected_t

    params = _with_transfer(world, gain, offset, noise, shares)
    const = constants_of(params, twin_space(load_parameters("small")))
    for c in REPORTED:
        got = recoverable_d_paper(const, c.outcome, c.contrast, np.nan)
        want = (float(d_paper(expected_t(c), c.df)) if c.kind == "between"
                else expected_t(c) / np.sqrt(N_COMPLETERS["MBSR"]))
        assert got == pytest.approx(want, abs=1e-12)
    if gain != 1.0:
        plain = constants_of(load_parameters("small", world, transfer=False),
                             twin_space(load_parameters("small")))
        k = READOUTS.index("nps")
        assert not np.isclose(const.observed_shift["nps"]["MBSR"],
                              plain.observed_shift["nps"]["MBSR"])
        # the pipeline's change SD: the kept loadings' latent change variance read with the
        # gain, plus the kept noise variance times the noise ratio (independent arithmetic)
        sd = const.pipeline_change_sd["nps"]["HEP"]
        kept = plain.readout[k] * [SHARES["nps"]["kept_nociceptive"],
                                   SHARES["nps"]["kept_modulatory"]]
        latent = kept @ plain.latent_cov("change") @ kept
        ratio = (params["nuisance.arm_change_sd_ratio"].get("HEP", 1.0)
                 if params.realistic else 1.0)
        assert sd ** 2 == pytest.approx(gain ** 2 * ratio ** 2 * latent + noise ** 2 * 2
                                        * SHARES["nps"]["kept_noise"]
                                        * plain.measurement_cov[k, k], rel=1e-12)


def test_parameters_without_transfer_plant_for_the_model_itself():
    params = load_parameters("small", "realistic", transfer=False)
    assert params.transfer("nps") is None
    const = constants_of(params, twin_space(load_parameters("small")))
    assert const.pipeline_transfer == {}
    assert np.isnan(recoverable_d_paper(const, "nps", "MBSR_vs_HEP", -0.4))


def test_each_grid_plants_through_its_own_masks_kept_shares():
    """The measured values are used as measured on every grid (bit for bit); each preset adds
    its own grid's kept shares; a grid without them is refused."""
    from mindpain.twin.params import _transfer_entries

    measured = {"realistic": {"siips1": {"gain": 0.7, "offset_ratio": 0.1,
                                         "change_noise_ratio": 1.1, "level_noise_ratio": 1.2}},
                "grid": {"measured": "calibration"},
                "mask": {"realistic": {"calibration": {"siips1": {
                    "nociceptive": -0.5, "modulatory": 0.8, "noise": 0.75}},
                    "full": {"siips1": {"nociceptive": 1.0, "modulatory": 0.99,
                                        "noise": 1.0}}}}}
    cal = _transfer_entries(measured, "calibration")["realistic_siips1"]["value"]
    assert cal == {"gain": 0.7, "offset_ratio": 0.1, "change_noise_ratio": 1.1,
                   "level_noise_ratio": 1.2, "kept_nociceptive": -0.5,
                   "kept_modulatory": 0.8, "kept_noise": 0.75}
    full = _transfer_entries(measured, "full")["realistic_siips1"]["value"]
    assert full["gain"] == 0.7 and full["kept_modulatory"] == 0.99
    with pytest.raises(ValueError, match=r"mask\.realistic\.small\.siips1"):
        _transfer_entries(measured, "small")
    assert pipeline_loading(np.array([2.0, 1.0]), cal).tolist() == [-1.0, 0.8]


def test_the_committed_transfer_plants_every_preset():
    """Every preset's parameters carry the committed transfer: the table's values bit for bit
    and its own grid's kept shares (read here from the table and the twin's file directly,
    not through the loader)."""
    import tomllib
    from importlib import resources

    from mindpain.core.config import PRECOMPUTED_DIR
    from mindpain.core.vocabulary import PRESETS, WORLDS
    from mindpain.twin.params import TRANSFER_FILE

    table = pd.read_csv(PRECOMPUTED_DIR / tr.TRANSFER_TABLE, sep="\t").set_index(
        ["world", "readout"])
    raw = tomllib.loads(resources.files("mindpain.twin").joinpath(TRANSFER_FILE).read_text())
    assert set(table["grid"]) == {raw["grid"]["measured"]}
    assert set(table.index) == {(w, o) for w in WORLDS for o in endtoend.OUTCOMES}
    for preset in PRESETS:
        for world in WORLDS:
            params = load_parameters(preset, world)
            for readout in endtoend.OUTCOMES:
                got, row = params.transfer(readout), table.loc[(world, readout)]
                for field in TRANSFER_FIELDS:
                    assert got[field] == row[field], (preset, world, readout, field)
                for part in KEPT_PARTS:
                    assert got[f"kept_{part}"] == raw["mask"][world][preset][readout][part]


def test_kept_shares_reproduce_the_loadings_inside_the_analysis_mask():
    """The shares times the whole-mask loadings are the loadings of the weights inside the
    analysis mask, and the noise share their noise variance (small preset, ideal world)."""
    from mindpain.endtoend.replication import analysis_mask
    from mindpain.twin.model import derive_constants, readout_space

    masks = tr.mask_ratios(20220701, presets=["small"], worlds=["ideal"])
    shares = tr.measured_shares(masks, "ideal", "small")
    params = load_parameters("small", "ideal", transfer=False)
    keep, _ = analysis_mask(params, 20220701)
    space = twin_space(params)
    seen = constants_of(params, readout_space(
        space.generator, {r: np.where(keep, w, 0.0) for r, w in space.weights.items()}))
    loadings, noise = tr.kept_readout(params, shares)
    rows = [READOUTS.index(o) for o in tr.OUTCOMES]
    np.testing.assert_allclose(loadings, seen.readout[rows], rtol=1e-12)
    np.testing.assert_allclose(noise, np.diag(seen.measurement_cov)[rows], rtol=1e-12)
    assert not np.allclose(loadings, derive_constants(params).readout[rows], rtol=1e-6)
