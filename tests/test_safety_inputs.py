"""No input turns into a wrong number (issue #26): one test per class of input problem.

Every case runs the command line in-process and asserts the exit status, the one-line
message naming the input, and the sha256 of every user file before and after. Images are
tiny (4 x 4 x 4 maps; two runs of the small twin for the first level) and seeded.
"""

from __future__ import annotations

import gzip
import json
import shutil
import struct
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from _safety_helpers import hashes, one_line, run_cli

from mindpain.first_level.outputs import session_map_path

SHAPE = (4, 4, 4)
AFFINE = np.array([[-2.0, 0, 0, 4], [0, 2.0, 0, -4], [0, 0, 2.0, -4], [0, 0, 0, 1]])
FUNC = Path("sub-001/ses-pre/func")
STEM = "sub-001_ses-pre_task-heat"


# --------------------------------------------------------------------------- helpers


def _save(data, path: Path, dtype=np.float32, affine=AFFINE) -> Path:
    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), affine)
    img.set_sform(affine, code=4)
    img.set_qform(affine, code=4)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, path)
    return path


def _patch(path: Path, offset: int, fmt: str, *values) -> None:
    """Overwrite header bytes of an uncompressed single-file NIfTI-1."""
    raw = bytearray(path.read_bytes())
    struct.pack_into("<" + fmt, raw, offset, *values)
    path.write_bytes(bytes(raw))


@pytest.fixture
def user(tmp_path, rng):
    """A user's folder: a tiny signature (weights in a block), a map, and a maker of maps."""
    root = tmp_path / "user"
    w = np.zeros(SHAPE)
    w[1:3, 1:3, 1:3] = rng.normal(size=(2, 2, 2))
    sig = _save(w, root / "sig" / "tinysig.nii")
    x = rng.normal(size=SHAPE)
    good = _save(x, root / "maps" / "sub-01_statmap.nii")
    return {"root": root, "sig": sig, "weights": w, "map": good, "x": x}


def _score(user, maps, capsys, *extra, sig=None):
    out = user["root"].parent / "out" / "scores.tsv"
    out.parent.mkdir(exist_ok=True)
    code, _, err = run_cli(["score", *map(str, maps), "--signature", str(sig or user["sig"]),
                            "--out", str(out), "--quiet", *map(str, extra)], capsys)
    return code, err, out


def _response(out: Path) -> list[float]:
    table = pd.read_csv(out, sep="\t", na_values="n/a", keep_default_na=False)
    return table["response"].tolist()


def _expected(weights, x) -> float:
    """The dot response of a map to weights as both are stored (float32 files)."""
    w = np.asarray(weights, np.float32).astype(np.float64)
    return float(np.sum(w * np.asarray(x, np.float32).astype(np.float64)))


def _refused(user, maps, capsys, expect: str, name: str, *extra, sig=None) -> str:
    """Score, expect exit 2, one line naming ``name`` and containing ``expect``, no output."""
    before = hashes(user["root"])
    code, err, out = _score(user, maps, capsys, *extra, sig=sig)
    line = one_line(err)
    assert code == 2, err
    assert name in line and expect in line, line
    assert not out.exists() and not list(out.parent.iterdir())
    assert hashes(user["root"]) == before
    return line


# --------------------------------------------------------------------------- 1. image check


@pytest.mark.parametrize("case, expect", [
    ("datatype", "cannot be read as NIfTI"),         # a data type code nibabel refuses
    ("singular", "cannot be inverted"),              # an affine with a zero column
    ("slope", "non-finite scaling"),                 # scl_slope = inf
    ("unoriented", "no orientation"),                # sform and qform codes 0
])
def test_score_refuses_a_header_nibabel_or_the_image_check_refuses(user, capsys, case, expect):
    bad = user["map"].with_name("sub-02_statmap.nii")
    shutil.copy(user["map"], bad)
    if case == "datatype":
        _patch(bad, 70, "h", 999)
    elif case == "singular":
        _patch(bad, 296, "4f", 0.0, 0.0, 0.0, -4.0)  # srow_y = 0: no y axis
        _patch(bad, 252, "h", 0)                     # qform_code 0: the sform is used
    elif case == "slope":
        _patch(bad, 112, "f", float("inf"))
    else:
        _patch(bad, 252, "hh", 0, 0)
    _refused(user, [bad], capsys, expect, bad.name)


