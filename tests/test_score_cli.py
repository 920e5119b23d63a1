"""``mindpain score`` as a user runs it: inputs, keys, precision, resume, cache, bad input."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from mindpain import cli, scoring
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import METRICS
from mindpain.scoring import outputs as scoring_outputs
from mindpain.signatures import surrogates

SHAPE = (4, 4, 4)
AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def save(data, path, affine=AFFINE, orient=True):
    img = nib.Nifti1Image(np.asarray(data, np.float32), affine if orient else None)
    if not orient:  # no sform, no qform: only voxel sizes
        img.header.set_zooms((2.0, 2.0, 2.0))
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


@pytest.fixture
def tiny(tmp_path, rng):
    """A tiny signature (weights in a 2x2x2 block) and a helper that writes maps."""
    w = np.zeros(SHAPE)
    w[1:3, 1:3, 1:3] = rng.normal(size=(2, 2, 2))
    sig = save(w, tmp_path / "sig" / "tinysig.nii.gz")

    def make(path, scale=1.0, seed=0):
        x = np.random.default_rng(seed).normal(size=SHAPE) * scale
        return save(x, tmp_path / path)

    return sig, make


def exit_code(argv) -> int:
    """Exit status of ``mindpain`` (argparse may exit via SystemExit or main may return it)."""
    try:
        return cli.main(argv)
    except SystemExit as done:
        return done.code


def run(argv, capsys):
    code = cli.main(["score", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


def exact(text: str) -> float:
    return np.nan if text == "n/a" else float(text)  # Python's float(): correctly rounded


def read(out):
    return pd.read_csv(out, sep="\t", na_values="n/a", keep_default_na=False,
                       converters={"response": exact})


def snapshot(folder):
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ precision and keys

def test_written_response_round_trips_exactly(tiny, tmp_path, capsys):
    sig, make = tiny
    maps = [make(f"m{k}_statmap.nii.gz", scale=10.0 ** k, seed=k + 3) for k in range(-3, 5)]
    out = tmp_path / "scores.tsv"
    code, err = run([*maps, "--signature", sig, "--metric", "dot", "--metric", "cosine",
                     "--metric", "correlation", "--out", out], capsys)
    assert code == 0, err
    written = read(out)
    memory = scoring.score_maps(maps, [str(sig)], metrics=METRICS)
    assert len(written) == len(memory) == 24
    # bit-for-bit: the text is the shortest repr of each float64
    np.testing.assert_array_equal(written["response"].to_numpy(), memory["response"].to_numpy())
    lines = out.read_text().splitlines()[1:]
    col = list(written.columns).index("response")
    assert [line.split("\t")[col] for line in lines] == [repr(float(v)) for v in
                                                         memory["response"]]


def test_same_file_name_in_two_folders_gives_distinct_rows(tiny, tmp_path, capsys):
    sig, make = tiny
    name = "sub-01_ses-pre_task-heat_contrast-hotVsWarm_stat-effect_statmap.nii.gz"
    a, b = make(f"siteA/{name}", seed=1), make(f"siteB/{name}", seed=2)
    out = tmp_path / "scores.tsv"
    code, err = run([a, b, "--signature", sig, "--out", out], capsys)
    assert code == 0, err
    table = read(out)
    assert table["path"].tolist() == [str(a), str(b)]
    assert not table.duplicated(["path", "signature", "metric", "region"]).any()
    assert table["response"].nunique() == 2


def test_effect_variance_z_of_one_run_have_distinct_keys(tiny, tmp_path):
    sig, make = tiny
    stem = "sub-01_ses-pre_task-heat_acq-mb_run-2_contrast-hotVsWarm"
    maps = [make(f"d/{stem}_stat-{s}_statmap.nii.gz", seed=k)
            for k, s in enumerate(("effect", "variance", "z"))]
    table = scoring.score_maps(maps, [str(sig)])
    keys = ["participant_id", "session", "task", "acq", "run", "contrast", "stat"]
    assert list(table.columns[:len(keys)]) == keys
    assert table["stat"].tolist() == ["effect", "variance", "z"]
    assert (table["run"] == "2").all() and (table["acq"] == "mb").all()
    assert not table.duplicated(keys + ["signature", "metric", "region"]).any()


def test_same_path_twice_is_refused(tiny):
    sig, make = tiny
    m = make("a_statmap.nii.gz")
    with pytest.raises(MindpainError, match="given twice"):
        scoring.score_maps([m, str(m)], [str(sig)])


# ------------------------------------------------------------------ inputs

def test_30000_paths_from_file(tiny, tmp_path, capsys):
    sig, make = tiny
    sources = [save(np.random.default_rng(k).normal(size=SHAPE), tmp_path / f"src{k}.nii")
               for k in range(3)]
    folder = tmp_path / "many"
    folder.mkdir()
    paths = []
    for k in range(30_000):
        path = folder / f"sub-{k:05d}_stat-effect_statmap.nii"
        os.symlink(sources[k % 3], path)
        paths.append(str(path))
    listing = tmp_path / "maps.txt"
    listing.write_text("\n".join(paths) + "\n\n")
    out = tmp_path / "scores.tsv"
    code, err = run(["--from-file", listing, "--signature", sig, "--quiet", "--out", out],
                    capsys)
    assert code == 0, err
    table = read(out)
    assert len(table) == 30_000 and table["path"].tolist() == paths
    expected = scoring.score_maps(sources, [str(sig)])["response"].to_numpy()
    np.testing.assert_array_equal(table["response"].to_numpy(), np.tile(expected, 10_000))
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["Settings"]["n_maps"] == 30_000


def test_from_file_on_stdin(tiny, tmp_path, capsys, monkeypatch):
    sig, make = tiny
    maps = [make(f"sub-0{k}_statmap.nii.gz", seed=k) for k in range(1, 3)]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(map(str, maps)) + "\n"))
    out = tmp_path / "scores.tsv"
    code, err = run(["--from-file", "-", "--signature", sig, "--out", out], capsys)
    assert code == 0, err
    assert read(out)["participant_id"].tolist() == ["sub-01", "sub-02"]


def test_bids_derivatives_selects_by_entities(tiny, tmp_path, capsys):
    sig, make = tiny
    deriv = tmp_path / "derivatives" / "mindpain"
    chosen = []
    for sub in ("01", "02"):
        for stat in ("effect", "z"):
            base = f"sub-{sub}/ses-pre/func/sub-{sub}_ses-pre_task-heat"
            path = make(f"derivatives/mindpain/{base}_contrast-hotVsWarm_stat-{stat}_statmap"
                        ".nii.gz")
            make(f"derivatives/mindpain/{base}_run-1_contrast-hotVsWarm_stat-{stat}_statmap"
                 ".nii.gz")
            if stat == "effect":
                chosen.append(path)
    make("derivatives/mindpain/.hidden/sub-09_contrast-hotVsWarm_stat-effect_statmap.nii.gz")
    found = scoring.find_statmaps(deriv, scoring.parse_entity_filters(
        ["contrast=hotVsWarm", "stat=effect"]))
    assert len(found) == 4 and all("_stat-effect_" in p.name for p in found)
    assert not any(".hidden" in str(p) for p in found)
    out = tmp_path / "scores.tsv"
    code, err = run(["--bids-derivatives", deriv, "--entities", "contrast=hotVsWarm",
                     "stat=effect", "--signature", sig, "--out", out], capsys)
    assert code == 0, err
    table = read(out)
    assert len(table) == 4 and set(table["stat"]) == {"effect"}
    assert set(table["path"][table["run"].isna()]) == set(map(str, chosen))
    code, err = run(["--bids-derivatives", deriv, "--entities", "contrast=nope",
                     "--signature", sig, "--out", tmp_path / "none.tsv"], capsys)
    assert code == 2 and len(err) == 1 and "no *_statmap.nii[.gz] map matches" in err[0]


# ------------------------------------------------------------------ surrogate cache

def cached_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_surrogate_cache_hit_stale_and_corrupt(tmp_path, monkeypatch):
    name = "siips1-surrogate"
    built = surrogates.build_surrogate(name)
    surrogates._load_cached.cache_clear()
    first = surrogates.load_surrogate(name, tmp_path)
    npz = [p for p in tmp_path.iterdir() if p.suffix == ".npz"]
    assert len(npz) == 1 and npz[0].name.startswith(surrogates.CACHE_PREFIX + name)

    def same(a, b):
        np.testing.assert_array_equal(np.asarray(a.weights.dataobj), np.asarray(b.weights.dataobj))
        np.testing.assert_array_equal(np.asarray(a.labels.dataobj), np.asarray(b.labels.dataobj))
        np.testing.assert_array_equal(a.weights.affine, b.weights.affine)
        pd.testing.assert_frame_equal(a.regions, b.regions)

    same(first, built)
    # hit: a new process (cache of this one cleared) reads the file, never builds
    surrogates._load_cached.cache_clear()
    monkeypatch.setattr(surrogates, "build_surrogate", lambda n: pytest.fail("rebuilt"))
    same(surrogates.load_surrogate(name, tmp_path), built)
    monkeypatch.undo()
    # corrupt: one byte changed -> warning, rebuilt, file replaced by a good one
    raw = bytearray(npz[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    npz[0].write_bytes(bytes(raw))
    surrogates._load_cached.cache_clear()
    with pytest.warns(surrogates.SurrogateCacheWarning, match="sha256"):
        same(surrogates.load_surrogate(name, tmp_path), built)
    surrogates._load_cached.cache_clear()
    same(surrogates.load_surrogate(name, tmp_path), built)
    # stale: another key (parameters/code changed) -> a new entry, the old one removed
    before = cached_files(tmp_path)
    monkeypatch.setattr(surrogates, "cache_key", lambda n: "f" * 64)
    surrogates._load_cached.cache_clear()
    same(surrogates.load_surrogate(name, tmp_path), built)
    after = cached_files(tmp_path)
    assert after != before and all("ffffffffffffffff" in f for f in after) and len(after) == 2
    surrogates._load_cached.cache_clear()


def test_cache_key_changes_with_parameters(monkeypatch):
    key = surrogates.cache_key("nps-surrogate")
    assert key != surrogates.cache_key("siips1-surrogate")
    monkeypatch.setattr(surrogates, "SURROGATE_VERSION", "test")
    assert surrogates.cache_key("nps-surrogate") != key


def test_warm_cache_process_imports_no_scikit_learn(tmp_path):
    env = {**os.environ, "MINDPAIN_WORK": str(tmp_path)}
    for name in surrogates.SURROGATE_NAMES:  # warm the cache that process will use
        surrogates.load_surrogate(name, tmp_path / "cache" / "surrogates")
    code = ("import sys; from mindpain.core.config import get_config; "
            "from mindpain.signatures import get_signature; cfg = get_config(); "
            "[get_signature(n, cfg.data_dir, cfg.surrogate_cache_dir) "
            "for n in ('nps-surrogate', 'siips1-surrogate')]; "
            "print(sorted(m for m in ('sklearn', 'nilearn', 'scipy.ndimage') if m in "
            "sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True)
    assert run.stdout.strip() == "[]", run.stdout  # read from the cache, nothing built


# ------------------------------------------------------------------ resume

def test_resume_skips_finished_blocks(tiny, tmp_path, capsys, monkeypatch):
    sig, make = tiny
    monkeypatch.setattr(scoring_outputs, "RESUME_BLOCK", 2)
    maps = [make(f"sub-0{k}_statmap.nii.gz", seed=k) for k in range(1, 6)]
    good4 = maps[3].read_bytes()
    maps[3].write_bytes(b"broken")
    out = tmp_path / "scores.tsv"
    code, err = run([*maps, "--signature", sig, "--out", out], capsys)
    assert code == 2 and len(err) == 1 and str(maps[3]) in err[0]
    assert "finished block(s)" in err[0] and "kept" in err[0]
    assert not out.exists() and not out.with_suffix(".json").exists()
    partial = tmp_path / f".{out.name}.mindpain-score-partial"
    assert sorted(p.name for p in partial.iterdir()) == [
        "batch.json", "block-000000.json", "block-000000.tsv", "block-000002.json",
        "block-000002.tsv"]
    maps[3].write_bytes(good4)
    scored = []
    real = scoring_outputs.score_block

    def counting(items, *args):
        scored.extend(items)
        return real(items, *args)

    monkeypatch.setattr(scoring_outputs, "score_block", counting)
    code, err = run([*maps, "--signature", sig, "--out", out], capsys)
    assert code == 0, err
    assert scored == [str(maps[2]), str(maps[3])]  # only the block that had failed
    assert not partial.exists()
    fresh = tmp_path / "fresh.tsv"
    assert run([*maps, "--signature", sig, "--out", fresh], capsys)[0] == 0
    assert out.read_bytes() == fresh.read_bytes()


def test_resume_ignores_blocks_of_changed_maps_or_settings(tiny, tmp_path, capsys, monkeypatch):
    sig, make = tiny
    monkeypatch.setattr(scoring_outputs, "RESUME_BLOCK", 2)
    maps = [make(f"sub-0{k}_statmap.nii.gz", seed=k) for k in range(1, 4)]
    maps[2].write_bytes(b"broken")
    out = tmp_path / "scores.tsv"
    assert run([*maps, "--signature", sig, "--out", out], capsys)[0] == 2
    make("sub-01_statmap.nii.gz", seed=99)  # a kept block's map changed since
    save(np.random.default_rng(3).normal(size=SHAPE), maps[2])
    assert run([*maps, "--signature", sig, "--out", out], capsys)[0] == 0
    expected = scoring.score_maps(maps, [str(sig)])["response"].to_numpy()
    np.testing.assert_array_equal(read(out)["response"].to_numpy(), expected)


def test_foreign_folder_with_the_resume_name_is_refused(tiny, tmp_path, capsys):
    sig, make = tiny
    out = tmp_path / "scores.tsv"
    foreign = tmp_path / f".{out.name}.mindpain-score-partial"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("mine")
    code, err = run([make("a_statmap.nii.gz"), "--signature", sig, "--out", out], capsys)
    assert code == 2 and len(err) == 1 and "is in the way" in err[0]
    assert (foreign / "thesis.txt").read_text() == "mine"


# ------------------------------------------------------------------ issue 13: bad input

def test_unrelated_json_beside_out_is_never_replaced(tiny, tmp_path, capsys):
    sig, make = tiny
    out = tmp_path / "results.tsv"
    out.with_suffix(".json").write_text('{"my": "notes"}')
    code, err = run([make("a_statmap.nii.gz"), "--signature", sig, "--out", out], capsys)
    assert code == 2 and len(err) == 1 and "results.json" in err[0]
    assert "not written by mindpain" in err[0]
    assert out.with_suffix(".json").read_text() == '{"my": "notes"}' and not out.exists()


def test_unrelated_tsv_is_never_replaced_but_our_own_is(tiny, tmp_path, capsys):
    sig, make = tiny
    m = make("a_statmap.nii.gz")
    out = tmp_path / "results.tsv"
    out.write_text("my\ttable\n")
    code, err = run([m, "--signature", sig, "--out", out], capsys)
    assert code == 2 and len(err) == 1 and out.read_text() == "my\ttable\n"
    out.unlink()
    assert run([m, "--signature", sig, "--out", out], capsys)[0] == 0
    first = out.read_bytes()
    assert run([m, "--signature", sig, "--metric", "cosine", "--out", out], capsys)[0] == 0
    assert out.read_bytes() != first  # our own table is replaced (idempotent re-runs)
    assert scoring.is_scores_sidecar(out.with_suffix(".json"))


@pytest.mark.parametrize("where", ["file_parent", "folder", "proc"])
def test_unwritable_out_fails_before_scoring(tiny, tmp_path, capsys, monkeypatch, where):
    sig, make = tiny
    m = make("a_statmap.nii.gz")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir.tsv").mkdir()
    out = {"file_parent": tmp_path / "afile" / "s.tsv", "folder": tmp_path / "adir.tsv",
           "proc": "/proc/mindpain-test/s.tsv"}[where]
    monkeypatch.setattr(scoring_outputs, "score_block", lambda *a: pytest.fail("scored first"))
    before = snapshot(tmp_path)
    code, err = run([m, "--signature", sig, "--out", out], capsys)
    assert code == 2 and len(err) == 1, err
    assert snapshot(tmp_path) == before


def test_map_without_orientation_is_refused(tiny, tmp_path, capsys):
    sig, make = tiny
    bad = save(np.ones(SHAPE), tmp_path / "noorient.nii.gz", orient=False)
    assert nib.load(bad).header["sform_code"] == 0 and nib.load(bad).header["qform_code"] == 0
    code, err = run([bad, "--signature", sig, "--out", tmp_path / "s.tsv"], capsys)
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"mindpain score: error: {bad}: has no orientation")


def test_map_with_data_outside_the_pattern_is_flagged(tiny, tmp_path, capsys):
    sig, make = tiny
    x = np.zeros(SHAPE)
    x[0, 0, 0] = x[3, 3, 3] = 5.0  # data only where the weights are 0
    outside = save(x, tmp_path / "outside_statmap.nii.gz")
    inside = make("inside_statmap.nii.gz")
    out = tmp_path / "s.tsv"
    code, err = run([outside, inside, "--signature", sig, "--metric", "dot", "--metric",
                     "cosine", "--out", out], capsys)
    assert code == 0
    assert len(err) == 1 and err[0].startswith("mindpain score: warning: 1 map(s) have no "
                                               "data inside the pattern of signature 'tinysig'")
    table = read(out)
    flagged = table[table["map"] == outside.name]
    assert flagged["response"].isna().all() and (flagged["n_voxels"] == 0).all()
    assert table.loc[table["map"] == inside.name, "n_voxels"].eq(8).all()
    with pytest.warns(scoring.NoPatternDataWarning, match="outside_statmap"):
        scoring.score_maps([outside], [str(sig)])


def test_help_says_signature_repeats_sidecar_and_defaults(capsys):
    assert exit_code(["score", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "repeat the option for several" in text and "JSON sidecar" in text
    for option in ("--resample", "--n-jobs", "--quiet", "--from-file", "--bids-derivatives"):
        assert option in text
    assert "default: weights-to-data" in text and "default: MINDPAIN_N_JOBS, else 1" in text


@pytest.mark.parametrize("value", ["0", "1.5", "two"])
def test_bad_n_jobs_is_a_usage_error(tiny, tmp_path, capsys, value):
    sig, make = tiny
    code = exit_code(["score", str(make("a.nii.gz")), "--signature", str(sig), "--n-jobs",
                      value, "--out", str(tmp_path / "s.tsv")])
    assert code == 2 and "must be a non-zero integer" in capsys.readouterr().err


def test_bad_mindpain_n_jobs_is_one_line(tiny, tmp_path, capsys, monkeypatch):
    sig, make = tiny
    monkeypatch.setenv("MINDPAIN_N_JOBS", "lots")
    code, err = run([make("a.nii.gz"), "--signature", sig, "--out", tmp_path / "s.tsv"],
                    capsys)
    assert code == 2 and len(err) == 1 and "MINDPAIN_N_JOBS" in err[0]


def test_n_jobs_and_resample_are_honoured(tiny, tmp_path, capsys, monkeypatch):
    sig, make = tiny
    seen = {}
    real = scoring_outputs.score_block

    def spy(items, labels, sigs, metrics, subregions, resample, chunk, n_jobs, *rest):
        seen.update(resample=resample, n_jobs=n_jobs)
        return real(items, labels, sigs, metrics, subregions, resample, chunk, n_jobs, *rest)

    monkeypatch.setattr(scoring_outputs, "score_block", spy)
    code, _ = run([make("a.nii.gz"), "--signature", sig, "--n-jobs", "2", "--resample",
                   "data-to-weights", "--quiet", "--out", tmp_path / "s.tsv"], capsys)
    assert code == 0 and seen == {"resample": "data-to-weights", "n_jobs": 2}
