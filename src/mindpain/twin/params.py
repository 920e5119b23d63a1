"""The twin's parameter file: load it, apply a preset, tabulate each value's status."""

from __future__ import annotations

import copy
import hashlib
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pandas as pd

from mindpain.config import check_preset

STATUSES = ("reported", "derived", "context", "assumed")


@dataclass(frozen=True)
class Parameters:
    """Parameters of the twin for one preset.

    Attributes
    ----------
    preset : str
        ``"small"``, ``"full"`` or ``"reduced"``.
    raw : dict
        The parameter file, with the preset's overrides applied. Each entry is a table
        with ``value``, ``status`` and optional ``unit`` and ``note``.
    sha256 : str
        Checksum of the parameter file text.
    """

    preset: str
    raw: dict
    sha256: str

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
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return "matrix " + "x".join([str(len(value)), str(len(value[0]))])
    return str(value)


@lru_cache(maxsize=4)
def load_parameters(preset: str = "full") -> Parameters:
    """Load ``parameters.toml`` and apply the overrides of ``preset``.

    Examples
    --------
    >>> p = load_parameters("small")
    >>> p["design.n_meditators"]
    4

    The result is cached; treat it as read-only.
    """
    check_preset(preset)
    text = resources.files("mindpain.twin").joinpath("parameters.toml").read_text()
    raw = tomllib.loads(text)
    for section, entries in raw.items():
        if section in ("meta", "presets"):
            continue
        for name, entry in entries.items():
            if entry.get("status") not in STATUSES:
                raise ValueError(f"parameters.toml: {section}.{name} has no valid status")
    raw = copy.deepcopy(raw)
    for name, value in raw.get("presets", {}).get(preset, {}).items():
        raw["design"][name]["value"] = value
    return Parameters(preset=preset, raw=raw, sha256=hashlib.sha256(text.encode()).hexdigest())
