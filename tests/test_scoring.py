"""Scoring engine: CANlab semantics by hand, properties, real pain21 maps, resampling, bad input."""

from __future__ import annotations

import gzip
import json
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from _scoring_helpers import TINY_AFFINE, TINY_SHAPE, save, shared_pain21, tiny_img
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mindpain import cli, scoring
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import METRICS
from mindpain.signatures import Signature
from mindpain.signatures.surrogates import build_surrogate

SURROGATES = ("nps-surrogate", "siips1-surrogate")
HYPO = settings(max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

# Seven voxels of a tiny image: x (data) and w (weights) as in the hand computation below.
X7 = [1.0, 2.0, 4.0, np.nan, 0.0, 3.0, 5.0]
W7 = [1.0, -1.0, 2.0, 2.0, 5.0, 0.0, np.nan]
# pattern = first five voxels (w != 0, finite); with data = first three: x=[1,2,4], w=[1,-1,2]
DOT7 = 1 - 2 + 8
COS7 = 7 / np.sqrt(21 * 6)
COR7 = 0.5  # centred: dx=[-4,-1,5]/3, dw=[1,-5,4]/3, sum dxdw=21/9, sum dx2 = sum dw2 = 42/9


def tiny_pair(x_values, w_values):
    """Place values at the first voxels (C order) of two tiny 7x7x5 volumes, 0 elsewhere."""
    x = np.zeros(int(np.prod(TINY_SHAPE)))
    w = np.zeros_like(x)
    x[: len(x_values)] = x_values
    w[: len(w_values)] = w_values
    return x.reshape(TINY_SHAPE), w.reshape(TINY_SHAPE)


def custom(w, labels=None, regions=None, name="tiny"):
    return Signature(name=name, label=name, is_surrogate=False, weights=tiny_img(w),
                     labels=None if labels is None else tiny_img(labels), regions=regions)


# ------------------------------------------------------------------ hand-computed cases

@pytest.mark.parametrize(("metric", "expected"), [("dot", DOT7), ("cosine", COS7),
                                                  ("correlation", COR7)])
def test_hand_computed_metrics(metric, expected):
    x, w = tiny_pair(X7, W7)
    assert scoring.pattern_response(x, w, metric) == pytest.approx(expected, rel=1e-12)
    table = scoring.score_maps([tiny_img(x)], [custom(w)], metrics=metric)
    assert table["response"].iloc[0] == pytest.approx(expected, rel=1e-6)


def test_image_zero_and_nan_are_missing_image_by_image():
    x1, w = tiny_pair([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    x2, _ = tiny_pair([1.0, np.nan, 3.0], [1.0, 1.0, 1.0])
    x3, _ = tiny_pair([1.0, 0.0, 3.0], [1.0, 1.0, 1.0])
    table = scoring.score_maps([tiny_img(x1), tiny_img(x2), tiny_img(x3)], [custom(w)],
                               metrics="cosine")
    # with voxel 2 missing, |w| shrinks to sqrt(2): cosine of [1,3] with [1,1]
    expected = [6 / np.sqrt(14 * 3), 4 / np.sqrt(10 * 2), 4 / np.sqrt(10 * 2)]
    np.testing.assert_allclose(table["response"], expected, rtol=1e-6)


def test_signatures_made_and_freed_one_after_another_each_get_their_own_weights():
    # Signatures of one name and no file, each scored and freed before the next is made (a
    # loop over candidate weights): a new image can take a freed image's id, and a cache
    # keyed by id alone gave it the freed one's weights (the test above failed so once in
    # a full run, after the hand-computed cases had scored "tiny" with other weights).
    x, _ = tiny_pair([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    for i in range(24):
        w_values = np.zeros(3)
        w_values[i % 3] = 1.0 + i
        _, w = tiny_pair([1.0, 2.0, 3.0], w_values)
        sig = custom(w)
        table = scoring.score_maps([tiny_img(x)], [sig], metrics="dot")
        assert table["response"].iloc[0] == pytest.approx((1.0 + i) * (1 + i % 3)), i
        del sig, table


def test_the_plan_cache_keeps_the_images_it_was_made_from():
    # What makes an id safe as a key: while an entry is kept, its weights image is alive,
    # so no other image can have its id.
    import gc
    import weakref

    x, w = tiny_pair([1.0, 2.0, 3.0], [1.0, 0.0, 2.0])
    sig = custom(w, name="kept")
    image = weakref.ref(sig.weights)
    scoring.score_maps([tiny_img(x)], [sig], metrics="dot")
    del sig
    gc.collect()
    assert image() is not None


def test_weights_zero_or_nan_are_outside_the_pattern():
    # data outside the pattern (w = 0 or NaN) must not enter |x|
    x, w = tiny_pair([1.0, 1.0, 7.0, 9.0], [1.0, 1.0, 0.0, np.nan])
    assert scoring.pattern_response(x, w, "cosine") == pytest.approx(1.0)
    assert scoring.pattern_response(x, w, "dot") == pytest.approx(2.0)


def test_zero_norm_gives_zero_cosine_and_nan_correlation():
    x, w = tiny_pair([0.0, np.nan, 0.0, 5.0], [1.0, 2.0, 3.0, 0.0])
    assert scoring.pattern_response(x, w, "cosine") == 0.0
    assert scoring.pattern_response(x, w, "dot") == 0.0
    assert np.isnan(scoring.pattern_response(x, w, "correlation"))


def test_score_maps_table_shape_and_entities(tmp_path):
    x, w = tiny_pair(X7, W7)
    p1 = save(tiny_img(x), tmp_path / "sub-01_ses-pre_task-heat_contrast-hotVsWarm_stat-effect_"
                                      "statmap.nii.gz")
    p2 = save(tiny_img(x), tmp_path / "study_A.nii")
    table = scoring.score_maps([p1, p2], [custom(w)], metrics=("dot", "cosine"))
    assert list(table.columns) == ["participant_id", "session", "task", "contrast", "stat",
                                   *scoring.COLUMNS[2:]]
    assert table["task"].tolist()[:2] == ["heat", "heat"] and table["task"].isna()[2:].all()
    assert table["stat"].tolist()[0] == "effect" and table["contrast"].tolist()[0] == "hotVsWarm"
    assert table["path"].tolist() == [str(p1)] * 2 + [str(p2)] * 2
    assert table["map"].tolist()[2] == "study_A.nii"
    assert (table["n_voxels"] == 3).all()  # pattern = 5 voxels, 3 with data
    assert table["participant_id"].tolist() == ["sub-01", "sub-01", "study_A", "study_A"]
    assert table["session"].tolist()[:2] == ["pre", "pre"] and table["session"].isna()[2:].all()
    assert table["condition"].tolist()[0] == "hotVsWarm"
    assert table["region"].eq("whole").all()
    assert table["metric"].tolist() == ["dot", "cosine", "dot", "cosine"]


# ------------------------------------------------------------------ properties

finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, width=32)


@HYPO
@given(st.integers(0, 2**32 - 1), finite, finite)
def test_dot_is_linear_in_the_image(seed, a, b):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=TINY_SHAPE) * (rng.random(TINY_SHAPE) < 0.5)
    x, y = rng.normal(size=(2,) + TINY_SHAPE)
    x[rng.random(TINY_SHAPE) < 0.2] = 0.0  # missing voxels contribute nothing either way
    lhs = scoring.pattern_response(a * x + b * y, w)
    rhs = a * scoring.pattern_response(x, w) + b * scoring.pattern_response(y, w)
    assert lhs == pytest.approx(rhs, rel=1e-9, abs=1e-6 * (abs(a) + abs(b) + 1))


@HYPO
@given(st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_subregions_add_up_to_the_whole(seed, n_regions):
    rng = np.random.default_rng(seed)
    w = rng.normal(size=TINY_SHAPE) * (rng.random(TINY_SHAPE) < 0.6)
    labels = np.where(w != 0, rng.integers(1, n_regions + 1, TINY_SHAPE), 0)
    regions = pd.DataFrame({"label": np.arange(1, n_regions + 1),
                            "region": [f"r{k}" for k in range(1, n_regions + 1)],
                            "sign": 1})
    x = rng.normal(size=(3,) + TINY_SHAPE)
    x[rng.random(x.shape) < 0.2] = np.nan
    imgs = [tiny_img(v) for v in x]
    table = scoring.score_maps(imgs, [custom(w, labels, regions)], subregions=True,
                               chunk_size=2)
    whole = table[table["region"] == "whole"].set_index("participant_id")["response"]
    parts = table[table["region"] != "whole"].groupby("participant_id")["response"].sum()
    np.testing.assert_allclose(parts[whole.index], whole, rtol=1e-9, atol=1e-9)


def test_subregions_add_up_on_surrogates(rng):
    img = tiny_img(rng.normal(size=(91, 109, 91)), build_surrogate("nps-surrogate").weights.affine)
    table = scoring.score_maps([img], ["nps-surrogate-pos", "nps-surrogate-neg",
                                       "nps-surrogate"], subregions=True)
    whole = table[table["region"] == "whole"].set_index("signature")["response"]
    parts = table[table["region"] != "whole"].groupby("signature")["response"].sum()
    np.testing.assert_allclose(parts[whole.index], whole, rtol=1e-9)
    assert whole["nps-surrogate-pos"] + whole["nps-surrogate-neg"] == pytest.approx(
        whole["nps-surrogate"], rel=1e-9)


# ------------------------------------------------------------------ real maps

def reference_metrics(x, w):
    """Independent plain-numpy CANlab semantics for one image and one weight array."""
    x = x.astype(np.float64).ravel()
    w = np.nan_to_num(w.astype(np.float64).ravel())
    use = (w != 0) & np.isfinite(x) & (x != 0)
    xv, wv = x[use], w[use]
    dot = float(xv @ wv)
    cos = dot / (np.linalg.norm(xv) * np.linalg.norm(wv))
    cor = float(np.corrcoef(xv, wv)[0, 1])
    return {"dot": dot, "cosine": cos, "correlation": cor}


@pytest.fixture(scope="module")
def pain21_scores():
    folder = shared_pain21()
    maps = sorted(folder.glob("contrast_pain_*.nii.gz"))
    table = scoring.score_maps(maps, list(SURROGATES), metrics=METRICS)
    return maps, table


def test_pain21_matches_independent_numpy(pain21_scores):
    maps, table = pain21_scores
    assert len(maps) == 21
    table = table.set_index(["map", "signature", "metric"])["response"]
    for name in SURROGATES:
        w = np.asarray(build_surrogate(name).weights.dataobj)
        for path in maps:
            x = nib.load(path).get_fdata()
            for metric, value in reference_metrics(x, w).items():
                got = table[(path.name, name, metric)]
                assert got == pytest.approx(value, rel=1e-6, abs=1e-12), (path.name, name,
                                                                           metric)


def test_resampling_weights_2mm_to_data_3mm(pain21_scores):
    from nilearn.image import resample_img

    from mindpain.core.images import mni_grid

    maps, _ = pain21_scores
    shape3, affine3 = mni_grid(3.0)
    weights = build_surrogate("siips1-surrogate").weights
    kw = dict(target_affine=affine3, target_shape=shape3, interpolation="linear",
              force_resample=True, copy_header=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data3 = resample_img(nib.load(maps[4]), **kw)
        w3 = np.nan_to_num(np.asarray(resample_img(weights, **kw).dataobj, float))
    with pytest.warns(scoring.ResamplingWarning, match="weights of 'siips1-surrogate' resampled"):
        table = scoring.score_maps([data3], ["siips1-surrogate"], metrics=METRICS,
                                   subregions=True)
    expected = reference_metrics(np.asarray(data3.dataobj), w3)
    whole = table[table["region"] == "whole"].set_index("metric")["response"]
    for metric, value in expected.items():
        assert whole[metric] == pytest.approx(value, rel=1e-6)
    dots = table[table["metric"] == "dot"]
    assert dots.loc[dots["region"] != "whole", "response"].sum() == pytest.approx(
        whole["dot"], rel=1e-9)

    # the other direction: the 3 mm map resampled to the weights' 2 mm grid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = resample_img(data3, target_affine=weights.affine, target_shape=weights.shape,
                            interpolation="linear", force_resample=True, copy_header=True)
        table = scoring.score_maps([data3], ["siips1-surrogate"], metrics=METRICS,
                                   resample="data-to-weights")
    expected = reference_metrics(np.nan_to_num(np.asarray(back.dataobj)),
                                 np.asarray(weights.dataobj))
    got = table.set_index("metric")["response"]
    for metric, value in expected.items():
        assert got[metric] == pytest.approx(value, rel=1e-6)


# ------------------------------------------------------------------ bad input

def test_an_infinite_value_is_refused_on_either_resampling_direction(tiny_set, tmp_path):
    """Infinite voxels are refused whether the map is read on its own grid or resampled
    to the weights' (resampling used to zero it silently, #26)."""
    wpath, _, rng = tiny_set
    data = rng.normal(size=TINY_SHAPE)
    data[2:5, 2:5, 1:4] = np.inf  # a block: surely inside the weights' pattern
    shifted = TINY_AFFINE.copy()
    shifted[:3, 3] = 0.7  # another grid: the map is resampled
    for affine, direction in ((TINY_AFFINE, "weights-to-data"),
                              (shifted, "data-to-weights")):
        bad = save(tiny_img(data, affine), tmp_path / f"sub-01_{direction}.nii.gz")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(MindpainError, match="infinite"):
                scoring.score_maps([bad], [str(wpath)], resample=direction)


@pytest.fixture
def tiny_set(tmp_path, rng):
    """A tiny weight map (as a file) and a good map on its grid."""
    w = rng.normal(size=TINY_SHAPE) * (rng.random(TINY_SHAPE) < 0.5)
    wpath = save(tiny_img(w), tmp_path / "weights.nii.gz")
    good = save(tiny_img(rng.normal(size=TINY_SHAPE)), tmp_path / "sub-01_good.nii.gz")
    return wpath, good, rng


def one_line_error(maps, sig, match):
    with pytest.raises(MindpainError) as err:
        scoring.score_maps(maps, [str(sig)])
    msg = str(err.value)
    assert "\n" not in msg, msg
    assert msg.startswith(str(maps[-1])), msg
    assert match in msg, msg
    return msg


def test_corrupt_file(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    bad = tmp_path / "corrupt.nii.gz"
    bad.write_bytes(rng.bytes(2000))
    one_line_error([bad], wpath, "cannot be read as NIfTI")


def test_truncated_file(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    bad = tmp_path / "truncated.nii.gz"
    raw = gzip.compress(tiny_img(rng.normal(size=TINY_SHAPE)).to_bytes())
    bad.write_bytes(raw[: len(raw) // 2])
    one_line_error([bad], wpath, "truncated")
    # a bigger file cut inside its data: the header reads, the data do not
    big = tiny_img(rng.normal(size=(30, 30, 30)))
    raw = gzip.compress(big.to_bytes())
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MindpainError, match="truncated"):
        scoring.read_map(bad)


def test_4d_refused_single_volume_squeezed(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    data = rng.normal(size=TINY_SHAPE + (3,))
    bad = save(tiny_img(data), tmp_path / "fourd.nii.gz")
    one_line_error([bad], wpath, "4-D with 3 volumes; expected one 3-D map")
    single = save(tiny_img(data[..., :1]), tmp_path / "single.nii.gz")
    flat = save(tiny_img(data[..., 0]), tmp_path / "flat.nii.gz")
    table = scoring.score_maps([single, flat], [str(wpath)])
    assert table["response"].iloc[0] == pytest.approx(table["response"].iloc[1])


def test_all_nan_and_all_zero(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    nan = save(tiny_img(np.full(TINY_SHAPE, np.nan)), tmp_path / "allnan.nii.gz")
    one_line_error([nan], wpath, "has no data")
    zero = save(tiny_img(np.zeros(TINY_SHAPE)), tmp_path / "allzero.nii.gz")
    one_line_error([zero], wpath, "has no data")


def test_other_grid_resampled_with_warning(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    other = save(tiny_img(rng.normal(size=(5, 5, 4)), np.diag([3.0, 3.0, 3.0, 1.0])),
                 tmp_path / "coarse.nii.gz")
    with pytest.warns(scoring.ResamplingWarning, match="coarse.nii.gz"):
        table = scoring.score_maps([other], [str(wpath)])
    assert np.isfinite(table["response"]).all()


def test_no_overlap_refused(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    far = TINY_AFFINE.copy()
    far[:3, 3] = 500.0
    bad = save(tiny_img(rng.normal(size=TINY_SHAPE), far), tmp_path / "elsewhere.nii.gz")
    one_line_error([bad], wpath, "does not overlap the weights of signature 'weights'")


def test_missing_file(tiny_set, tmp_path):
    wpath, good, rng = tiny_set
    one_line_error([tmp_path / "absent.nii.gz"], wpath, "file not found")


def test_batch_reports_every_bad_file_and_writes_nothing(tiny_set, tmp_path, capsys):
    wpath, good, rng = tiny_set
    bad1 = tmp_path / "corrupt.nii.gz"
    bad1.write_bytes(b"not an image at all")
    bad2 = save(tiny_img(np.zeros(TINY_SHAPE)), tmp_path / "allzero.nii.gz")
    out = tmp_path / "out" / "scores.tsv"
    code = cli.main(["score", str(good), str(bad1), str(bad2), "--signature", str(wpath),
                     "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "2 of 3 maps are bad" in err[0]
    assert err[1].startswith(str(bad1)) and err[2].startswith(str(bad2))
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert not out.parent.exists() or not any(out.parent.iterdir())


def test_cli_unknown_signature_exit_2(tiny_set, tmp_path, capsys):
    wpath, good, rng = tiny_set
    code = cli.main(["score", str(good), "--signature", "nope", "--out",
                     str(tmp_path / "s.tsv")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "unknown signature 'nope'" in err


def test_cli_checksum_mismatch_exit_2(tiny_set, tmp_path, monkeypatch, capsys):
    from mindpain import signatures as sg

    wpath, good, rng = tiny_set
    data = tmp_path / "data"
    path = sg.fetch_siips1(data, url=wpath.as_uri())
    save(tiny_img(rng.normal(size=TINY_SHAPE)), path)  # the file changes after the fetch
    monkeypatch.setenv("MINDPAIN_DATA", str(data))
    code = cli.main(["score", str(good), "--signature", "siips1", "--out",
                     str(tmp_path / "s.tsv")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert str(path) in err and "sha256" in err


def test_cli_writes_table_and_sidecar(tiny_set, tmp_path, capsys):
    wpath, good, rng = tiny_set
    out = tmp_path / "scores.tsv"
    code = cli.main(["score", str(good), "--signature", str(wpath), "--signature",
                     "siips1-surrogate", "--metric", "cosine", "--subregions", "--out",
                     str(out)])
    assert code == 0
    # the tiny grid is not the surrogate's: one warning line, saying how the grids differ
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("mindpain score: warning: ")
    assert "grid 7x7x5, 2x2x2 mm, origin (0,0,0) mm differs" in err[0]
    table = pd.read_csv(out, sep="\t", na_values="n/a")
    assert list(table.columns) == ["participant_id", "session", *scoring.COLUMNS[2:]]
    assert set(table["signature"]) == {"weights", "siips1-surrogate"}
    assert (table["metric"] == "cosine").all()
    sidecar = json.loads(out.with_suffix(".json").read_text())
    settings_ = sidecar["Settings"]
    assert settings_["metrics"] == ["cosine"] and settings_["resampling"] == "weights-to-data"
    assert [s["is_surrogate"] for s in settings_["signatures"]] == [False, True]
    assert all(len(s["sha256"]) == 64 for s in settings_["signatures"])
    assert settings_["mindpain_version"]
    assert set(scoring.COLUMNS) <= set(sidecar)


def test_a_maps_score_does_not_depend_on_its_batch(pain21_scores):
    """Scored alone, in a short chunk or among all 21 maps: the same bits (issue #26)."""
    maps, table = pain21_scores
    key = ["map", "signature", "metric"]
    full = table.set_index(key)["response"]
    for batch in ([maps[0]], maps[3:6], [maps[-1], maps[7]]):
        part = scoring.score_maps(batch, list(SURROGATES), metrics=METRICS).set_index(key)
        np.testing.assert_array_equal(part["response"].to_numpy(),
                                      full.loc[part.index].to_numpy())


def test_threads_and_chunks_do_not_change_results(pain21_scores):
    maps, table = pain21_scores
    again = scoring.score_maps(maps, list(SURROGATES), metrics=METRICS, n_jobs=2,
                               chunk_size=5)
    pd.testing.assert_frame_equal(again, table)
