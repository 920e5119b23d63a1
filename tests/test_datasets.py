"""pain21 fetcher: local copy verified, download through file:// verified, normalisation."""

from __future__ import annotations

import os
import shutil

import nibabel as nib
import numpy as np
import pytest
from _scoring_helpers import shared_pain21

from mindpain.core import datasets
from mindpain.core.errors import MindpainError


def test_local_copy_is_verified_and_complete():
    folder = shared_pain21()
    p21 = datasets.fetch_pain21(folder.parent, download=False)
    assert p21.source == "local copy"
    assert len(p21.maps) == datasets.PAIN21_N_MAPS
    assert [m.name for m in p21.maps][0] == "contrast_pain_01.nii.gz"
    assert list(p21.sample_sizes.columns) == ["study_id", "n_subjects", "spm_flag", "map"]
    assert p21.sample_sizes["n_subjects"].between(9, 32).all()
    assert p21.sample_sizes["spm_flag"].tolist() == [1] * 10 + [0] * 11
    assert p21.mask.is_file()


def test_data_dir_comes_from_the_configuration(monkeypatch):
    from mindpain.core.config import get_config

    folder = shared_pain21()
    monkeypatch.setenv("MINDPAIN_DATA", str(folder.parent))
    assert datasets.fetch_pain21(get_config().data_dir).root == folder
    # the library reads no setting itself: no data directory is a one-line error
    with pytest.raises(MindpainError, match="no data directory given for pain21"):
        datasets.fetch_pain21(None)


def test_download_from_pinned_source_verifies_every_file(tmp_path):
    folder = shared_pain21()
    p21 = datasets.fetch_pain21(tmp_path, base_url=folder.as_uri() + "/")
    assert p21.source.startswith("file://")
    assert sorted(os.listdir(p21.root)) == sorted(datasets.PAIN21_FILES)
    # second call: local copy, nothing downloaded
    assert datasets.fetch_pain21(tmp_path).source == "local copy"


def test_download_mismatch_deletes_and_raises(tmp_path):
    folder = shared_pain21()
    src = tmp_path / "src"
    src.mkdir()
    first = next(iter(datasets.PAIN21_FILES))
    data = bytearray((folder / first).read_bytes())
    data[-10] ^= 0xFF  # same size, other bytes
    (src / first).write_bytes(bytes(data))
    dest = tmp_path / "data"
    with pytest.raises(MindpainError, match="sha256") as err:
        datasets.fetch_pain21(dest, base_url=src.as_uri() + "/")
    assert first in str(err.value)
    leftovers = list((dest / datasets.PAIN21_DIRNAME).iterdir())
    assert leftovers == []  # no temp file, no bad file


def test_tampered_local_copy_fails(tmp_path):
    folder = shared_pain21()
    copy = tmp_path / datasets.PAIN21_DIRNAME
    shutil.copytree(folder, copy)
    (copy / "samplesize.csv").chmod(0o644)
    (copy / "samplesize.csv").write_text((folder / "samplesize.csv").read_text()
                                         .replace("pain_01,25", "pain_01,26"))
    with pytest.raises(MindpainError, match="samplesize.csv.*sha256"):
        datasets.fetch_pain21(tmp_path, download=False)


def test_missing_file_without_download(tmp_path):
    with pytest.raises(MindpainError, match="contrast_pain_01.nii.gz: missing"):
        datasets.fetch_pain21(tmp_path, download=False)


def test_failed_download_names_the_file(tmp_path):
    def broken(url, timeout):
        raise OSError("network unreachable")

    with pytest.raises(MindpainError, match="contrast_pain_01.nii.gz: download .* failed"):
        datasets.fetch_pain21(tmp_path, opener=broken)


@pytest.mark.parametrize("method", ["zscore", "l2"])
def test_normalise_pain21(method):
    folder = shared_pain21()
    p21 = datasets.fetch_pain21(folder.parent, download=False)
    img = datasets.normalise_pain21(p21.maps[9], method, data_dir=folder.parent)
    out = np.asarray(img.dataobj, dtype=float)
    mask = np.asarray(nib.load(p21.mask).dataobj) > 0
    assert not out[~mask].any()
    vals = out[mask & (out != 0)]
    if method == "zscore":
        assert abs(vals.mean()) < 1e-4 and abs(vals.std() - 1) < 1e-4
    else:
        assert abs(np.sqrt((vals**2).sum()) - 1) < 1e-4
    # arrays in, arrays out; SPM (x100) and FSL maps end up on the same scale
    arr = datasets.normalise_pain21(np.asarray(nib.load(p21.maps[0]).dataobj), method,
                                    mask=p21.mask)
    assert isinstance(arr, np.ndarray) and arr.shape == out.shape


def test_normalise_rejects_unknown_method():
    with pytest.raises(MindpainError, match="unknown normalisation"):
        datasets.normalise_pain21(np.zeros((2, 2, 2)), "max", mask=np.ones((2, 2, 2)))