def test_score_refuses_signature_weights_with_a_singular_affine(user, capsys):
    sig = user["root"] / "sig" / "flat.nii"
    shutil.copy(user["sig"], sig)
    _patch(sig, 312, "4f", 0.0, 0.0, 0.0, -4.0)  # srow_z = 0: no z axis
    _patch(sig, 252, "h", 0)
    _refused(user, [user["map"]], capsys, "cannot be inverted", sig.name, sig=sig)


def test_first_level_refuses_an_unoriented_mask_before_writing(bids, tmp_path):
    from mindpain.core.errors import MindpainError
    from mindpain.first_level.runs import run_first_level

    bold = nib.load(bids / FUNC / f"{STEM}_run-1_bold.nii.gz")
    mask = nib.Nifti1Image(np.ones(bold.shape[:3], np.uint8), None)
    mask.header.set_zooms(bold.header.get_zooms()[:3])
    mask_path = tmp_path / "mask.nii.gz"
    nib.save(mask, mask_path)
    before = hashes(tmp_path)
    with pytest.raises(MindpainError, match="mask.nii.gz: has no orientation"):
        run_first_level(bids, tmp_path / "out", mask_img=mask_path, progress=False)
    assert hashes(tmp_path) == before and not (tmp_path / "out").exists()


def test_score_refuses_a_data_offset_inside_the_header(user, capsys):
    """vox_offset 0 in a single file: nibabel reads the header itself as data; refused."""
    odd = user["map"].with_name("sub-02_statmap.nii")
    shutil.copy(user["map"], odd)
    _patch(odd, 108, "f", 0.0)
    _refused(user, [user["map"], odd], capsys, "data offset (vox_offset) of 0 bytes", odd.name)


def test_score_reads_a_padded_gzip_that_nibabel_reads(user, capsys):
    """gzip allows zero padding after the stream; nibabel reads such a file, so must score."""
    padded = user["map"].with_name("sub-03_statmap.nii.gz")
    padded.write_bytes(gzip.compress(user["map"].read_bytes()) + b"\0" * 512)
    assert np.array_equal(nib.load(padded).get_fdata(), nib.load(user["map"]).get_fdata())
    before = hashes(user["root"])
    code, err, out = _score(user, [user["map"], padded], capsys)
    assert code == 0 and err == "", err
    first, second = _response(out)
    assert second == first
    assert hashes(user["root"]) == before


def test_first_level_fails_an_unoriented_run(bids, tmp_path, capsys):
    bold = bids / FUNC / f"{STEM}_run-2_bold.nii.gz"
    img = nib.load(bold)
    img.header.set_sform(None, code=0)
    img.header.set_qform(None, code=0)
    nib.save(nib.Nifti1Image(np.asanyarray(img.dataobj), None, img.header), bold)
    _first_level_run_failed(bids, tmp_path, capsys, "has no orientation", bold.name)


@pytest.mark.parametrize("case, expect", [
    ("grid", "differs from the grid"),
    ("far", "lies outside the MNI brain box"),
])
def test_first_level_fails_a_run_off_the_sessions_grid(bids, tmp_path, capsys, case, expect):
    bold = bids / FUNC / f"{STEM}_run-2_bold.nii.gz"
    img = nib.load(bold)
    affine = img.affine.copy()
    affine[:3, 3] += 1.0 if case == "grid" else 1000.0  # 1 mm: another grid; 1 m: no brain
    out = nib.Nifti1Image(np.asanyarray(img.dataobj), affine, img.header)
    out.set_sform(affine, code=4)
    out.set_qform(affine, code=4)
    nib.save(out, bold)
    _first_level_run_failed(bids, tmp_path, capsys, expect, bold.name)


# --------------------------------------------------------------------------- 2. non-finite


def test_nan_weights_are_outside_the_pattern_with_a_warning(user, capsys):
    w = user["weights"].copy()
    w[0, 0, 0] = w[3, 3, 3] = np.nan
    sig = _save(w, user["root"] / "sig" / "nansig.nii")
    before = hashes(user["root"])
    code, err, out = _score(user, [user["map"]], capsys, sig=sig)
    line = one_line(err)
    assert code == 0
    assert "warning" in line and sig.name in line and "2 NaN weight(s)" in line
    assert _response(out) == [pytest.approx(_expected(user["weights"], user["x"]), rel=1e-12)]
    assert hashes(user["root"]) == before
    # the output's sidecar lists them with the signature
    described = json.loads(out.with_suffix(".json").read_text())["Settings"]["signatures"]
    assert [d["nan_weights_outside_pattern"] for d in described] == [2]


