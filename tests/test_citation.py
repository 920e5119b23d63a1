"""CITATION.cff validates against the Citation File Format 1.2.0 schema, offline.

The schema is unpacked from the pinned cffconvert wheel by ``make venv`` / ``make test``
into ``.venv/share/mindpain`` (see the Makefile); nothing is fetched at test time.
"""

from __future__ import annotations

import copy
import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

import mindpain

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = Path(sys.prefix) / "share" / "mindpain" / "cff-schema-1.2.0.json"


@pytest.fixture(scope="module")
def validator():
    if not SCHEMA.is_file():
        pytest.fail(f"{SCHEMA}: CFF schema missing; `make venv` unpacks it")
    schema = json.loads(SCHEMA.read_text())
    assert schema["$id"].endswith("/1.2.0/schema.json")
    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    return jsonschema.Draft7Validator(schema, format_checker=checker)


@pytest.fixture(scope="module")
def citation():
    return yaml.safe_load((ROOT / "CITATION.cff").read_text())


def test_citation_file_is_valid_cff_1_2(validator, citation):
    errors = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(citation)]
    assert errors == []


def test_the_schema_check_can_fail(validator, citation):
    broken = copy.deepcopy(citation)
    del broken["authors"]
    broken["preferred-citation"]["doi"] = "not a doi"
    messages = [e.message for e in validator.iter_errors(broken)]
    assert any("authors" in m for m in messages)
    assert any("not a doi" in m for m in messages)


def test_preferred_citation_is_the_original_paper(citation):
    paper = citation["preferred-citation"]
    assert paper["doi"] == "10.1176/appi.ajp.21020145"
    assert paper["authors"][0]["family-names"] == "Wielgosz"
    assert paper["year"] == 2022


def test_software_version_matches_the_package(citation):
    assert citation["type"] == "software"
    assert str(citation["version"]) == mindpain.__version__
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(rf'^version = "{re.escape(mindpain.__version__)}"', pyproject, re.M)


def test_intro_page_says_how_to_cite():
    intro = (ROOT / "book" / "intro.md").read_text()
    assert "## How to cite" in intro
    assert "10.1176/appi.ajp.21020145" in intro and "CITATION.cff" in intro
