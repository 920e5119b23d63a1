"""Interactive brain viewers that work offline, with a title and a static image for print.

:func:`brain_viewer` wraps :func:`nilearn.plotting.view_img`: the viewer's page (its
JavaScript is inlined by nilearn) goes into the ``srcdoc`` of an ``<iframe>`` with a
``title``, so nothing is fetched from outside and screen readers can name the frame. Beside it
sits a static PNG of the same map (orthogonal slices) with alt text; it is hidden on screen
and shown when the page is printed or JavaScript is off.

The viewer's HTML is made deterministic (nilearn draws a random element id per call) and
accessible (alt text on its internal images, a label on its canvas); the link to nilearn's
favicon on the internet is removed.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
import re
import warnings

import matplotlib.pyplot as plt
import numpy as np

from mindpain.figures.style import (
    DIVERGING_CMAP,
    column_width,
    detached,
    robust_vmax,
    scale_note,
)

#: Shown on screen: the viewer; in print or without JavaScript: the static image.
VIEWER_CSS = (".mindpain-viewer-static{display:none;max-width:100%}"
              "@media print{.mindpain-viewer-frame{display:none}"
              ".mindpain-viewer-static{display:block}}")

_INTERNAL_ALT = {"spriteImg": "all slices of the map, which the viewer draws from",
                 "colorMap": "colour scale of the map",
                 "overlayImg": "slices of the thresholded map, which the viewer overlays"}


@functools.cache
def mni_template():
    """Return the MNI152 template (2 mm) that nilearn ships in its wheel: every map's background.

    Loaded from nilearn's package data (no download), once per process.
    """
    from nilearn.datasets import load_mni152_template

    return load_mni152_template(resolution=2)


def external_urls(page: str) -> list[str]:
    """Return the http(s) URLs that ``page`` would load (scripts, links, images, frames)."""
    return re.findall(r"<(?:script|link|img|iframe)[^>]*\b(?:src|href)\s*=\s*[\"']"
                      r"((?:https?:)?//[^\"']+)", page, flags=re.I)


def accessible_standalone(page: str, title: str) -> str:
    """Make nilearn's viewer page deterministic, offline and labelled (see module doc)."""
    page = re.sub(r"<link[^>]*rel=\"icon\"[^>]*>", "", page, flags=re.S)
    page = re.sub(r"<title>.*?</title>", f"<title>{html.escape(title)}</title>", page,
                  count=1, flags=re.S)
    ids = sorted(set(re.findall(r"-([0-9a-f]{32})\b", page)))
    for i, old in enumerate(ids):
        new = hashlib.sha256(f"{title}|{i}".encode()).hexdigest()[:32]
        page = page.replace(old, new)
    for prefix, alt in _INTERNAL_ALT.items():
        page = re.sub(rf'<img id="{prefix}-', f'<img alt="{html.escape(alt)}" id="{prefix}-',
                      page)
    page = re.sub(r"<canvas ", f'<canvas role="img" aria-label="{html.escape(title)}" ', page)
    return page


class BrainViewer:
    """An offline interactive viewer with a frame title and a static fallback image.

    Parameters
    ----------
    page : str
        The viewer's standalone HTML (from :func:`accessible_standalone`).
    title : str
        Title of the frame (read by screen readers; names the map).
    png : bytes
        Static image of the same map, shown in print.
    alt : str
        Alt text of the static image: what the map shows.
    width, height : int
        Size of the frame in pixels.
    """

    def __init__(self, page: str, title: str, png: bytes, alt: str, width: int = 720,
                 height: int = 360, note: str = ""):
        if not title.strip() or not alt.strip():
            raise ValueError("a viewer needs a title and alt text for its static image")
        self.page, self.title, self.png, self.alt = page, title, png, alt
        self.width, self.height, self.note = width, height, note

    def _repr_html_(self) -> str:
        image = base64.b64encode(self.png).decode("ascii")
        return (
            f'<div class="mindpain-viewer"><style>{VIEWER_CSS}</style>'
            f'<noscript><style>.mindpain-viewer-frame{{display:none}}'
            f'.mindpain-viewer-static{{display:block}}</style></noscript>'
            f'<p class="mindpain-viewer-title"><strong>{html.escape(self.title)}</strong>'
            + (f' <span class="mindpain-viewer-note">({html.escape(self.note)})</span>'
               if self.note else "") + "</p>"
            f'<iframe class="mindpain-viewer-frame" title="{html.escape(self.title)}" '
            f'srcdoc="{html.escape(self.page, quote=True)}" width="{self.width}" '
            f'height="{self.height}" style="border:0;max-width:100%"></iframe>'
            f'<img class="mindpain-viewer-static" src="data:image/png;base64,{image}" '
            f'alt="{html.escape(self.alt)}"></div>')