def test_infinite_weights_are_refused(user, capsys):
    w = user["weights"].copy()
    w[0, 0, 0] = np.inf
    sig = _save(w, user["root"] / "sig" / "infsig.nii")
    _refused(user, [user["map"]], capsys, "1 infinite weight(s)", sig.name, sig=sig)


def test_nonfinite_bold_voxels_are_left_out_without_touching_their_neighbours(
        bids, tmp_path, capsys):
    bold = bids / FUNC / f"{STEM}_run-1_bold.nii.gz"
    clean = tmp_path / "clean"
    code, _, err = run_cli(["first-level", str(bids), "--out", str(clean), "--quiet"], capsys)
    assert code == 0, err
    ref = nib.load(clean / FUNC / f"{STEM}_run-1_space-MNI152NLin6Asym_contrast-hotVsWarm_"
                                  "stat-effect_statmap.nii.gz").get_fdata()
    voxel = tuple(int(v) for v in np.argwhere(ref != 0)[len(np.argwhere(ref != 0)) // 2])
    img = nib.load(bold)
    data = np.asarray(img.dataobj, dtype=np.float32)
    data[voxel + (7,)] = np.nan
    changed = nib.Nifti1Image(data, img.affine, img.header)
    changed.header.set_data_dtype(np.float32)  # the twin stores int16: NaN needs floats
    nib.save(changed, bold)
    before = hashes(bids)
    out = tmp_path / "out"
    code, _, err = run_cli(["first-level", str(bids), "--out", str(out), "--quiet"], capsys)
    line = one_line(err)
    assert code == 0
    assert line.startswith("mindpain first-level: warning:") and bold.name in line
    assert "1 voxel(s) with NaN or infinite BOLD samples" in line
    name = f"{STEM}_run-1_space-MNI152NLin6Asym_contrast-hotVsWarm_stat-effect_statmap"
    got = nib.load(out / FUNC / f"{name}.nii.gz").get_fdata()
    assert got[voxel] == 0  # no estimate at the voxel: outside the run's mask
    others = np.ones(ref.shape, bool)
    others[voxel] = False
    assert np.array_equal(got[others], ref[others])  # every other voxel exactly as before
    side = json.loads((out / FUNC / f"{name}.json").read_text())
    assert side["ExcludedVoxels"]["Count"] == 1
    assert hashes(bids) == before


# --------------------------------------------------------------------------- 3. precision


def test_float64_weights_keep_their_precision(user, capsys):
    rng = np.random.default_rng(7)
    w = np.zeros(SHAPE)
    w[1:3, 1:3, 1:3] = rng.normal(size=(2, 2, 2)) * (1 + 1e-9)  # digits beyond float32
    sig = _save(w, user["root"] / "sig" / "precise.nii", dtype=np.float64)
    x = rng.normal(size=SHAPE)
    path = _save(x, user["root"] / "maps" / "sub-09_statmap.nii", dtype=np.float64)
    code, err, out = _score(user, [path], capsys, sig=sig)
    assert code == 0, err
    exact = float(np.sum(w[1:3, 1:3, 1:3] * x[1:3, 1:3, 1:3]))
    single = float(np.sum(w.astype(np.float32).astype(np.float64) * x))
    got = _response(out)[0]
    assert abs(got - exact) <= 1e-14 * abs(exact)
    assert abs(single - exact) > 1e-12 * abs(exact)  # float32 weights would miss it


# --------------------------------------------------------------------------- 4. messages


def test_from_file_given_a_folder(user, capsys):
    folder = user["root"] / "maps"
    _refused(user, [], capsys, "is a folder; expected a text file", "maps", "--from-file",
             folder)


def test_a_folder_inside_the_list(user, capsys):
    listing = user["root"] / "list.txt"
    listing.write_text(f"{user['map']}\n{user['root'] / 'sig'}\n")
    _refused(user, [], capsys, "is a folder; expected a 3-D NIfTI", "sig", "--from-file",
             listing)


def test_a_list_with_a_byte_order_mark_scores(user, capsys):
    listing = user["root"] / "list.txt"
    listing.write_text(f"{user['map']}\n", encoding="utf-8-sig")
    assert listing.read_bytes().startswith(b"\xef\xbb\xbf")
    before = hashes(user["root"])
    code, err, out = _score(user, [], capsys, "--from-file", listing)
    assert code == 0 and err == "", err
    assert _response(out) == [pytest.approx(_expected(user["weights"], user["x"]), rel=1e-12)]
    assert hashes(user["root"]) == before


def test_invisible_characters_are_shown_escaped(user, capsys):
    listing = user["root"] / "list.txt"
    listing.write_text(f"{user['map'].parent}/sub-01\u200b_statmap.nii\n")
    line = _refused(user, [], capsys, "file not found", "sub-01\\u200b_statmap.nii",
                    "--from-file", listing)
    assert "\u200b" not in line


def test_trial_type_with_a_trailing_space_is_shown(bids, tmp_path, capsys):
    events = bids / FUNC / f"{STEM}_run-1_events.tsv"
    table = pd.read_csv(events, sep="\t", keep_default_na=False)
    table.loc[0, "trial_type"] = "hot "
    table.to_csv(events, sep="\t", index=False)
    _first_level_run_failed(bids, tmp_path, capsys, "'hot '", events.name)


def test_a_broken_top_sidecar_is_one_line_once(bids, tmp_path, capsys):
    sidecar = bids / "task-heat_bold.json"
    sidecar.write_text('{"RepetitionTime": ')
    line = _first_level_run_failed(bids, tmp_path, capsys, "unreadable JSON", sidecar.name)
    assert line.endswith("(2 runs or sessions)")


@pytest.mark.parametrize("content, expect", [
    ("", "cannot be read as JSON"),
    ("[]", "holds a JSON list"),
    ('{"Name": "x"}', "has no valid BIDSVersion"),
])
def test_dataset_description_is_checked_as_bids_requires(bids, tmp_path, capsys, content,
                                                        expect):
    (bids / "dataset_description.json").write_text(content)
    _first_level_refused(bids, tmp_path, capsys, expect, "dataset_description.json")


def test_a_very_long_label_is_refused_before_writing(bids, tmp_path, capsys):
    long_label = "0" * 200
    (bids / f"sub-{long_label}").mkdir()
    shutil.copytree(bids / "sub-001" / "ses-pre", bids / f"sub-{long_label}" / "ses-pre")
    for path in (bids / f"sub-{long_label}").rglob("sub-001_*"):
        path.rename(path.with_name(path.name.replace("sub-001", f"sub-{long_label}")))
    _first_level_refused(bids, tmp_path, capsys, "file names would be", long_label[:20])


# --------------------------------------------------------------------------- 5. settings


def test_a_settings_path_into_a_missing_folder_is_refused(user, tmp_path, monkeypatch,
                                                          capsys):
    missing = tmp_path / "no-such-disk" / "work"
    monkeypatch.setenv("MINDPAIN_WORK", str(missing))
    before = hashes(user["root"])
    code, _, err = run_cli(["twin", "--out", str(tmp_path / "twin"), "--preset", "small",
                            "--quiet"], capsys)
    line = one_line(err)
    assert code == 2 and "MINDPAIN_WORK points into a missing folder" in line
    assert "no-such-disk" in line
    assert not (tmp_path / "no-such-disk").exists() and not (tmp_path / "twin").exists()
    assert hashes(user["root"]) == before


@pytest.mark.parametrize("value", ["-999", "-3"])
def test_worker_counts_that_mean_no_worker_are_refused(user, capsys, monkeypatch, value):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    line = _refused(user, [user["map"]], capsys, "means no worker", "--n-jobs", "--n-jobs",
                    value)
    assert value in line


# --------------------------------------------------------------------------- first level



def _first_level_run_failed(bids, tmp_path, capsys, expect: str, name: str) -> str:
    """first-level: exit 2, one FAILED line naming ``name`` with ``expect``; no session map.

    stderr holds the summary line and one ``FAILED`` line per cause (a bad run fails alone;
    its session is not combined).
    """
    before = hashes(bids)
    out = tmp_path / "out"
    code, _, err = run_cli(["first-level", str(bids), "--out", str(out), "--quiet"], capsys)
    assert code == 2, err
    assert "Traceback" not in err
    failed = [ln for ln in err.splitlines() if ln.startswith("FAILED")]
    assert len(failed) == 1 and len(err.splitlines()) == 2, err
    assert name in failed[0] and expect in failed[0], failed[0]
    assert not session_map_path(out, "001", "pre").exists()  # the session is not combined
    assert hashes(bids) == before
    return failed[0]


def _first_level_refused(bids, tmp_path, capsys, expect: str, name: str) -> str:
    """first-level: exit 2, one line naming ``name`` with ``expect``; nothing written."""
    before = hashes(bids)
    out = tmp_path / "out"
    code, _, err = run_cli(["first-level", str(bids), "--out", str(out), "--quiet"], capsys)
    line = one_line(err)
    assert code == 2, err
    assert name in line and expect in line, line
    assert not out.exists()
    assert hashes(bids) == before
    return line
