"""The landing page's glance table and the chapters' build log."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mindpain.core.vocabulary import CONTRAST_LABELS, OUTCOME_LABELS
from mindpain.figures.glance import MISSING, results_at_a_glance
from mindpain.reported import effect_scale_table
from mindpain_book.glue import build_log


def _effects(scales, covers=True, planted=True):
    rows = []
    for i, r in enumerate(scales.itertuples()):
        rows.append({"outcome": r.outcome, "contrast": r.contrast, "model": "change_score",
                     "estimate_d": -0.5 - i / 10, "ci_low": -1.0, "ci_high": 0.1,
                     "estimate_d_paper": -0.4, "p": 0.0004 if i == 0 else 0.0412,
                     "planted_d": -0.5 if planted else np.nan,
                     "covers_planted": pd.NA if not planted else (covers if i else not covers)})
        rows.append({**rows[-1], "model": "ancova", "estimate_d_paper": 9.0})
        rows.append({**rows[-2], "model": "mixedlm", "estimate_d_paper": -0.43, "p": 0.05})
    return pd.DataFrame(rows)


def _endtoend(scales):
    rows = []
    for scenario, mean in (("realistic", -0.3), ("ideal", -0.9)):
        for r in scales.itertuples():
            for model in ("paper", "change_score"):
                rows.append({"scenario": scenario, "outcome": r.outcome, "contrast": r.contrast,
                             "model": model, "replications": 300 if model == "paper" else 7,
                             "mean_estimate": mean, "coverage": 0.93})
    return pd.DataFrame(rows)


def test_glance_has_one_row_per_reported_contrast_in_readers_words():
    scales = effect_scale_table()
    table = results_at_a_glance(scales, _effects(scales), _endtoend(scales), "realistic")
    assert len(table) == len(scales)
    assert list(table["Outcome"]) == [OUTCOME_LABELS[o] for o in scales.outcome]
    assert list(table["Contrast"]) == [CONTRAST_LABELS[c] for c in scales.contrast]
    assert all(col.strip() for col in table.columns)
    # the paper's p, the build's model (change score, not ANCOVA) and the scenario's rows
    first = scales.iloc[0]
    assert table["Paper d (p)"].iloc[0] == \
        f"{first.reported_d:.2f} ({first.reported_p:.3f})"
    # the paper's scale from the mixed model (the paper's df), not the t test or the ANCOVA
    assert set(table["Twin d (p)"]) == {"-0.43 (0.050)"}
    assert set(table["Pipeline mean d"]) == {"-0.30"}  # the realistic scenario's paper test
    assert set(table["Pipeline CI coverage"]) == {"93%"}
    assert table["CI covers planted d"].tolist() == ["no"] + ["yes"] * (len(scales) - 1)
    assert table["Twin change-score d [95% CI]"].iloc[0] == "-0.50 [-1.00, 0.10]"


def test_glance_shows_whether_the_ci_covers_the_recoverable_d_when_given():
    scales = effect_scale_table()
    effects = _effects(scales)
    assert "CI covers recoverable d" not in results_at_a_glance(
        scales, effects, _endtoend(scales), "realistic").columns
    covers = pd.array(~effects.covers_planted.astype(bool), dtype="boolean")
    covers[-3] = pd.NA  # the last contrast's change-score row
    effects = effects.assign(covers_recoverable=covers)
    table = results_at_a_glance(scales, effects, _endtoend(scales), "realistic")
    shown = table["CI covers recoverable d"].tolist()
    assert shown[0] == "yes" and shown[-1] == MISSING


def test_glance_shows_a_dash_where_there_is_no_truth_or_row():
    scales = effect_scale_table()
    effects = _effects(scales, planted=False).iloc[3:]  # the first contrast is missing
    table = results_at_a_glance(scales, effects, _endtoend(scales).iloc[0:0], "realistic")
    assert (table["CI covers planted d"] == MISSING).all()
    assert table["Twin d (p)"].iloc[0] == MISSING
    assert table.filter(like="Pipeline").eq(MISSING).all().all()
    assert "nan" not in table.to_string().lower()


def test_build_log_appends_one_line_per_call(tmp_path, monkeypatch):
    log = tmp_path / "logs" / "chapters.log"
    monkeypatch.setenv("MINDPAIN_BUILD_LOG", str(log))
    build_log("chapter 4: wrote trial_effects.tsv (84 rows)")
    build_log("first level: 0 computed\n708 unchanged")
    lines = log.read_text().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("chapter 4: wrote trial_effects.tsv (84 rows)")
    assert lines[1].endswith("first level: 0 computed | 708 unchanged")


def test_glance_display_table_has_headers_note_and_no_index():
    from mindpain.figures.glance import glance_table

    scales = effect_scale_table()
    shown = glance_table(scales, _effects(scales), _endtoend(scales), "realistic")
    html = shown.to_html()
    assert "<th></th>" not in html and "nan" not in html.lower()
    assert MISSING in shown.note and "300 simulated trials in the realistic world" in shown.note
    assert "Paper d (p)" in shown.numeric and "Outcome" not in shown.numeric
