"""Chapter-03 signature checks and their figures, on tiny synthetic signatures and maps."""

from __future__ import annotations

import io
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from _figure_helpers import assert_legible
from matplotlib.figure import Figure

from mindpain.core.errors import MindpainError
from mindpain.figures import signatures as figs
from mindpain.scoring import checks
from mindpain.signatures import Signature

SHAPE = (9, 11, 9)
AFFINE = np.array([[-4.0, 0, 0, 16], [0, 4.0, 0, -20], [0, 0, 4.0, -16], [0, 0, 0, 1]])


def _signature(name, label, regions, rng, is_surrogate=True):
    """A tiny signature: one cube of weights per region, sign as given."""
    weights = np.zeros(SHAPE, dtype=np.float32)
    labels = np.zeros(SHAPE, dtype=np.int16)
    rows = []
    for k, (region, sign) in enumerate(regions):
        i = 1 + 2 * k
        weights[i:i + 2, 2:5, 2:5] = sign * (0.5 + rng.random((2, 3, 3)))
        labels[i:i + 2, 2:5, 2:5] = k + 1
        rows.append({"label": k + 1, "region": region, "sign": sign, "x": 4 * k, "y": 0,
                     "z": 0, "n_voxels": 18})
    return Signature(name=name, label=label, is_surrogate=is_surrogate,
                     weights=nib.Nifti1Image(weights, AFFINE),
                     labels=nib.Nifti1Image(labels, AFFINE), regions=pd.DataFrame(rows),
                     sha256="0" * 64)


def _drawn(fig) -> bool:
    """Render the figure (layout and text included), check it fits the book's column with
    legible text, and say whether it is a Figure."""
    fig.savefig(io.BytesIO(), format="png", dpi=40)
    assert_legible(fig)
    return isinstance(fig, Figure)


@pytest.fixture
def signatures(rng):
    nps = _signature("nps-surrogate", "NPS (open surrogate)",
                     [("rIns", 1), ("dACC", 1), ("PCC", -1)], rng)
    siips1 = _signature("siips1-surrogate", "SIIPS1 (open surrogate)",
                        [("vmPFC", 1), ("rdlPFC", -1)], rng)
    return [nps, siips1]


@pytest.fixture
def pain21(tmp_path, rng):
    """Four tiny 'studies' on the tiny grid, with a mask and a sample-size table."""
    maps = []
    for k in range(4):
        data = rng.normal(loc=1.0, scale=1.0, size=SHAPE).astype(np.float32) * (100 if k < 2
                                                                                else 1)
        path = tmp_path / f"contrast_pain_{k + 1:02d}.nii.gz"
        nib.save(nib.Nifti1Image(data, AFFINE), path)
        maps.append(path)
    mask = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(np.ones(SHAPE, dtype=np.uint8), AFFINE), mask)
    table = pd.DataFrame({"study_id": [f"pain_{k + 1:02d}" for k in range(4)],
                          "n_subjects": [10, 12, 14, 16], "spm_flag": [1, 1, 0, 0],
                          "map": [p.name for p in maps]})
    return SimpleNamespace(root=tmp_path, maps=tuple(maps), mask=mask, sample_sizes=table,
                           source="local copy")


@pytest.fixture
def session_scores(signatures, rng):
    """A scores table like pipeline.session_scores(subregions=True), with run-level maps."""
    rows, truth = [], []
    outcome = {"nps-surrogate": "nps", "siips1-surrogate": "siips1"}
    for p in range(6):
        pid = f"sub-{p + 1:03d}"
        for session in ("pre", "post"):
            planted = {"nps": rng.normal(10, 3), "siips1": rng.normal(2, 1)}
            # The twin's truth is latent: here the score is 2 x the latent response.
            truth.append({"participant_id": pid, "session": session,
                          "group": ["MBSR", "HEP", "WL"][p % 3],
                          "nociceptive": planted["nps"] / 2, "modulatory": planted["siips1"] / 2})
            for run in ("run-1_", "run-2_", ""):
                name = f"{pid}_ses-{session}_task-heat_{run}contrast-hotVsWarm_statmap.nii.gz"
                for sig in signatures:
                    local = rng.normal(size=len(sig.regions))
                    local += (planted[outcome[sig.name]] - local.sum()) / len(local)
                    local += rng.normal(scale=0.1, size=len(local))
                    for region, value in [("whole", local.sum()),
                                          *zip(sig.regions["region"], local, strict=True)]:
                        rows.append({"participant_id": pid, "session": session,
                                     "condition": "hotVsWarm", "signature": sig.name,
                                     "metric": "dot", "region": region, "response": value,
                                     "map": name, "outcome": outcome[sig.name]})
    return pd.DataFrame(rows), pd.DataFrame(truth)


