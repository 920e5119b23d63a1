"""The bridge to the twin's planted truth: files read exactly, real data, bad files, layering."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pandas as pd
import pytest

from mindpain import truth
from mindpain.core.config import get_config
from mindpain.core.errors import MindpainError
from mindpain.core.io import write_tsv
from mindpain.core.vocabulary import (
    PLANTED_MEDITATOR_FILE,
    PLANTED_TRIAL_FILE,
    PRESETS,
    TWIN_TRUTH_DIR,
)
from mindpain.meditators import analysis as meditators
from mindpain.trial import analysis as trial
from mindpain.twin import bids as twin_bids
from mindpain.twin.meditators import planted_meditator_effects as generator_meditators
from mindpain.twin.model import planted_trial_effects as generator_trial
from mindpain.twin.params import load_parameters

PACKAGE = Path(truth.__file__).parent
READERS = {PLANTED_TRIAL_FILE: truth.read_trial_truth,
           PLANTED_MEDITATOR_FILE: truth.read_meditator_truth}


def test_twin_files_equal_the_generator_exactly(small_twin):
    """The tables the twin wrote read back as the generator's float64 values, bit for bit."""
    pd.testing.assert_frame_equal(truth.read_trial_truth(small_twin),
                                  generator_trial(load_parameters("small")), check_exact=True)
    pd.testing.assert_frame_equal(truth.read_meditator_truth(small_twin),
                                  generator_meditators(load_parameters("small")),
                                  check_exact=True)
    assert truth.has_planted_truth(small_twin)


@pytest.mark.parametrize("preset", PRESETS)
def test_written_precision_round_trips_for_every_preset(preset, tmp_path):
    """write_tsv's default float format (shortest repr) loses nothing, whatever the preset."""
    folder = tmp_path / TWIN_TRUTH_DIR
    params = load_parameters(preset)
    for name, table in ((PLANTED_TRIAL_FILE, generator_trial(params)),
                        (PLANTED_MEDITATOR_FILE, generator_meditators(params))):
        write_tsv(folder / name, table)
        pd.testing.assert_frame_equal(READERS[name](tmp_path), table,
                                      check_exact=True)


@pytest.mark.parametrize(("name", "recoverable"),
                         [(PLANTED_TRIAL_FILE, "recoverable_d_paper"),
                          (PLANTED_MEDITATOR_FILE, "recoverable")])
def test_a_truth_file_without_the_recoverable_column_is_refused(name, recoverable, tmp_path):
    """Every column is required: a twin written before the recoverable truth existed is
    refused in one line naming the file (the twin regenerates; nothing is guessed)."""
    table = (generator_trial if name == PLANTED_TRIAL_FILE else generator_meditators)(
        load_parameters("small"))
    folder = tmp_path / TWIN_TRUTH_DIR
    write_tsv(folder / name, table.drop(columns=[recoverable]))
    with pytest.raises(MindpainError, match=recoverable):
        READERS[name](tmp_path)


def test_generator_door_delegates_to_the_twin():
    params = load_parameters("small")
    pd.testing.assert_frame_equal(truth.planted_trial_effects(params), generator_trial(params))
    pd.testing.assert_frame_equal(truth.planted_meditator_effects(params),
                                  generator_meditators(params))


def test_twin_labels_its_planted_tables(small_twin):
    folder = small_twin / TWIN_TRUTH_DIR
    for name, sidecar in ((PLANTED_TRIAL_FILE, twin_bids.PLANTED_TRIAL_SIDECAR),
                          (PLANTED_MEDITATOR_FILE, twin_bids.PLANTED_MEDITATOR_SIDECAR)):
        columns = pd.read_csv(folder / name, sep="\t", nrows=0).columns
        assert set(columns) <= set(sidecar), name  # every column is described
        assert (folder / name).with_suffix(".json").is_file()
        assert name in (small_twin / "README.md").read_text()


def test_real_data_has_no_planted_truth(tmp_path):
    (tmp_path / "participants.tsv").write_text("participant_id\tgroup\n")
    assert truth.read_trial_truth(tmp_path) is None
    assert truth.read_meditator_truth(tmp_path) is None
    assert not truth.has_planted_truth(tmp_path)
    cfg = get_config(preset="small", bids_dir=tmp_path)
    assert meditators.truth_for(cfg) is None
    table = trial.truth_table(cfg)
    assert table["planted_d"].isna().all() and table["reported_d"].notna().sum() == 5
    assert "not the simulated twin" in trial.planted_note(cfg)


