"""Offline brain viewers: titled frame, no outside URL, deterministic, static fallback."""

from __future__ import annotations

import re

import nibabel as nib
import numpy as np
import pytest

from mindpain.figures.viewer import BrainViewer, accessible_standalone, brain_viewer, external_urls
from mindpain_book.sitecheck import audit_page


@pytest.fixture
def tiny_map(rng):
    data = rng.standard_normal((9, 11, 9)).astype("float32")
    affine = np.diag([8.0, 8.0, 8.0, 1.0])
    affine[:3, 3] = [-36, -52, -28]
    return nib.Nifti1Image(data, affine)


def test_viewer_is_titled_offline_and_has_a_static_fallback(tiny_map):
    viewer = brain_viewer(tiny_map, "toy map", "Random values in a small box", threshold=1.0)
    page = viewer._repr_html_()
    audit = audit_page(page)
    assert audit.frames == 1 and audit.frames_without_title == []
    assert audit.images_without_alt == []
    assert 'title="toy map"' in page
    assert re.search(r'<img class="mindpain-viewer-static" src="data:image/png;base64,[^"]+" '
                     r'alt="Random values in a small box">', page)
    assert "@media print" in page
    assert external_urls(viewer.page) == []


def test_viewer_html_is_deterministic(tiny_map):
    first = brain_viewer(tiny_map, "toy map", "alt", threshold=1.0)._repr_html_()
    second = brain_viewer(tiny_map, "toy map", "alt", threshold=1.0)._repr_html_()
    assert first == second


def test_standalone_page_loses_its_favicon_and_random_ids():
    page = ('<link rel="icon" type="image/x-icon" href="https://example.org/favicon.ico" />'
            '<canvas id="3Dviewer-' + "a" * 32 + '"></canvas><img id="spriteImg-' + "a" * 32
            + '" class="hidden" src="data:image/png;base64,AA">')
    fixed = accessible_standalone(page, "t")
    assert external_urls(page) and not external_urls(fixed)
    assert "a" * 32 not in fixed
    assert 'aria-label="t"' in fixed and audit_page(fixed).images_without_alt == []


def test_viewer_needs_title_and_alt():
    with pytest.raises(ValueError, match="title and alt"):
        BrainViewer("<html></html>", " ", b"", "alt")
