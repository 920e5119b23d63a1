"""Real data the package can fetch: the pain21 maps (NeuroVault collection 1425).

pain21 holds 21 real group-level pain contrast maps (one per study, MNI152 2 mm, CC0;
Maumet et al. 2016, curated by Vandekar & Garbett in the R package ``pain21``). They are
used to test signature scoring, resampling and plotting on real maps; their signature
responses are not a replication of any published result.

Where the files come from (in this order):

1. a local copy in ``<data_dir>/pain21_neurovault1425/`` (``data_dir`` defaults to
   :attr:`mindpain.core.config.Config.data_dir`, i.e. ``$MINDPAIN_DATA`` or the user cache);
2. otherwise the pinned upstream commit of github.com/simonvandekar/pain21, downloaded
   into that folder.

Every file, local or downloaded, is checked against the size and sha256 table below
(copied from the data's ``PROVENANCE.md``); a downloaded file that does not match is
deleted and an error raised. With ``MINDPAIN_HASH_CACHE`` set, an unchanged file's checksum
is reused (:func:`mindpain.core.checksums.sha256`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from mindpain.core.checksums import sha256 as file_sha256
from mindpain.core.errors import MindpainError
from mindpain.core.io import TMP_PREFIX, plain_permissions

#: Upstream commit of github.com/simonvandekar/pain21 ("Added software version to data
#: table.", 2023-07-07); pinned so the bytes cannot change under the checksums.
PAIN21_COMMIT = "99073b7848e1069b90cf62c36f409c3f7b372c47"
#: Folder holding the files upstream, and the download base URL.
PAIN21_URL = (f"https://raw.githubusercontent.com/simonvandekar/pain21/{PAIN21_COMMIT}"
              "/inst/pain21/")
#: Folder name of the local copy inside the data directory.
PAIN21_DIRNAME = "pain21_neurovault1425"
#: Number of study maps.
PAIN21_N_MAPS = 21
#: ``file name -> (bytes, sha256)``, from PROVENANCE.md of the project's copy.
PAIN21_FILES: dict[str, tuple[int, str]] = {
    "contrast_pain_01.nii.gz": (832122, "1e94ac5b0119a77fbfcca995c19df971feef0491b4bab2876259ebe0b1253596"),  # noqa: E501
    "contrast_pain_02.nii.gz": (808277, "6babef63475a2db79099720fc3505e8bf7a731e5f17488f35054d8fd02485351"),  # noqa: E501
    "contrast_pain_03.nii.gz": (902130, "b52d24d6e4197c53cb7c7235d62f50e753f5a1bcbd3bf2f330647427aadbba2b"),  # noqa: E501
    "contrast_pain_04.nii.gz": (897394, "ee181c9f17c5f11d8f542e571deecf7bb0e85d64d3c22377575917d27366a356"),  # noqa: E501
    "contrast_pain_05.nii.gz": (1026595, "925af03e14695ac797f09a59575035ff7afb2fdfa812a2cd952fba5768a1440e"),  # noqa: E501
    "contrast_pain_06.nii.gz": (1014727, "6328d014f8a2519a851304d34b52791cf3ad4d1fe4558f4ae26ea00a869b2385"),  # noqa: E501
    "contrast_pain_07.nii.gz": (1003167, "c96e8d17a589ecef9cab011c35956bb62a61d98a1417892471f49e53f295b3d1"),  # noqa: E501
    "contrast_pain_08.nii.gz": (1071790, "5f930defcacfac788d1cfc4077c1b40f977c5d2b81b6d097d7d787fe55961f2b"),  # noqa: E501
    "contrast_pain_09.nii.gz": (1109688, "b4e2f9c73bad822dd9aa0dec6ca4fd856c5b57cd3d31853236ae0073d369d339"),  # noqa: E501
    "contrast_pain_10.nii.gz": (1084346, "a7763abd8c79b7fb19e944008a757455414dd41b30e44b2f6f07d861ea2295b9"),  # noqa: E501
    "contrast_pain_11.nii.gz": (1076916, "199195c3c4236bd0600a298398511848b6ad0aafef4ce6f9584426fc72780874"),  # noqa: E501
    "contrast_pain_12.nii.gz": (1042440, "00ba748fa3d8be72fce2105e4e61de883ce44c9eeee02ab9ce5fa180f8f9cab7"),  # noqa: E501
    "contrast_pain_13.nii.gz": (937520, "735a2057b54d546bb996f63e2cbe74d37f265d2f936222c55c3b7be06ba61c44"),  # noqa: E501
    "contrast_pain_14.nii.gz": (968411, "334560a009a70d12e2ca92ffdd5a27e00334e9d7b82e3166230e3ede3040148c"),  # noqa: E501
    "contrast_pain_15.nii.gz": (970095, "bd61a54b4f402381971e334e7a82e9389e36f86f0a7638f0847cde09ab9eecf9"),  # noqa: E501
    "contrast_pain_16.nii.gz": (985551, "7437a9e3134ab748a703ec4c5e5b3629d6e68b672c178065c31c8cb76452a0b9"),  # noqa: E501
    "contrast_pain_17.nii.gz": (935340, "aa98ca69f036e8070fd3c1088f13993bfe1b10c43457e7c483f496893f01c03a"),  # noqa: E501
    "contrast_pain_18.nii.gz": (935974, "28f340fbfa70dfb7521d222ab2d3f7016d47c1e993382a3313762cc45b9197bd"),  # noqa: E501
    "contrast_pain_19.nii.gz": (952426, "bcb9d40fd81890abd97c4109988f55214f8ad34027e20e5e259d5336253a5923"),  # noqa: E501
    "contrast_pain_20.nii.gz": (943843, "e6df712ea78fa06a6dc824d77940dced33943bc0b0adc69687fcdbb6490a3f0c"),  # noqa: E501
    "contrast_pain_21.nii.gz": (1024100, "27072dac1cdda961ab7b4bce6adebd3fc7bc1087cec83e1d95b7f9903c461a6e"),  # noqa: E501
    "mask.nii.gz": (20445, "b0e4461cd5ffd114c142a9905fcb35197786d24ba256f1b9a03dae20a95fd287"),
    "samplesize.csv": (270, "3cb9b7b775c5d636f5a714beaa7d3944ee25830043bcc37e2aa8e638ae6d4bcf"),
}
#: Columns of ``samplesize.csv`` (the file has no header).
SAMPLESIZE_COLUMNS = ("study_id", "n_subjects", "spm_flag")
NORMALISATIONS = ("zscore", "l2")
_DOWNLOAD_TIMEOUT_S = 60
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Pain21:
    """The pain21 files, checked.

    Attributes
    ----------
    root : pathlib.Path
        Folder holding the files.
    maps : tuple of pathlib.Path
        The 21 contrast maps, ``contrast_pain_01.nii.gz`` ... ``contrast_pain_21.nii.gz``.
    mask : pathlib.Path
        Voxels inside the analysis mask of at least 11 of the 21 studies.
    sample_sizes : pandas.DataFrame
        ``study_id, n_subjects, spm_flag, map``; ``spm_flag`` 1 = analysed in SPM (map
        scaled ×100 by the curator), 0 = FSL.
    source : str
        ``"local copy"`` or the URL the files were downloaded from.
    """

    root: Path
    maps: tuple[Path, ...]
    mask: Path
    sample_sizes: pd.DataFrame
    source: str


def verify_file(path, size: int | None, sha256: str) -> None:
    """Check a file's size (cheap, first) and sha256; raise a one-line error on mismatch."""
    path = Path(path)
    if size is not None and path.stat().st_size != size:
        raise MindpainError(f"has {path.stat().st_size} bytes, expected {size} (pinned "
                            "checksum table); delete it and fetch again", path)
    got = file_sha256(path)
    if got != sha256:
        raise MindpainError(f"sha256 {got[:12]}… does not match the pinned {sha256[:12]}…; "
                            "delete it and fetch again", path)