def test_chapter_truth_comes_from_the_dataset_file(small_twin, tmp_path):
    """Truth follows the dataset's file, not the generator: an edited copy is what is read."""
    copy = tmp_path / "twin"
    shutil.copytree(small_twin / TWIN_TRUTH_DIR, copy / TWIN_TRUTH_DIR)
    table = generator_trial(load_parameters("small"))
    table.loc[0, "planted_d"] = 1.25
    write_tsv(copy / TWIN_TRUTH_DIR / PLANTED_TRIAL_FILE, table)
    got = trial.truth_table(get_config(preset="small", bids_dir=copy, data_dir=tmp_path))
    row = got.set_index(["outcome", "contrast"]).loc[(table.outcome[0], table.contrast[0])]
    assert row["planted_d"] == 1.25
    med = meditators.truth_for(get_config(preset="small", bids_dir=copy))
    pd.testing.assert_frame_equal(med, generator_meditators(load_parameters("small")),
                                  check_exact=True)


def _twin_with(tmp_path, name, text) -> Path:
    folder = tmp_path / TWIN_TRUTH_DIR
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        (folder / name).write_bytes(text)
    else:
        (folder / name).write_text(text)
    return tmp_path


def _good(name) -> str:
    generator = generator_trial if name == PLANTED_TRIAL_FILE else generator_meditators
    table = generator(load_parameters("small"))
    return table.to_csv(sep="\t", index=False, na_rep="n/a", lineterminator="\n")


def _bad_files(name):
    good = _good(name)
    header, first, *rest = good.splitlines()
    cols = header.split("\t")
    cells = first.split("\t")
    numeric = cols.index("planted_d" if name == PLANTED_TRIAL_FILE else "planted")
    wrong_number = cells.copy()
    wrong_number[numeric] = "big"
    wrong_key = cells.copy()
    wrong_key[0] = "npss"
    return {
        "missing column": ("\n".join(["\t".join(cols[:-1])] + [
            "\t".join(r.split("\t")[:-1]) for r in [first, *rest]]) + "\n", cols[-1]),
        "not a number": ("\n".join([header, "\t".join(wrong_number), *rest]) + "\n",
                         "'big' on line 2"),
        "unknown outcome": ("\n".join([header, "\t".join(wrong_key), *rest]) + "\n",
                            "'npss' on line 2"),
        "repeated row": ("\n".join([header, first, first, *rest]) + "\n", "on line 3"),
        "header only": (header + "\n", "no rows"),
        "empty": ("", "cannot be read"),
        "ragged": ("\n".join([header, first + "\tx\ty", *rest]) + "\n",
                   f"line 2 has {len(cols) + 2} fields, the header {len(cols)}"),
        "binary": (b"\xff\xfe\x00 not text", "cannot be read as text"),
    }


@pytest.mark.parametrize("name", list(READERS))
@pytest.mark.parametrize("case", ["missing column", "not a number", "unknown outcome",
                                  "repeated row", "header only", "empty", "ragged",
                                  "binary"])
def test_bad_file_is_one_line_naming_it(name, case, tmp_path):
    text, expected = _bad_files(name)[case]
    root = _twin_with(tmp_path, name, text)
    with pytest.raises(MindpainError) as err:
        READERS[name](root)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(str(root / TWIN_TRUTH_DIR / name) + ": ")
    assert expected in message


@pytest.mark.parametrize("name", list(READERS))
def test_twin_without_its_table_says_so(name, tmp_path):
    (tmp_path / TWIN_TRUTH_DIR).mkdir(parents=True)
    with pytest.raises(MindpainError, match=f"{name}: is missing .* regenerate"):
        READERS[name](tmp_path)


def test_not_a_folder(tmp_path):
    with pytest.raises(MindpainError, match="is not a folder"):
        truth.read_trial_truth(tmp_path / "absent")


# ---------------------------------------------------------------- layering


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, names)`` of every import in ``path`` (names empty for ``import x``)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names]
    return out


def test_only_the_bridge_reaches_the_planted_truth():
    """Outside the twin, no module but mindpain.truth imports the generator's planted truth."""
    planted = {"planted_trial_effects", "planted_meditator_effects"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "twin" or rel == Path("truth.py"):
            continue
        for module, names in _imports(path):
            if module.startswith("mindpain.twin") and planted & set(names):
                offenders.append(f"{rel}: {module}")
    assert not offenders


def test_bridge_sits_between_the_twin_and_the_statistics():
    """The bridge imports only the vocabulary, the foundations and the twin: nothing above."""
    allowed = ("mindpain.core.vocabulary", "mindpain.core.errors", "mindpain.core.io",
               "mindpain.twin")
    found = {m for m, _ in _imports(PACKAGE / "truth.py") if m.startswith("mindpain")}
    assert found and all(m.startswith(allowed) for m in found), found
