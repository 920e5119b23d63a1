"""The twin's parameter file: load it, apply a preset, tabulate each value's status."""

from __future__ import annotations

import copy
import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from mindpain.core.config import check_preset, check_world
from mindpain.core.vocabulary import DEFAULT_WORLD, PARAMETER_STATUSES

STATUSES = PARAMETER_STATUSES
#: Package file holding the measured pipeline transfer (:mod:`mindpain.endtoend.transfer`).
TRANSFER_FILE = "pipeline_transfer.toml"
#: Values of one world and signature in :data:`TRANSFER_FILE`.
TRANSFER_FIELDS = ("gain", "offset_ratio", "change_noise_ratio", "level_noise_ratio")
#: Parts of a signature whose share the analysis mask keeps: its loading on each latent
#: response and its session noise variance (:mod:`mindpain.twin.through_pipeline`).
KEPT_PARTS = ("nociceptive", "modulatory", "noise")
#: Marker in ``parameters.toml``: take this outcome's reported effects from mindpain.reported.
REPORTED_SOURCE = "mindpain.reported"


@dataclass(frozen=True, eq=False)
class Parameters:
    """Parameters of the twin for one preset.

    Made once per run by :func:`load_parameters` and handed down: the twin's functions take
    this object, not a preset name. Two are equal, and hash alike, when they were made for the
    same preset and world from the same files with or without the transfer (:meth:`key`), so a
    cached function (``functools.lru_cache``) can key on one. Treat it as read-only: a copy
    whose ``raw`` values are changed needs a ``sha256`` of its own
    (``dataclasses.replace``), or the caches take it for the file's parameters.

    Attributes
    ----------
    preset : str
        One of :data:`mindpain.core.vocabulary.PRESETS`.
    world : str
        ``"realistic"`` or ``"ideal"`` (see :data:`mindpain.core.vocabulary.WORLDS`).
    raw : dict
        The parameter file, with the preset's overrides applied. Each entry is a table
        with ``value``, ``status`` and optional ``unit`` and ``note``.
    sha256 : str
        Checksum of the parameter file text.
    """

    preset: str
    raw: dict
    sha256: str
    world: str = DEFAULT_WORLD

    def key(self) -> tuple:
        """Return what identifies the parameters: ``(preset, world, sha256, with_transfer)``."""
        return (self.preset, self.world, self.sha256, self.with_transfer)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Parameters):
            return NotImplemented
        return self.key() == other.key()

    def __hash__(self) -> int:
        return hash(self.key())

    @property
    def with_transfer(self) -> bool:
        """Whether the measured pipeline transfer was loaded (section ``[pipeline]``).

        ``True`` for the twin's own planting; ``False`` when loaded with ``transfer=False``
        (the effects planted for the measurement model itself) or when no transfer was
        measured.
        """
        return "pipeline" in self.raw

    @property
    def realistic(self) -> bool:
        """Whether the generator adds the nuisance of section ``[nuisance]``."""
        return self.world == "realistic"

    def transfer(self, readout: str) -> dict | None:
        """Return the measured pipeline transfer of ``readout`` in this world, or ``None``.

        ``{"gain", "offset_ratio", "change_noise_ratio", "level_noise_ratio"}`` and the
        shares the analysis mask of this preset's grid keeps, ``kept_nociceptive``,
        ``kept_modulatory`` and ``kept_noise`` (see :mod:`mindpain.endtoend.transfer` and
        :mod:`mindpain.twin.through_pipeline`); ``None`` when the parameters were loaded
        without it or it was not measured for this signature.
        """
        entry = self.raw.get("pipeline", {}).get(f"{self.world}_{readout}")
        return None if entry is None else entry["value"]

    def __getitem__(self, dotted: str):
        """Return the value at ``"section.name"`` (e.g. ``"task.repetition_time"``)."""
        section, name = dotted.split(".", 1)
        return self.raw[section][name]["value"]

    def table(self) -> pd.DataFrame:
        """One row per parameter: ``section, parameter, value, unit, status, note``."""
        rows = []
        for section, entries in self.raw.items():
            if section in ("meta", "presets"):
                continue
            for name, entry in entries.items():
                rows.append({"section": section, "parameter": name,
                             "value": _fmt(entry["value"]), "unit": entry.get("unit", ""),
                             "status": entry["status"], "note": entry.get("note", "")})
        return pd.DataFrame(rows)


def _fmt(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v) if isinstance(v, float) else v}"
                         for k, v in value.items())
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return f"{len(value)} regions: " + ", ".join(str(v.get("name", "?")) for v in value)
    if isinstance(value, list) and not any(isinstance(v, list) for v in value):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, list):
        return "matrix " + "x".join([str(len(value)), str(len(value[0]))])
    return str(value)