def plot_contrast_map(img, title, threshold=None, vmax=None, cut_coords=(4, -20, 10)):
    """Plot a statistical map in orthogonal slices over the MNI152 template.

    The colour scale ends at ``vmax``, by default :func:`~mindpain.figures.style.robust_vmax`
    of the map (a percentile of its non-zero |values|), as the figure states under the slices.
    """
    from nilearn import plotting
    from nilearn.image import load_img

    img, given = load_img(img), vmax
    vmax = robust_vmax(img, threshold=threshold) if vmax is None else float(vmax)
    fig = plt.figure(figsize=(column_width(9), 3.3))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        display = plotting.plot_stat_map(img, bg_img=mni_template(), threshold=threshold,
                                         vmax=vmax, figure=fig, cut_coords=cut_coords,
                                         title=None, draw_cross=False, annotate=True,
                                         black_bg=False, cmap=DIVERGING_CMAP)
    fig.suptitle(title, fontsize=11)
    note = scale_note(vmax, threshold=threshold) if given is None else f"colour scale ±{vmax:.3g}"
    fig.text(0.5, 0.0, note, ha="center", va="bottom", fontsize=9, color="0.3")
    del display
    return detached(fig)


def static_png(img, title: str, threshold=None, cut_coords=None, dpi: int = 80,
               vmax=None) -> bytes:
    """Orthogonal slices of ``img`` on the MNI template, as PNG bytes (the print fallback)."""
    fig = plot_contrast_map(img, title, threshold=threshold, cut_coords=cut_coords, vmax=vmax)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def brain_viewer(img, title: str, alt: str, threshold=None, cut_coords=None,
                 vmax=None) -> BrainViewer:
    """Return an offline :class:`BrainViewer` of a 3-D map.

    Parameters
    ----------
    img : path-like or nibabel image
        The map (a statistical map or signature weights).
    title : str
        Name of the map, shown above the viewer and used as the frame's title.
    alt : str
        What the map shows, for the static image's alt text.
    threshold : float, optional
        Values with absolute value below it are not shown.
    cut_coords : tuple of float, optional
        Initial MNI position (mm) of the viewer's cursor and of the static slices.
    vmax : float, optional
        Upper end of the (symmetric) colour scale.

    Raises
    ------
    RuntimeError
        If the viewer's HTML still loads anything from outside.
    """
    from nilearn import plotting
    from nilearn.image import load_img

    img, given = load_img(img), vmax
    vmax = robust_vmax(img, threshold=threshold) if vmax is None else float(vmax)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # No title drawn inside the viewer (nilearn cuts long ones): it is shown above it.
        view = plotting.view_img(img, bg_img=mni_template(), threshold=threshold, title=None,
                                 black_bg=False, symmetric_cmap=True, cmap=DIVERGING_CMAP,
                                 width_view=700, cut_coords=cut_coords, vmax=vmax)
    page = accessible_standalone(view.get_standalone(), title)
    if external_urls(page):
        raise RuntimeError(f"viewer HTML loads from outside: {external_urls(page)}")
    png = static_png(img, title, threshold, cut_coords, vmax=given)
    note = scale_note(vmax, threshold=threshold) if given is None else f"colour scale ±{vmax:.3g}"
    return BrainViewer(page, title, png, alt, note=note)


def pain21_mean_map(pain21, method: str = "zscore"):
    """Voxel-wise mean of the pain21 maps, each normalised first (for a viewer of all 21).

    Parameters
    ----------
    pain21 : mindpain.core.datasets.Pain21
        The pain21 files (:func:`mindpain.core.datasets.fetch_pain21`).
    method : {"zscore", "l2"}
        Normalisation of each map within the pain21 mask
        (:func:`mindpain.core.datasets.normalise_pain21`); voxels outside it are 0.

    Returns
    -------
    nibabel.Nifti1Image
        The mean map on the pain21 grid.
    """
    import nibabel as nib

    from mindpain.core.datasets import normalise_pain21

    maps = [normalise_pain21(path, method, mask=pain21.mask) for path in pain21.maps]
    mean = np.mean([np.asarray(m.dataobj, dtype=np.float64) for m in maps], axis=0)
    return nib.Nifti1Image(mean.astype(np.float32), maps[0].affine)
