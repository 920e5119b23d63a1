"""A dataset map (issue #29): a study's own names read as the book's, and refused when wrong.

The realistic fixture (``_foreign_helpers.foreign_copy``) is the small twin under a study's
own names with fMRIPrep derivatives in two spaces; read through its map it must give the
book's tables exactly, and the first level the same maps bit for bit.
"""

from __future__ import annotations

import shutil

import nibabel as nib
import numpy as np
import pytest
from _foreign_helpers import FOREIGN_MAP, NATIVE_SPACE, foreign_copy, standard_copy
from _safety_helpers import one_line, run_cli
from conftest import work_config

from mindpain import bids
from mindpain.bids.datamap import MAP_FILE, DatasetMap, read_map, resolve_map
from mindpain.core.errors import MindpainError
from mindpain.core.vocabulary import MOTION_CONFOUNDS
from mindpain.first_level import runs as fl
from mindpain.pipeline import first_level_dir, first_level_inputs

MINIMAL = """task = "pain"
[conditions]
hot = ["high"]
warm = "low"
[sessions]
pre = "1"
post = "2"
[groups]
MBSR = "mbsr"
HEP = "hep"
WL = "wl"
"""


def _write(tmp_path, text):
    path = tmp_path / MAP_FILE
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- the file


def test_the_example_map_reads_every_key():
    m = read_map(FOREIGN_MAP)
    assert m.task == "pain" and m.group_column == "arm"
    assert m.trial_types() == {"high": "hot", "low": "warm", "rate": "rating"}
    assert m.book_session("1") == "pre" and m.book_session("2") == "post"
    assert m.book_session("3") == "3"  # another session keeps its own label
    assert m.book_group() == {"mbsr": "MBSR", "hep": "HEP", "wl": "WL", "ltm": "LTM"}
    assert m.rating_columns() == {"pain_intensity": "intensity_rating",
                                  "pain_unpleasantness": "unpleasantness_rating"}
    assert m.practice["file"] == "phenotype/meditation.tsv" and not m.is_book


def test_the_books_own_names_round_trip(tmp_path):
    assert DatasetMap().is_book
    again = read_map(_write(tmp_path, DatasetMap().to_toml()))
    assert again.is_book and again.to_toml() == DatasetMap().to_toml()
    assert resolve_map(tmp_path / "elsewhere").is_book  # no map beside it: the book's names


@pytest.mark.parametrize("text, message", [
    (MINIMAL.replace('task = "pain"\n', ""), "missing key task"),
    (MINIMAL.replace('warm = "low"\n', ""), "missing key conditions.warm"),
    (MINIMAL.replace('post = "2"\n', ""), "missing key sessions.post"),
    (MINIMAL.replace('WL = "wl"\n', ""), "missing key groups.WL"),
    (MINIMAL + "[extras]\nx = 1\n", "unknown key extras"),
    (MINIMAL.replace("hot = ", "hott = "), "unknown key conditions.hott"),
    (MINIMAL.replace('pre = "1"', 'baseline = "1"'), "unknown key sessions.baseline"),
    (MINIMAL.replace('warm = "low"', 'warm = "high"'), "given to both conditions.hot"),
    (MINIMAL.replace('post = "2"', 'post = "1"'), "name the same session"),
    (MINIMAL.replace('hot = ["high"]', "hot = []"), "conditions.hot must be a label"),
    (MINIMAL.replace('task = "pain"', 'task = ""'), "task must be a non-empty label"),
    ("task = \n", "not a TOML file"),
])
def test_a_wrong_map_file_is_one_error_naming_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(MindpainError, match=message) as err:
        read_map(path)
    assert err.value.path == str(path) and "\n" not in str(err.value)


# --------------------------------------------------------------------------- the data


@pytest.fixture(scope="module")
def layouts(own_layouts):
    """The two copies of the small twin the chapters' tests on a user's dataset read
    (``own_layouts`` in ``tests/conftest.py``, made once per run): read only here."""
    return own_layouts["standard"], own_layouts["foreign"]


@pytest.mark.heavy
def test_the_copies_leave_the_twin_they_are_made_from_unchanged(small_twin, tmp_path):
    """The copies share the twin's files (hard links): none may be written through."""
    from mindpain.core.checksums import sha256

    before = {p: sha256(p) for p in sorted(small_twin.rglob("*")) if p.is_file()}
    standard_copy(small_twin, tmp_path / "standard")
    foreign_copy(small_twin, tmp_path / "foreign")
    assert {p: sha256(p) for p in sorted(small_twin.rglob("*")) if p.is_file()} == before


@pytest.mark.heavy
def test_readers_give_the_books_tables_on_a_studys_own_names(layouts, tmp_path):
    standard, foreign = layouts
    assert bids.load_participants(foreign).equals(bids.load_participants(standard))
    assert bids.load_events(foreign).equals(bids.load_events(standard))
    std_runs = bids.list_runs(standard)
    for_runs = bids.list_runs(foreign)
    assert for_runs[["participant_id", "session", "run"]].equals(
        std_runs[["participant_id", "session", "run"]])
    practice, path = bids.practice_from_bids(foreign)
    assert path.name == "meditation.tsv"
    assert practice.equals(bids.practice_from_bids(standard)[0])
    # the same map given as a setting from elsewhere reads the same
    moved = tmp_path / "moved-map.toml"
    shutil.copy(foreign / MAP_FILE, moved)
    assert bids.load_participants(foreign, moved).equals(bids.load_participants(standard))