@lru_cache(maxsize=8)
def load_parameters(preset: str = "full", world: str = DEFAULT_WORLD,
                    transfer: bool = True) -> Parameters:
    """Load ``parameters.toml`` and apply the overrides of ``preset``.

    ``world`` is carried in the result (:attr:`Parameters.world`): the ``[nuisance]``
    values are used by the BOLD generator only in the ``realistic`` world.

    With ``transfer`` (default), the section ``[pipeline]`` holds what the pipeline does to a
    latent effect in each world (:data:`TRANSFER_FILE`, measured by ``make transfer``; one
    entry ``<world>_<signature>``), through which the twin plants its effects
    (:func:`mindpain.twin.model.constants_of`); ``transfer=False`` leaves it out, so the
    effects are planted for the measurement model itself (the transfer's own measurement
    draws from that planting). The checksum covers both files.

    Examples
    --------
    >>> p = load_parameters("small")
    >>> p["design.n_meditators"]
    4

    The result is cached; treat it as read-only.
    """
    check_preset(preset)
    check_world(world)
    text = resources.files("mindpain.twin").joinpath("parameters.toml").read_text()
    raw = tomllib.loads(text)
    transfer_file = resources.files("mindpain.twin").joinpath(TRANSFER_FILE)
    if transfer and transfer_file.is_file():
        transfer_text = transfer_file.read_text()
        raw["pipeline"] = _transfer_entries(tomllib.loads(transfer_text), preset)
        text += transfer_text
    for section, entries in raw.items():
        if section in ("meta", "presets"):
            continue
        for name, entry in entries.items():
            if entry.get("status") not in STATUSES:
                raise ValueError(f"parameters.toml: {section}.{name} has no valid status")
    raw = copy.deepcopy(raw)
    for name, value in raw.get("presets", {}).get(preset, {}).items():
        raw["design"][name]["value"] = value
    for name, entry in raw.get("effects", {}).items():
        if entry.get("value") == REPORTED_SOURCE:
            _fill_reported(name, entry)
    return Parameters(preset=preset, raw=raw, sha256=hashlib.sha256(text.encode()).hexdigest(),
                      world=world)


def participant_level_parameters(preset: str = "full") -> Parameters:
    """Load the parameters of the twin's participant-level model of ``preset``.

    The studies that draw the participant level alone, without BOLD (trial and meditator
    calibration, design analysis; :func:`mindpain.twin.participants.simulate_observed`),
    never pass through the pipeline: they plant for the measurement model itself, in the
    ideal world: ``load_parameters(preset, "ideal", transfer=False)``.

    Parameters
    ----------
    preset : str
        One of :data:`mindpain.core.vocabulary.PRESETS`.

    Returns
    -------
    mindpain.twin.params.Parameters
        The cached parameters (:func:`load_parameters`).
    """
    return load_parameters(preset, "ideal", transfer=False)


def _transfer_entries(measured: dict, preset: str) -> dict:
    """Parameter entries ``<world>_<signature>`` of the measured transfer (``[pipeline]``).

    The gain, offset and noise ratios were measured over the loadings the analysis mask
    keeps (``[<world>.<signature>]``); each entry adds the shares the mask of ``preset``'s
    grid keeps of the signature's loading on each latent response and of its noise variance
    (``[mask.<world>.<preset>.<signature>]``, :func:`mindpain.endtoend.transfer.mask_ratios`)
    as ``kept_<latent>`` and ``kept_noise`` (:mod:`mindpain.twin.through_pipeline`).
    """
    masks = measured.get("mask", {})
    entries = {}
    for world, readouts in measured.items():
        if world in ("grid", "mask"):
            continue
        check_world(world)
        for readout, values in readouts.items():
            missing = sorted(set(TRANSFER_FIELDS) - set(values))
            if missing:
                raise ValueError(f"{TRANSFER_FILE}: [{world}.{readout}] lacks {missing}")
            value = {k: float(values[k]) for k in TRANSFER_FIELDS}
            if masks:
                try:
                    kept = masks[world][preset][readout]
                    value.update({f"kept_{k}": float(kept[k]) for k in KEPT_PARTS})
                except KeyError:
                    raise ValueError(f"{TRANSFER_FILE}: no [mask.{world}.{preset}.{readout}] "
                                     f"with {list(KEPT_PARTS)}; run make transfer") from None
            entries[f"{world}_{readout}"] = {
                "value": value, "status": "derived",
                "note": f"what the pipeline does to a latent {readout} effect in the {world} "
                        "world: gain, offset and noise over the loadings the analysis mask "
                        f"keeps on the {preset} grid (kept_*), relative to the measurement "
                        "model (measured by make transfer; mindpain.endtoend.transfer)"}
    return entries


def _fill_reported(outcome: str, entry: dict) -> None:
    """Fill an ``effects`` entry from :mod:`mindpain.reported` (observed change-score d).

    ``value`` becomes the change-score d (:math:`d_s` between arms, :math:`d_z` within) of
    every contrast the paper reports for ``outcome``. If the MBSR within-arm change is not
    reported, the entry must state ``assumed.controls_mean_change`` (the completer-weighted
    mean change of HEP and WL, in the same d units); MBSR within is then derived from it
    and the reported between-arm d and stored under ``derived``.
    """
    from mindpain.reported import N_COMPLETERS, effect_scale_table

    table = effect_scale_table()
    rows = table[table["outcome"] == outcome]
    if rows.empty:
        raise ValueError(f"parameters.toml: effects.{outcome} takes its values from "
                         f"{REPORTED_SOURCE}, which reports nothing for {outcome!r}")
    entry["value"] = {r.contrast: float(r.d_change) for r in rows.itertuples()}
    if "MBSR_within" not in entry["value"]:
        base = entry.get("assumed", {}).get("controls_mean_change")
        if base is None:
            raise ValueError(f"parameters.toml: effects.{outcome} has no MBSR within-arm "
                             "change; state assumed.controls_mean_change")
        controls = [a for a in N_COMPLETERS if a != "MBSR"]
        weights = [N_COMPLETERS[a] for a in controls]
        # arm change = MBSR change - d(MBSR vs arm); the controls' weighted mean is `base`.
        mbsr = base + sum(w * entry["value"][f"MBSR_vs_{a}"]
                          for a, w in zip(controls, weights, strict=True)) / sum(weights)
        entry["derived"] = {"MBSR_within": float(mbsr)}
