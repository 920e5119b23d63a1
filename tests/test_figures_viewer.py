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


def test_maps_are_drawn_over_the_mni152_template(tiny_map):
    from matplotlib.image import AxesImage

    from mindpain.figures.viewer import mni_template, plot_contrast_map

    template = mni_template()
    assert template.shape == (99, 117, 95) and np.allclose(template.header.get_zooms(), 2)
    fig = plot_contrast_map(tiny_map, "toy map", threshold=1.0, cut_coords=(0, -10, 0))
    images = [a for a in fig.findobj(AxesImage)]
    # each of the three slices: the template beneath, the map above it
    assert len(images) >= 6
    backgrounds = [im for im in images if np.asarray(im.get_array()).shape[0] > 40]
    assert len(backgrounds) >= 3  # 2 mm template slices, finer than the 8 mm map


def test_colour_scale_is_robust_and_stated(tiny_map):
    from mindpain.figures.style import robust_vmax

    data = np.asarray(tiny_map.dataobj).copy()
    data[0, 0, 0] = 1e6  # one extreme voxel does not set the scale
    img = nib.Nifti1Image(data, tiny_map.affine)
    vmax = robust_vmax(img, threshold=1.0)
    shown = np.abs(data[np.abs(data) > 1.0])
    assert vmax == pytest.approx(np.percentile(shown, 99)) and vmax < 1e5
    viewer = brain_viewer(img, "toy map", "alt", threshold=1.0)
    assert f"colour scale ±{vmax:.3g} (99th percentile of |value| above 1)" in \
        viewer._repr_html_()