def test_titles_say_what_a_surrogate_is_not(signatures):
    assert figs.signature_title(signatures[0]) == "NPS: open surrogate — not the NPS"
    assert "open surrogate" in figs.signature_status(signatures)
    official = _signature("nps", "NPS", [("rIns", 1)], np.random.default_rng(1),
                          is_surrogate=False)
    assert figs.signature_title(official) == "NPS (official map)"
    assert "official map" in figs.signature_status([official])


def test_region_table(signatures):
    table = checks.region_table(signatures[0])
    assert table["region"].tolist() == ["rIns", "dACC", "PCC"]
    assert table["weights"].tolist() == ["+", "+", "−"]
    bare = Signature(name="x", label="x (custom)", is_surrogate=False,
                     weights=signatures[0].weights)
    with pytest.raises(MindpainError, match="no named regions"):
        checks.region_table(bare)


def test_plot_signature_maps(signatures):
    assert _drawn(figs.plot_signature_maps(signatures))


def test_pain21_scores_and_figures(pain21, signatures):
    scores = checks.pain21_scores(pain21, signatures, method="zscore")
    assert set(scores["study"]) == set(pain21.sample_sizes["study_id"])
    assert set(scores["software"]) == {"SPM", "FSL"}
    n_pos, n = checks.fraction_positive(scores, signatures[0])
    assert n == 4 and 0 <= n_pos <= 4
    raw = checks.pain21_scores(pain21, signatures[:1], method=None, metrics=("dot",),
                               subregions=False)
    assert checks.response_span(raw, signatures[0]) > checks.response_span(scores, signatures[0])
    assert checks.additivity_error(scores) < 1e-9
    top = checks.dominant_region(scores, signatures[1])
    assert top["region"] in {"vmPFC", "rdlPFC"} and 0 < top["share"] <= 1
    assert _drawn(figs.plot_pain21_responses(scores, signatures))
    assert _drawn(figs.plot_region_heatmap(scores, signatures))


def test_twin_comparison_and_figures(session_scores, signatures):
    scores, truth = session_scores
    sessions = checks.session_level(scores)
    assert sessions["map"].nunique() == len(truth)
    assert not sessions["map"].str.contains("_run-").any()
    from scipy import stats

    comparison = checks.twin_comparison(scores, truth, outcomes=("nps", "siips1"))
    assert len(comparison) == 2 * len(truth)
    assert set(comparison.target) == {"nociceptive", "modulatory"}
    np.testing.assert_allclose(comparison["measured"], 2 * comparison["planted"], atol=1.0)
    rec = checks.recovery_stats(comparison, {"nps": 2.0, "siips1": 4.0})
    for outcome, g in comparison.groupby("outcome"):
        fit = stats.linregress(g["planted"], g["measured"])
        assert rec.loc[outcome, "r"] == pytest.approx(fit.rvalue, rel=1e-9)
        assert rec.loc[outcome, "slope"] == pytest.approx(fit.slope, rel=1e-9)
    assert rec.loc["nps", "slope_ratio"] == pytest.approx(rec.loc["nps", "slope"] / 2.0)
    assert rec.loc["siips1", "slope_ratio"] == pytest.approx(rec.loc["siips1", "slope"] / 4.0,
                                                             rel=1e-9)
    assert checks.additivity_error(sessions) < 1e-9
    labels = dict(zip(("nps", "siips1"), signatures, strict=True))
    assert _drawn(figs.plot_measured_vs_planted(comparison, labels))
    assert _drawn(figs.plot_region_breakdown(sessions, signatures))


def test_plot_message():
    assert _drawn(figs.plot_message("No planted truth."))