def download_file(url: str, dest, *, sha256: str | None = None, size: int | None = None,
                  timeout: float = _DOWNLOAD_TIMEOUT_S, opener=None) -> str:
    """Download ``url`` to ``dest`` through a temporary file; return the file's sha256.

    The temporary file is renamed onto ``dest`` only when the transfer finished and,
    if ``sha256``/``size`` are given, matched them; otherwise it is deleted and a
    :class:`~mindpain.core.errors.MindpainError` naming ``dest`` is raised.

    Parameters
    ----------
    url : str
        ``https://`` (or, for tests, ``file://``) address.
    dest : path-like
        Where the file goes.
    sha256, size : optional
        Expected checksum and size.
    timeout : float
        Seconds before a stalled connection fails.
    opener : callable, optional
        Replacement for :func:`urllib.request.urlopen` (tests).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    opener = opener or urllib.request.urlopen
    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{dest.name}-", suffix=".part",
                               dir=dest.parent)
    tmp = Path(tmp)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with opener(url, timeout=timeout) as response:
                    while block := response.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            except (urllib.error.URLError, OSError, ValueError) as err:
                raise MindpainError(f"download from {url} failed ({err}); check the network "
                                    "or put the file here by hand", dest) from None
        got = digest.hexdigest()
        if size is not None and tmp.stat().st_size != size:
            raise MindpainError(f"download from {url} has {tmp.stat().st_size} bytes, "
                                f"expected {size}; nothing was kept", dest)
        if sha256 is not None and got != sha256:
            raise MindpainError(f"download from {url} has sha256 {got[:12]}…, expected "
                                f"{sha256[:12]}… (pinned); nothing was kept", dest)
        plain_permissions(tmp)  # mkstemp made it 0600; a downloaded file is readable by all
        os.replace(tmp, dest)
        return got
    finally:
        if tmp.exists():
            tmp.unlink()


def pain21_dir(data_dir) -> Path:
    """Folder of the pain21 copy inside ``data_dir`` (the configuration's data directory)."""
    if data_dir is None:
        from mindpain.core.errors import MindpainError

        raise MindpainError("no data directory given for pain21; set MINDPAIN_DATA or pass "
                            "data_dir")
    return Path(data_dir) / PAIN21_DIRNAME


def fetch_pain21(data_dir, *, base_url: str = PAIN21_URL, download: bool = True,
                 timeout: float = _DOWNLOAD_TIMEOUT_S, opener=None) -> Pain21:
    """Return the pain21 files, using a local copy first and downloading what is missing.

    Parameters
    ----------
    data_dir : path-like
        Data directory (the configuration's :attr:`~mindpain.core.config.Config.data_dir`,
        ``$MINDPAIN_DATA``); the files live in ``<data_dir>/pain21_neurovault1425/``.
    base_url : str
        Where missing files are downloaded from (default: the pinned upstream commit).
    download : bool
        If False, a missing file is an error instead of a download.
    timeout : float
        Seconds before a stalled download fails.
    opener : callable, optional
        Replacement for :func:`urllib.request.urlopen` (tests).

    Returns
    -------
    Pain21

    Raises
    ------
    mindpain.core.errors.MindpainError
        A file does not match its pinned size/sha256, or cannot be obtained.

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        p21 = fetch_pain21(cfg.data_dir)
        len(p21.maps), p21.sample_sizes["n_subjects"].sum()
        # (21, 334)
    """
    root = pain21_dir(data_dir)
    downloaded = False
    for name, (size, sha) in PAIN21_FILES.items():
        path = root / name
        if path.is_file():
            verify_file(path, size, sha)
            continue
        if not download:
            raise MindpainError("missing; expected a verified pain21 file here (call "
                                "fetch_pain21(data_dir) with network access, or copy it from "
                                f"{base_url}{name})", path)
        if root.exists() and not os.access(root, os.W_OK):
            raise MindpainError(f"missing and the folder is read-only; copy {name} here from "
                                f"{base_url}{name}", path)
        download_file(base_url + name, path, sha256=sha, size=size, timeout=timeout,
                      opener=opener)
        downloaded = True
    table = pd.read_csv(root / "samplesize.csv", header=None, names=list(SAMPLESIZE_COLUMNS))
    maps = tuple(sorted(root / n for n in PAIN21_FILES if n.startswith("contrast_pain_")))
    table["map"] = [p.name for p in maps]
    return Pain21(root=root, maps=maps, mask=root / "mask.nii.gz", sample_sizes=table,
                  source=base_url if downloaded else "local copy")


def copy_pain21(dest, data_dir=None) -> Path:
    """Copy a verified pain21 folder to ``dest`` (e.g. to work on writable files)."""
    src = fetch_pain21(data_dir, download=False).root
    shutil.copytree(src, dest, dirs_exist_ok=True)
    return Path(dest)


def normalise_pain21(img_or_array, method: str = "zscore", *, mask=None, data_dir=None):
    """Put one pain21 map on a common scale within the pain21 mask.

    The studies' effect units differ (SPM maps were scaled ×100 by the curator, FSL maps
    were not), so compare signature responses across studies only after normalising.
    Statistics use the mask voxels that hold data (finite and non-zero); those voxels are
    rescaled, every other voxel becomes 0, i.e. stays *missing* for signature scoring.

    Parameters
    ----------
    img_or_array : path-like, nibabel image or numpy.ndarray
        A map on the pain21 grid (91 x 109 x 91).
    method : {"zscore", "l2"}
        ``"zscore"``: subtract the mean, divide by the standard deviation (ddof=0);
        ``"l2"``: divide by the Euclidean norm (unit length).
    mask : path-like, image or array, optional
        Default: pain21's ``mask.nii.gz``.
    data_dir : path-like, optional
        Data directory used to find the mask.

    Returns
    -------
    Same kind as the input (an image for a path or image, else an array).

    Examples
    --------
    Illustration (needs data, not run as a doctest)::

        z = normalise_pain21(fetch_pain21(cfg.data_dir).maps[0])
    """
    if method not in NORMALISATIONS:
        raise MindpainError(f"unknown normalisation {method!r}; expected one of "
                            f"{', '.join(NORMALISATIONS)}")
    img = None
    if isinstance(img_or_array, (str, os.PathLike)):
        img = nib.load(img_or_array)
    elif isinstance(img_or_array, nib.spatialimages.SpatialImage):
        img = img_or_array
    data = np.asarray(img.dataobj if img is not None else img_or_array, dtype=np.float64)
    if mask is None:
        mask = fetch_pain21(data_dir, download=False).mask
    if isinstance(mask, (str, os.PathLike)):
        mask = nib.load(mask)
    mask = np.asarray(getattr(mask, "dataobj", mask)) > 0
    if mask.shape != data.shape:
        raise MindpainError(f"map shape {data.shape} differs from the pain21 mask shape "
                            f"{mask.shape}; expected a map on the pain21 grid")
    use = mask & np.isfinite(data) & (data != 0)
    values = data[use]
    if method == "zscore":
        scale = values.std()
        values = values - values.mean()
    else:
        scale = np.sqrt((values**2).sum())
    if not np.isfinite(scale) or scale == 0:
        raise MindpainError("map has no variation inside the pain21 mask; cannot normalise")
    out = np.zeros_like(data)
    out[use] = values / scale
    if img is None:
        return out
    return nib.Nifti1Image(out.astype(np.float32), img.affine, img.header)
