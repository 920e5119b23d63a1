"""Signature registry: surrogates, official files in the data dir, SIIPS1 fetch + checksum."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from _scoring_helpers import TINY_SHAPE, save, tiny_img

from mindpain import signatures as sg
from mindpain.core.checksums import sha256
from mindpain.core.errors import MindpainError


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    real = urllib.request.urlopen

    def local_only(url, *args, **kwargs):
        if not str(url).startswith("file:"):
            raise AssertionError(f"a test tried to use the network: {url}")
        return real(url, *args, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", local_only)


@pytest.fixture
def fake_official(tmp_path):
    """A data dir holding a fake 'official' NPS (the surrogate's weights saved as a file)."""
    weights = sg.get_signature("nps-surrogate").weights
    folder = tmp_path / sg.SIGNATURES_DIRNAME / "nps"
    folder.mkdir(parents=True)
    save(weights, folder / f"{sg.NPS_STEM}.nii.gz")
    return tmp_path


def test_surrogates_are_labelled():
    for name in ("nps-surrogate", "nps-surrogate-pos", "nps-surrogate-neg", "siips1-surrogate"):
        sig = sg.get_signature(name)
        assert sig.is_surrogate
        assert "open surrogate" in sig.label
        assert len(sig.sha256) == 64
        assert sig.describe()["is_surrogate"] is True
    assert sg.get_signature("nps-surrogate").label == "NPS (open surrogate)"


def test_pos_neg_split_signs_and_regions():
    whole = np.asarray(sg.get_signature("nps-surrogate").weights.dataobj)
    pos = sg.get_signature("nps-surrogate-pos")
    neg = sg.get_signature("nps-surrogate-neg")
    wp, wn = np.asarray(pos.weights.dataobj), np.asarray(neg.weights.dataobj)
    assert (wp >= 0).all() and (wn <= 0).all()
    np.testing.assert_array_equal(wp + wn, whole)
    assert set(pos.regions["sign"]) == {1} and set(neg.regions["sign"]) == {-1}
    assert "vermis" in pos.regions["region"].tolist()
    assert "PCC" in neg.regions["region"].tolist()
    lab = np.asarray(pos.labels.dataobj)
    np.testing.assert_array_equal(lab != 0, wp != 0)


def test_unknown_name_lists_the_choices():
    with pytest.raises(MindpainError, match="unknown signature 'npz'.*nps-surrogate"):
        sg.get_signature("npz")


def test_missing_nps_says_how_to_obtain_and_where(tmp_path):
    with pytest.raises(MindpainError) as err:
        sg.get_signature("nps", data_dir=tmp_path)
    msg = str(err.value)
    assert "\n" not in msg
    assert "Tor Wager" in msg and "research use" in msg
    expected = tmp_path / "signatures" / "nps" / "weights_NSF_grouppred_cvpcr.img"
    assert str(expected) in msg
    with pytest.raises(MindpainError, match="Tor Wager"):
        sg.get_signature("nps-pos", data_dir=tmp_path)


def test_missing_siips1_says_fetch(tmp_path):
    with pytest.raises(MindpainError, match="fetch_siips1"):
        sg.get_signature("siips1", data_dir=tmp_path)


def test_available_and_default_without_official(tmp_path):
    assert sg.available_signatures(tmp_path) == [
        "nps-surrogate", "nps-surrogate-pos", "nps-surrogate-neg", "siips1-surrogate"]
    names = [s.name for s in sg.default_signatures(tmp_path)]
    assert names == ["nps-surrogate", "siips1-surrogate"]


def test_official_present_is_the_default(fake_official):
    assert "nps" in sg.available_signatures(fake_official)
    chosen = sg.default_signatures(fake_official)
    assert [s.name for s in chosen] == ["nps", "siips1-surrogate"]
    nps = chosen[0]
    assert not nps.is_surrogate and nps.label == "NPS"
    assert nps.path.name == f"{sg.NPS_STEM}.nii.gz"
    assert nps.sha256 == sha256(nps.path)
    # approximate subregions partition the pattern and carry the published names
    w = np.asarray(nps.weights.dataobj)
    lab = np.asarray(nps.labels.dataobj)
    np.testing.assert_array_equal(lab != 0, w != 0)
    assert {"rIns", "dACC", "PCC"} <= set(nps.regions["region"])
    pos = sg.get_signature("nps-pos", data_dir=fake_official)
    assert pos.label == "NPSpos" and (np.asarray(pos.weights.dataobj) >= 0).all()


def test_official_nps_as_analyze_pair(tmp_path):
    folder = tmp_path / "signatures" / "nps"
    folder.mkdir(parents=True)
    data = np.zeros(TINY_SHAPE, np.float32)
    data[3, 3, 2], data[1, 1, 1] = 1.0, -2.0
    pair = nib.Nifti1Pair(data, np.diag([2.0, 2.0, 2.0, 1.0]))
    nib.save(pair, folder / f"{sg.NPS_STEM}.img")
    sig = sg.get_signature("nps", data_dir=tmp_path)
    np.testing.assert_array_equal(np.asarray(sig.weights.dataobj), data)
    (folder / f"{sg.NPS_STEM}.hdr").unlink()
    with pytest.raises(MindpainError, match=r"weights_NSF_grouppred_cvpcr\.img: has no \.hdr"):
        sg.get_signature("nps", data_dir=tmp_path)


def test_fetch_siips1_records_then_verifies_sha256(tmp_path):
    src = tmp_path / "upstream" / sg.SIIPS1_FILENAME
    src.parent.mkdir()
    weights = np.zeros(TINY_SHAPE, np.float32)
    weights[2:5, 2:5, 1:4] = np.arange(27, dtype=np.float32).reshape(3, 3, 3) - 13
    save(tiny_img(weights), src)
    data = tmp_path / "data"
    path = sg.fetch_siips1(data, url=src.as_uri())
    assert path == data / "signatures" / "siips1" / sg.SIIPS1_FILENAME
    record = json.loads((path.parent / sg.SIIPS1_CHECKSUM_FILENAME).read_text())
    assert record["sha256"] == sha256(src) and record["url"] == src.as_uri()
    sig = sg.get_signature("siips1", data_dir=data)
    assert sig.sha256 == record["sha256"] and not sig.is_surrogate and sig.label == "SIIPS1"
    assert sg.fetch_siips1(data, url="https://invalid.example/never") == path  # no re-download
    # a later change of the file is caught, naming the file
    weights[3, 3, 2] = 99
    save(tiny_img(weights), path)
    with pytest.raises(MindpainError) as err:
        sg.get_signature("siips1", data_dir=data)
    assert str(err.value).startswith(str(path)) and "sha256" in str(err.value)


def test_fetch_siips1_with_fake_opener(tmp_path):
    payload = Path(tmp_path / "x.nii.gz")
    save(tiny_img(np.ones(TINY_SHAPE)), payload)

    class Response:
        def __init__(self):
            self.fh = open(payload, "rb")

        def read(self, n):
            return self.fh.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

    seen = []

    def opener(url, timeout):
        seen.append(url)
        return Response()

    path = sg.fetch_siips1(tmp_path / "d", opener=opener)
    assert seen == [sg.SIIPS1_URL]
    assert "05b99bb12724c042a7c85c4bc09f585f6dc120e5" in seen[0]
    assert path.read_bytes() == payload.read_bytes()


def test_custom_path_signature(tmp_path):
    data = np.zeros(TINY_SHAPE)
    data[3, 3, 2] = 1.5
    path = save(tiny_img(data), tmp_path / "mymap.nii.gz")
    sig = sg.get_signature(str(path))
    assert sig.name == "mymap" and not sig.is_surrogate and sig.regions is None
    with pytest.raises(MindpainError, match="nothere.nii.gz: file not found"):
        sg.get_signature(str(tmp_path / "nothere.nii.gz"))
    save(tiny_img(np.zeros(TINY_SHAPE)), tmp_path / "empty.nii.gz")
    with pytest.raises(MindpainError, match="empty.nii.gz: has no non-zero weight"):
        sg.get_signature(str(tmp_path / "empty.nii.gz"))
