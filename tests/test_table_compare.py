"""Result tables held against reference values within tolerances: kinds, limits, report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mindpain.core.errors import MindpainError
from mindpain.core.io import write_tsv
from mindpain_book import table_compare
from mindpain_book.table_compare import ATOL, RTOL

#: A value of the committed twin-recovery table (a slope), as written.
SLOPE = 12.749705238420805


def _frame(slope=SLOPE, p=0.0, n=24, label="nps"):
    return pd.DataFrame({"signature": [label, "siips1"], "slope": [slope, 7.8],
                         "p": [p, np.nan], "n_sessions": [n, 24],
                         "covers": [True, False]})


def _folder(path, **tables):
    path.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        write_tsv(path / f"{name}.tsv", frame)
        (path / f"{name}.json").write_text('{"slope": "a slope"}')
    return path


def _check(tmp_path, capsys, *extra, **tables):
    reference = _folder(tmp_path / "ref", recovery=_frame(), other=_frame())
    built = _folder(tmp_path / "built", **tables)
    code = table_compare.main(["check", "--tables", str(built), "--reference",
                               str(reference), *extra])
    return code, capsys.readouterr().out.splitlines()


def test_kinds_come_from_how_the_reference_writes_each_column(tmp_path):
    write_tsv(tmp_path / "t.tsv", _frame())
    kinds = table_compare.column_kinds(table_compare.read_text_table(tmp_path / "t.tsv"))
    assert kinds == {"signature": "label", "slope": "value", "p": "value",
                     "n_sessions": "count", "covers": "label"}
    # A float column whose values are whole numbers is still written as floats.
    write_tsv(tmp_path / "w.tsv", pd.DataFrame({"x": [12.0, 3.0]}))
    assert table_compare.column_kinds(table_compare.read_text_table(tmp_path / "w.tsv")) == {
        "x": "value"}


@pytest.mark.parametrize(("factor", "ok"), [(0.9, True), (1.1, False), (-0.9, True),
                                            (-1.1, False)])
def test_a_value_just_inside_the_tolerance_passes_just_outside_fails(tmp_path, capsys,
                                                                      factor, ok):
    slope = SLOPE + factor * (RTOL * SLOPE + ATOL)
    code, out = _check(tmp_path, capsys, recovery=_frame(slope=slope), other=_frame())
    assert code == (0 if ok else 1)
    line = next(x for x in out if x.startswith("recovery.tsv"))
    assert ("reproduced" if ok else "DIFFERS") in line.split()[1]
    assert "slope, row 1" in line and f"{abs(factor):.2g} of its tolerance" in line


@pytest.mark.parametrize(("p", "ok"), [(0.9 * ATOL, True), (1.1 * ATOL, False)])
def test_a_value_at_zero_is_held_to_the_absolute_floor(tmp_path, capsys, p, ok):
    code, _ = _check(tmp_path, capsys, recovery=_frame(p=p), other=_frame())
    assert code == (0 if ok else 1)


@pytest.mark.parametrize("changed", [{"n": 25}, {"label": "NPS"}, {"p": np.nan}])
def test_counts_labels_and_missing_values_must_be_exact(tmp_path, capsys, changed):
    code, out = _check(tmp_path, capsys, recovery=_frame(**changed), other=_frame())
    assert code == 1
    assert out[0].split()[:2] == ["other.tsv", "reproduced"]
    assert out[1].split()[:2] == ["recovery.tsv", "DIFFERS"]


def test_shape_and_column_changes_are_named(tmp_path, capsys):
    code, out = _check(tmp_path, capsys, recovery=_frame().iloc[:1], other=_frame().iloc[:, ::-1])
    assert code == 1
    assert "1 rows, reference 2" in out[1] and "columns" in out[0]


def test_one_line_per_table_a_missing_and_an_extra_table_named(tmp_path, capsys):
    code, out = _check(tmp_path, capsys, recovery=_frame(), extra=_frame())
    assert code == 1
    assert [line.split()[:2] for line in out[:-1]] == [
        ["extra.tsv", "unexpected"], ["other.tsv", "missing"],
        ["recovery.tsv", "reproduced"]]
    assert out[-1].startswith("1 of 3 tables reproduced within tolerance")
    assert "every value identical" in out[2]


def test_bytes_mode_refuses_a_difference_the_tolerance_accepts(tmp_path, capsys):
    tables = {"recovery": _frame(slope=SLOPE * (1 + RTOL / 10)), "other": _frame()}
    code, _ = _check(tmp_path, capsys, **tables)
    assert code == 0
    code, out = _check(tmp_path, capsys, "--bytes", **tables)
    assert code == 1
    assert out[1].split()[:2] == ["recovery.tsv", "DIFFERS"] and "byte-identical" in out[0]


def test_record_copies_tables_and_sidecars_then_the_check_passes(tmp_path, capsys):
    built = _folder(tmp_path / "built", a=_frame(), b=_frame(n=3))
    reference = tmp_path / "reference"
    assert table_compare.main(["record", "--tables", str(built), "--reference",
                               str(reference)]) == 0
    assert sorted(p.name for p in reference.iterdir()) == ["a.json", "a.tsv", "b.json",
                                                            "b.tsv"]
    assert table_compare.main(["check", "--tables", str(built), "--reference",
                               str(reference), "--bytes"]) == 0
    assert "2 of 2 tables reproduced byte for byte" in capsys.readouterr().out


def test_bad_input_one_line_exit_2(tmp_path, capsys):
    built = _folder(tmp_path / "built", a=_frame())
    empty = tmp_path / "none"
    assert table_compare.main(["check", "--tables", str(built), "--reference",
                               str(empty)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(empty) in err and "reference tables" in err
    assert not empty.exists()
    (built / "a.tsv").write_bytes(b"x\ty\n1\t2\t3\t4\n")
    with pytest.raises(MindpainError, match="a.tsv"):
        table_compare.read_text_table(built / "a.tsv")


def test_the_page_shows_the_tolerances_the_check_uses(tmp_path):
    rules = {kind: rule for kind, _, rule in table_compare.rule_rows()}
    assert set(rules) == {"value", "count", "label"}
    assert f"{RTOL:g} * |ref| + {ATOL:g}" in rules["value"]
    reference = _folder(tmp_path / "ref", a=_frame())
    assert table_compare.reference_rows(reference) == [["a.tsv", 2, 2, 1, 2]]


def test_the_published_reference_is_complete_and_matches_the_recorded_checksums():
    from mindpain_book import table_record

    names = table_compare.table_names(table_compare.REFERENCE, "the reference tables")
    assert all((table_compare.REFERENCE / n).with_suffix(".json").is_file() for n in names)
    hashes = {n: table_record.sha256(table_compare.REFERENCE / n) for n in names}
    assert table_record.differences(table_record.read_record(table_record.RECORD), hashes) == []


@pytest.mark.parametrize(("factor", "status"), [(0.9, "reproduced"), (1.1, "DIFFERS")])
def test_a_published_table_perturbed_in_every_value_column(factor, status):
    reference = table_compare.read_text_table(table_compare.REFERENCE / "trial_effects.tsv")
    kinds = table_compare.column_kinds(reference)
    assert {kinds["estimate_d"], kinds["p"], kinds["n"], kinds["model"]} == {
        "value", "count", "label"}
    table = reference.copy()
    for col in [c for c, k in kinds.items() if k == "value"]:
        row = next(i for i, c in enumerate(reference[col]) if c != "n/a")
        ref = float(reference.at[row, col])
        table.at[row, col] = repr(ref + factor * (RTOL * abs(ref) + ATOL))
    result = table_compare.compare_table("trial_effects.tsv", table, reference)
    assert result.status == status
    assert result.worst == pytest.approx(factor, rel=1e-6)
