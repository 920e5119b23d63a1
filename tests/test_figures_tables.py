"""Display tables: rows chosen and ordered, labels, rounding; the numbers are not changed."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from mindpain.core.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS
from mindpain.figures.results_tables import (
    demographics,
    meditator_coverage,
    meditator_effects,
    side_by_side,
    trial_effects,
)
from mindpain.figures.tables import (
    COLUMNS,
    MISSING,
    TABLE_CLASS,
    DisplayTable,
    readable_table,
)


def _trial_rows():
    rows = []
    for outcome in ("siips1", "nps"):
        for contrast in ("MBSR_vs_WL", "MBSR_vs_HEP"):
            for model in ("mixedlm", "change_score", "permutation"):
                rows.append({"outcome": outcome, "contrast": contrast, "model": model,
                             "estimate_d": -0.4251, "ci_low": -0.9, "ci_high": 0.05,
                             "estimate_d_paper": -0.5, "p": 0.04567, "p_adj": np.nan,
                             "reported_d": np.nan, "planted_d": -0.42,
                             "covers_planted": True})
    return pd.DataFrame(rows)


def test_trial_effects_order_labels_and_rounding():
    shown = trial_effects(_trial_rows(), models=("change_score", "mixedlm"),
                          outcomes=("nps", "siips1"))
    assert len(shown) == 2 * 2 * 2  # the permutation rows are not asked for
    assert shown["Outcome"].tolist()[:4] == [OUTCOME_LABELS["nps"]] * 4
    assert shown["Model"].tolist()[:2] == ["change score (t test)", "mixed model"]
    assert set(shown["Contrast"]) <= set(CONTRAST_LABELS.values())
    row = shown.frame.iloc[0]
    assert row["d [95% CI], change-score scale"] == "-0.43 [-0.90, 0.05]"
    assert row["p"] == "0.046" and row["p (Holm)"] == MISSING
    assert row["Paper d, paper scale"] == MISSING and shown.note.startswith(MISSING)
    assert shown["CI covers planted"].eq("yes").all()


def test_meditator_effects_shows_missing_values_as_a_dash_with_a_note():
    effects = pd.DataFrame({
        "outcome": ["nps", "nps"], "effect": ["group", "retreat"],
        "method": ["welch_d", "welch_d"], "estimate": [0.123456, np.nan],
        "ci_low": [-0.2, np.nan], "ci_high": [0.44, np.nan], "p": [0.5, np.nan],
        "p_adj": [0.5, np.nan], "planted": [0.1, np.nan], "n": [40, 40], "note": ["", "x"]})
    shown = meditator_effects(effects)
    assert shown["95% CI"].tolist() == ["[-0.20, 0.44]", MISSING]
    assert shown["Estimate"].tolist() == ["0.12", MISSING]
    assert shown["n"].tolist() == ["40", "40"]
    assert shown["Effect"].tolist()[0] == "LTM vs naive"
    assert "no such value" in shown.note


def _table(n=3):
    return pd.DataFrame({
        "outcome": ["nps", "siips1", "intensity"][:n], "contrast": ["MBSR_vs_HEP"] * n,
        "model": ["mixedlm", "ancova", "change_score"][:n], "n1": [28.0, 28.0, 30.0][:n],
        "n2": [32.0, np.nan, 31.0][:n], "p": [0.0001, 0.04567, 0.5][:n],
        "equivalent": [True, False, True][:n], "estimate_d": [-0.4251, 0.1, 2.0][:n]})


def test_readable_table_labels_integers_and_words():
    shown = readable_table(_table(), missing="a within-arm contrast has one arm.")
    assert isinstance(shown, DisplayTable)
    assert shown["Outcome"].tolist() == ["NPS", "SIIPS1", "Intensity"]
    assert shown["Contrast"].tolist() == ["MBSR vs HEP"] * 3
    assert shown["Model"].tolist() == ["mixed model", "ANCOVA", "change score (t test)"]
    assert shown[COLUMNS["n1"].header].tolist() == ["28", "28", "30"]  # never "28.0"
    assert shown[COLUMNS["n2"].header].tolist() == ["32", MISSING, "31"]
    assert shown["p"].tolist() == ["<0.001", "0.046", "0.500"]
    assert shown[COLUMNS["equivalent"].header].tolist() == ["yes", "no", "yes"]
    assert shown[COLUMNS["estimate_d"].header].tolist() == ["-0.43", "0.10", "2.00"]
    assert shown.note == f"{MISSING} a within-arm contrast has one arm."


def test_readable_table_demands_a_reason_for_missing_values():
    with pytest.raises(ValueError, match="missing values in .*n, arm 2.*say why"):
        readable_table(_table())
    # no missing value shown: no note needed, none written
    assert readable_table(_table(), ["outcome", "n1"]).note == ""


def test_readable_table_refuses_code_names_and_empty_or_repeated_headers():
    with pytest.raises(KeyError, match="'planted_whatever' has no header"):
        readable_table(_table().assign(planted_whatever=1.0))
    with pytest.raises(ValueError, match="empty header"):
        readable_table(_table(), ["outcome"], headers={"outcome": " "})
    with pytest.raises(ValueError, match="used twice"):
        readable_table(_table(), ["outcome", "contrast"], headers={"contrast": "Outcome"})
    with pytest.raises(ValueError, match="whole numbers"):
        readable_table(_table().assign(n1=[1.5, 2.0, 3.0]), ["n1"])
    with pytest.raises(ValueError, match="flatten"):
        readable_table(pd.DataFrame([[1.0]], columns=pd.MultiIndex.from_tuples([("a", "b")])))


def test_index_levels_become_named_columns():
    table = _table().set_index(["outcome", "contrast"])
    shown = readable_table(table, ["outcome", "contrast", "p"])
    assert list(shown.frame.columns) == ["Outcome", "Contrast", "p"]
    assert shown.frame.index.equals(pd.RangeIndex(3))


def _header_cells(html):
    return re.findall(r"<th\b[^>]*>(.*?)</th>", html)


def test_html_is_one_plain_table_every_row_no_empty_header(rng):
    n = 150  # longer than pandas' display.max_rows (60): nothing is cut
    table = pd.DataFrame({"outcome": rng.choice(["nps", "siips1"], n),
                          "coverage": rng.uniform(0.9, 1, n), "replications": [1000] * n})
    html = readable_table(table)._repr_html_()
    assert html.count("<table") == 1 and f'class="{TABLE_CLASS} table"' in html
    assert html.count("<tr>") == n + 1
    headers = _header_cells(html)
    assert headers == ["Outcome", "Coverage (share)", "Replications"]
    assert all(h.strip() for h in headers)
    assert "rows ×" not in html and "nan" not in html.lower().replace("mindpain", "")
    assert "…" not in html and "..." not in html


def test_html_escapes_and_styles_cells():
    shown = readable_table(pd.DataFrame({"note": ["a < b & c"], "status": ["reported"]}),
                           styles={"status": lambda v: "color: red" if v == "reported" else ""})
    html = shown.to_html()
    assert "a &lt; b &amp; c" in html and 'style="color: red; ' in html


def test_cells_keep_their_line_and_the_box_scrolls():
    note = "a long free-text note that a narrow screen may wrap over several lines"
    html = readable_table(pd.DataFrame({"outcome": ["nps"], "note": [note],
                                        "p": [0.5]})).to_html()
    # the box scrolls sideways and can be focused (so scrolled) from the keyboard
    assert re.search(r'<div class="mindpain-table-box" tabindex="0" style="overflow-x: auto',
                     html)
    cells = dict(re.findall(r'<td[^>]*style="([^"]*)"[^>]*>([^<]*)</td>', html)[i][::-1]
                 for i in range(3))
    assert "white-space: nowrap" in cells["NPS"] and "white-space: nowrap" in cells["0.500"]
    assert "nowrap" not in cells[note] and "text-align: right" in cells["0.500"]


def test_side_by_side_has_one_header_per_column():
    part = pd.DataFrame({"outcome": ["nps"], "contrast": ["MBSR_vs_HEP"], "model": ["ancova"],
                         "coverage": [0.95], "mc_se": [0.007]})
    other = part.assign(model="paper", coverage=0.93)
    shown = side_by_side({"participant level": part, "end to end": other},
                         ["outcome", "contrast", "model"], ["coverage", "mc_se"],
                         missing="not computed at this level.")
    assert len(shown) == 2
    assert "Coverage (share), end to end" in shown.frame.columns
    assert all(h.strip() for h in _header_cells(shown.to_html()))
    assert shown.frame.iloc[0].tolist().count(MISSING) == 2


def test_demographics_and_meditator_coverage():
    table = pd.DataFrame({"N": [3, 4], "Age, years (mean ± SD)": ["40.0 ± 2.0", ""]},
                         index=["WL", "LTM"])
    shown = demographics(table)
    assert shown["Group"].tolist() == ["Waitlist", "Long-term meditators"]
    assert shown["Age, years (mean ± SD)"].tolist() == ["40.0 ± 2.0", MISSING]
    coverage = pd.DataFrame({"analysis": ["retreat_ols"], "outcome": ["siips1"],
                             "quantity": ["false_positive_rate"], "value": [0.049],
                             "mc_se": [0.0068], "replications": [1000], "planted": [0.0],
                             "mean_estimate": [0.01], "note": [""]})
    shown = meditator_coverage(coverage)
    assert shown["Analysis"].tolist() == ["retreat hours: OLS slope"]
    assert shown["Quantity"].tolist() == ["false-positive rate"]
    assert shown["Rate (share of replications)"].tolist() == ["0.049"]
