"""Helpers shared by the scoring, signature and dataset tests (no side effects)."""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY_SHAPE = (7, 7, 5)
TINY_AFFINE = np.diag([2.0, 2.0, 2.0, 1.0])


def shared_pain21() -> Path:
    """Folder of the real pain21 copy, or skip with the reason."""
    data = Path(os.environ.get("MINDPAIN_DATA") or ROOT.parent / "shared" / "data")
    folder = data / "pain21_neurovault1425"
    if not (folder / "mask.nii.gz").is_file():
        pytest.skip(f"pain21 not found in {folder} (set MINDPAIN_DATA to the folder holding "
                    "pain21_neurovault1425/)")
    return folder


def tiny_img(data, affine=TINY_AFFINE) -> nib.Nifti1Image:
    return nib.Nifti1Image(np.asarray(data, dtype=np.float32), affine)


def save(img, path) -> Path:
    path = Path(path)
    nib.save(img, path)
    return path
