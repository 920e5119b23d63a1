"""Official signature files: where they are expected, reading them, their checksums, fetching.

The NPS is licensed and never downloaded: the user puts the file received from CANlab in
``<data_dir>/signatures/nps/``. SIIPS1 is fetched by :func:`fetch_siips1` (only when called)
from a pinned commit of github.com/canlab/Neuroimaging_Pattern_Masks; its sha256 is recorded
beside it (``siips1.sha256.json``) at the first fetch or load and verified on every later
load (:func:`verified_siips1`). :func:`load_weights` reads any 3-D weight map (official or
custom) at the file's precision, NaN (outside the pattern) set to 0 with a warning.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import nibabel as nib
import numpy as np

from mindpain.core.checksums import sha256
from mindpain.core.datasets import download_file
from mindpain.core.errors import MindpainError
from mindpain.core.io import write_json

#: Pinned commit of github.com/canlab/Neuroimaging_Pattern_Masks that holds SIIPS1.
SIIPS1_COMMIT = "05b99bb12724c042a7c85c4bc09f585f6dc120e5"
#: File name of SIIPS1 in that repository.
SIIPS1_FILENAME = "nonnoc_v11_4_137subjmap_weighted_mean.nii.gz"
#: Download address of SIIPS1, pinned to :data:`SIIPS1_COMMIT`.
SIIPS1_URL = (f"https://raw.githubusercontent.com/canlab/Neuroimaging_Pattern_Masks/"
              f"{SIIPS1_COMMIT}/Multivariate_signature_patterns/2017_Woo_SIIPS1/"
              f"{SIIPS1_FILENAME}")
#: Name of the checksum record written next to the SIIPS1 file.
SIIPS1_CHECKSUM_FILENAME = "siips1.sha256.json"
#: Stem of the official NPS weights file (CANlab's name for it).
NPS_STEM = "weights_NSF_grouppred_cvpcr"
#: Accepted NPS file names, in order of preference (``.img`` needs its ``.hdr``).
NPS_FILENAMES = (f"{NPS_STEM}.img", f"{NPS_STEM}.nii.gz", f"{NPS_STEM}.nii")
#: Sub-folder of the data directory holding official signature files.
SIGNATURES_DIRNAME = "signatures"
#: File suffixes read as NIfTI or Analyze images.
NIFTI_SUFFIXES = (".nii", ".nii.gz", ".img", ".hdr")
#: How to obtain the NPS (it is licensed on request), for error messages and the book.
NPS_HOW_TO_OBTAIN = ("the NPS is not public: it is available for research use on request from "
                     "Prof. Tor Wager (CANlab, https://canlab.github.io); mindpain never "
                     "downloads it")


def signature_dir(name: str, data_dir) -> Path:
    """Folder where the official signature ``name`` (``"nps"``/``"siips1"``) is expected.

    ``data_dir`` is the data directory (the configuration's
    :attr:`~mindpain.core.config.Config.data_dir`); ``None`` is a one-line error.
    """
    if data_dir is None:
        raise MindpainError(f"no data directory given for the official {name!r} file; set "
                            "MINDPAIN_DATA or pass data_dir")
    return Path(data_dir) / SIGNATURES_DIRNAME / name


def nps_path(data_dir=None) -> Path | None:
    """Return the NPS weight file in the data directory, or None if absent (or no directory)."""
    if data_dir is None:
        return None
    folder = signature_dir("nps", data_dir)
    for fname in NPS_FILENAMES:
        if (folder / fname).is_file():
            return folder / fname
    return None


def siips1_path(data_dir=None) -> Path | None:
    """Return the SIIPS1 weight file in the data directory, or None if absent (or no directory)."""
    if data_dir is None:
        return None
    folder = signature_dir("siips1", data_dir)
    for fname in (SIIPS1_FILENAME, SIIPS1_FILENAME.removesuffix(".gz")):
        if (folder / fname).is_file():
            return folder / fname
    return None


def official_path(base: str, data_dir=None) -> Path | None:
    """Return the weight file of the official signature ``base`` (``"nps"``/``"siips1"``)."""
    return nps_path(data_dir) if base == "nps" else siips1_path(data_dir)


def missing_message(base: str, data_dir=None) -> str:
    """One-line message for a missing official file: how to obtain it and where to put it.

    Parameters
    ----------
    base : {"nps", "siips1"}
        The official signature.
    data_dir : path-like, optional
        The data directory (``None``: the message names the folder inside the data
        directory, ``$MINDPAIN_DATA``).

    Returns
    -------
    str
    """
    def signature_folder(name):
        if data_dir is None:
            return Path("$MINDPAIN_DATA") / SIGNATURES_DIRNAME / name
        return signature_dir(name, data_dir)

    if base == "nps":
        where = signature_folder("nps") / NPS_FILENAMES[0]
        return (f"signature 'nps' not found: {NPS_HOW_TO_OBTAIN}; put the file you receive at "
                f"{where} (with its .hdr; or {NPS_STEM}.nii.gz in the same folder), or use "
                "'nps-surrogate'")
    where = signature_folder("siips1") / SIIPS1_FILENAME
    return (f"signature 'siips1' not found at {where}; run "
            "`python -c 'import mindpain.signatures as s; s.fetch_siips1(\"DATA_DIR\")'` "
            "with network "
            f"access (downloads {SIIPS1_URL}), or use 'siips1-surrogate'")


def check_analyze_pair(path: Path) -> None:
    """Refuse an Analyze ``.img`` without its ``.hdr`` (one-line error naming the file)."""
    if path.suffix == ".img" and not path.with_suffix(".hdr").is_file():
        raise MindpainError("has no .hdr beside it; expected the Analyze pair .img + .hdr", path)


class NonFiniteWeightsWarning(UserWarning):
    """A weight map holds NaN: those voxels are outside the pattern (count in the message)."""


def load_weights(path: Path) -> nib.Nifti1Image:
    """Read a 3-D weight map at the file's precision; NaN voxels are outside the pattern.

    The image is checked like every image the package reads
    (:func:`mindpain.core.images.load_checked`: nibabel's header checks, an invertible affine,
    an orientation code for NIfTI, finite scaling). Weights keep the precision of the file
    (float32 stays float32, float64 stays float64; integer or scaled data become float64),
    so a float64 weight file scores at full precision. NaN weights are outside the pattern
    (CANlab writes NaN outside the brain) and are set to 0 with a
    :class:`NonFiniteWeightsWarning` naming the file and the count; an infinite weight has
    no meaning and is refused. The count of NaN weights is kept in the image's
    ``extra["nan_weights"]`` (0 when none) so the output sidecars can list it.

    Parameters
    ----------
    path : pathlib.Path
        NIfTI file, or Analyze ``.img`` with its ``.hdr``.

    Returns
    -------
    nibabel.Nifti1Image
        The weights (:func:`weights_image`).

    Raises
    ------
    mindpain.core.errors.MindpainError
        Unreadable, an unusable header, not 3-D (a single 4-D volume is accepted), an
        infinite weight, or without a non-zero weight.
    """
    import warnings

    from mindpain.core.images import load_checked

    check_analyze_pair(path)
    img = load_checked(path, "a 3-D weight map")
    try:
        data = np.asanyarray(img.dataobj)
    except Exception as err:  # nibabel raises many types for corrupt files
        raise MindpainError(f"cannot be read as a NIfTI/Analyze image ({type(err).__name__}: "
                            f"{err}); expected a 3-D weight map", path) from None
    if not np.issubdtype(data.dtype, np.number) or np.iscomplexobj(data):
        raise MindpainError(f"has data type {data.dtype}; expected real weights", path)
    dtype = np.dtype(np.float64)
    if data.dtype.kind == "f" and data.dtype.itemsize in (4, 8):
        dtype = np.dtype(f"f{data.dtype.itemsize}")  # native byte order, the file's precision
    data = np.asarray(data, dtype=dtype)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise MindpainError(f"has shape {data.shape}; expected a 3-D weight map", path)
    n_inf = int(np.isinf(data).sum())
    if n_inf:
        raise MindpainError(f"has {n_inf} infinite weight(s); expected finite weights (0 or "
                            "NaN outside the pattern): fix the weight map", path)
    n_nan = int(np.isnan(data).sum())
    if n_nan:
        warnings.warn(f"{path}: {n_nan} NaN weight(s) are outside the pattern (set to 0)",
                      NonFiniteWeightsWarning, stacklevel=2)
        data = np.where(np.isnan(data), 0, data).astype(dtype)
    if not np.any(data):
        raise MindpainError("has no non-zero weight; expected a signature weight map", path)
    out = weights_image(data, img.affine, dtype=dtype)
    out.extra["nan_weights"] = n_nan
    return out


def weights_image(data, affine, dtype=np.float32) -> nib.Nifti1Image:
    """Return ``data`` as a NIfTI image with mm units (weights or region labels).

    Parameters
    ----------
    data : array-like
        3-D weights or labels.
    affine : array-like, shape (4, 4)
        Voxel-to-world affine.
    dtype : numpy dtype
        Stored type: float32 by default (the surrogates, region labels); a weight file's
        own precision for official and custom weights (:func:`load_weights`).

    Returns
    -------
    nibabel.Nifti1Image
    """
    img = nib.Nifti1Image(np.asarray(data, dtype=dtype), np.asarray(affine, float))
    img.header.set_xyzt_units("mm")
    return img


def _read_checksum_record(path: Path) -> dict | None:
    record = path.parent / SIIPS1_CHECKSUM_FILENAME
    if not record.is_file():
        return None
    try:
        return json.loads(record.read_text())
    except (OSError, ValueError) as err:
        raise MindpainError(f"cannot be read as JSON ({err}); delete it and fetch SIIPS1 "
                            "again", record) from None


def _write_checksum_record(path: Path, sha: str, how: str, url: str | None = None) -> None:
    write_json(path.parent / SIIPS1_CHECKSUM_FILENAME, {
        "file": path.name, "sha256": sha, "how": how, "url": url,
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
    })


def verified_siips1(path: Path) -> str:
    """Check SIIPS1 against its recorded sha256 (recording it if no record exists).

    Parameters
    ----------
    path : pathlib.Path
        The SIIPS1 file; its record is ``siips1.sha256.json`` in the same folder.

    Returns
    -------
    str
        The file's sha256.

    Raises
    ------
    mindpain.core.errors.MindpainError
        The file changed since its checksum was recorded, or the record is unreadable.
    """
    sha = sha256(path)
    record = _read_checksum_record(path)
    if record is None:
        _write_checksum_record(path, sha, how="first load of a file put here by hand")
        return sha
    if record.get("file") == path.name and record.get("sha256") != sha:
        raise MindpainError(f"sha256 {sha[:12]}… differs from the one recorded at first fetch "
                            f"({str(record.get('sha256'))[:12]}… in {SIIPS1_CHECKSUM_FILENAME}); "
                            "the file changed: delete both files and fetch SIIPS1 again", path)
    return sha


def fetch_siips1(data_dir, *, url: str = SIIPS1_URL, timeout: float = 60,
                 opener=None) -> Path:
    """Download SIIPS1 (Woo et al. 2017) into the data directory, once.

    Only this function touches the network, and only when called. The file comes from a
    pinned commit of canlab/Neuroimaging_Pattern_Masks (the repository has no licence file,
    so the project never ships it). Its sha256 is recorded in ``siips1.sha256.json`` next
    to it and verified on every later load.

    Parameters
    ----------
    data_dir : path-like
        The data directory (the configuration's
        :attr:`~mindpain.core.config.Config.data_dir`).
    url : str
        Source (default: the pinned raw GitHub URL).
    timeout, opener
        As for :func:`mindpain.core.datasets.download_file` (seconds before a stalled download
        fails; a replacement for :func:`urllib.request.urlopen` in tests).

    Returns
    -------
    pathlib.Path
        The verified file.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        path = fetch_siips1(cfg.data_dir)
        get_signature("siips1", cfg.data_dir).is_surrogate
        # False
    """
    dest = signature_dir("siips1", data_dir) / SIIPS1_FILENAME
    existing = siips1_path(data_dir)
    if existing is not None:
        verified_siips1(existing)
        return existing
    sha = download_file(url, dest, timeout=timeout, opener=opener)
    _write_checksum_record(dest, sha, how="download", url=url)
    return dest