@pytest.mark.heavy
def test_the_first_level_fits_the_same_maps_under_the_books_names(layouts, shared_work):
    standard, foreign = layouts
    # Fitted where the chapters on these copies fit them (``test_own_data.py``, the same
    # work folder and inputs): whichever test comes first fits, under the first level's
    # folder lock, and the other finds every run current.
    fits = []
    for bids_dir, fmriprep in ((standard, None), (foreign, foreign / "derivatives" / "fmriprep")):
        cfg = work_config(shared_work, n_jobs=2, bids_dir=bids_dir, fmriprep_dir=fmriprep)
        inputs = first_level_inputs(cfg, bids_dir)
        fits.append((first_level_dir(cfg), fl.run_first_level(
            bids_dir, first_level_dir(cfg), n_jobs=cfg.n_jobs, progress=False, **inputs),
            inputs))
    (dir_a, a, inputs_a), (dir_b, b, inputs_b) = fits
    assert inputs_a["confounds_dir"] == standard / "derivatives" / "twin-confounds"
    assert inputs_b["fmriprep"] == foreign / "derivatives" / "fmriprep"
    assert inputs_b["confounds"] == MOTION_CONFOUNDS and inputs_b["confounds_dir"] is None
    assert a.ok and b.ok and b.space == "MNI152NLin2009cAsym:res-2"
    maps_a = sorted(dir_a.rglob("*_stat-effect_statmap.nii.gz"))
    maps_b = sorted(dir_b.rglob("*_stat-effect_statmap.nii.gz"))
    assert len(maps_a) == len(maps_b) > 0
    for x, y in zip(maps_a, maps_b, strict=True):
        # the book's names (task heat, ses-pre/post) in the fMRIPrep space
        assert y.name == x.name.replace("space-MNI152NLin6Asym",
                                        "space-MNI152NLin2009cAsym_res-2")
        assert np.array_equal(np.asarray(nib.load(x).dataobj), np.asarray(nib.load(y).dataobj))
    assert not any(NATIVE_SPACE in p.name for p in dir_b.rglob("*"))


def _broken(foreign, tmp_path, old, new):
    path = tmp_path / "map.toml"
    path.write_text((foreign / MAP_FILE).read_text().replace(old, new))
    return path


@pytest.mark.heavy
@pytest.mark.parametrize("old, new, message", [
    ('pre = "1"', 'pre = "01"', "sessions.pre = '01' is not a session of this dataset "
                                "(found: ses-1, ses-2)"),
    ('hot = ["high"]', 'hot = ["hi"]', "conditions.hot = ['hi'] matches no trial_type"),
    ('task = "pain"', 'task = "heat"', "no task-heat BOLD runs found"),
    ('task = "pain"', '', "missing key task"),
    ('[practice]', '[practise]', "unknown key practise"),
])
def test_a_map_the_data_do_not_hold_stops_the_first_level_in_one_line(
        layouts, tmp_path, capsys, old, new, message):
    _, foreign = layouts
    path = _broken(foreign, tmp_path, old, new)
    out = tmp_path / "out"
    code, _, err = run_cli(["first-level", str(foreign), "--fmriprep",
                            str(foreign / "derivatives" / "fmriprep"), "--dataset-map",
                            str(path), "--out", str(out), "--quiet"], capsys)
    assert code == 2 and message in one_line(err)
    assert not out.exists()


@pytest.mark.heavy
def test_a_practice_column_the_table_lacks_is_refused(layouts, tmp_path):
    """The practice table is read by the chapters, not by the first level."""
    _, foreign = layouts
    path = _broken(foreign, tmp_path, "hours_total", "hours_all")
    with pytest.raises(MindpainError, match="hours_all"):
        bids.load_participants(foreign, path)


@pytest.mark.heavy
def test_an_unmapped_group_value_is_refused_naming_the_map(layouts, tmp_path):
    _, foreign = layouts
    path = _broken(foreign, tmp_path, 'HEP = "hep"', 'HEP = "health"')
    with pytest.raises(MindpainError, match=r"column arm has values \['hep'\]"):
        bids.load_participants(foreign, path)


def test_a_run_without_a_mapped_condition_fails_naming_the_datasets_value(tmp_path):
    path = tmp_path / "sub-01_ses-1_task-pain_run-1_events.tsv"
    path.write_text("onset\tduration\ttrial_type\n0\t5\tlow\n10\t5\tlow\n")
    with pytest.raises(MindpainError, match=r"no 'hot' events \(trial_type high by the "
                                            r"dataset map\)"):
        bids.load_run_events(path, renamed=(("high", "hot"), ("low", "warm")))
    path.write_text("onset\tduration\ttrial_type\n0\t5\thigh\n10\t5\tlow\n")
    got = bids.load_run_events(path, renamed=(("high", "hot"), ("low", "warm")))
    assert got["trial_type"].tolist() == ["hot", "warm"]
