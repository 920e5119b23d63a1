"""The recoverable truth beside the planted one: summaries, display tables, and the chapters.

Every chapter display that sets a planted value beside estimates must also show the
recoverable value and sit in a section that states, glued, whether the intervals cover it
(and how rare a miss is). The chapter scan below fails when one does not.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _figure_helpers import assert_legible

from mindpain import recoverable
from mindpain.figures import trial as figures_trial
from mindpain.figures.results_tables import meditator_effects, trial_effects
from mindpain.figures.tables import PLANTED_MEANING, RECOVERABLE_MEANING

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("0[2-5]_*.md"))

#: Displays that mention a planted value but set no effect estimate with an interval beside
#: it, so no coverage statement applies; each with the reason.
NO_INTERVAL = {
    "fig-recovery": "a spatial pattern against the planted pattern (a correlation, no CI)",
    "fig-twin-recovery": "session scores against the latent responses (a measurement slope)",
    "tbl-twin-recovery": "session scores against the latent responses (a measurement slope)",
    "tbl-worlds-recovery": "session scores against the latent responses, per world",
    "tbl-trial-truth": "the truth table itself: no estimate is shown",
}


# ---------------------------------------------------------------- hand-made frames


def _truth():
    return pd.DataFrame({
        "outcome": ["nps", "nps", "siips1", "intensity"],
        "contrast": ["MBSR_vs_HEP", "MBSR_within", "MBSR_vs_HEP", "MBSR_vs_HEP"],
        "planted_d": [-0.6, -0.45, -0.5, 0.0],
        "planted_d_paper": [-0.5, -0.45, -0.4166666666666667, 0.0]})


def _planted(truth, factor=0.8):
    return truth.assign(recoverable_d_paper=truth.planted_d_paper * factor)


def _effects():
    """Two contrasts, two models: the NPS intervals cover -0.48, SIIPS1's ancova misses."""
    return pd.DataFrame({
        "outcome": ["nps", "nps", "siips1", "siips1"],
        "contrast": ["MBSR_vs_HEP"] * 4,
        "model": ["change_score", "ancova", "change_score", "ancova"],
        "estimate_d": [-0.5, -0.45, -0.3, 0.4],
        "ci_low": [-1.0, -0.95, -0.8, 0.1], "ci_high": [0.0, 0.05, 0.2, 0.9],
        "estimate_d_paper": [-0.42, -0.40, -0.25, 0.33], "p": [0.05, 0.07, 0.2, 0.01],
        "p_adj": [0.1, 0.1, 0.2, 0.04], "reported_d": [-0.43, -0.43, -0.37, -0.37],
        "planted_d": [-0.6, -0.6, -0.5, -0.5], "covers_planted": [True, True, True, False]})


def _endtoend(recoverable_columns=True):
    table = pd.DataFrame({
        "scenario": ["realistic"] * 3 + ["ideal"],
        "outcome": ["nps", "siips1", "siips1", "nps"],
        "contrast": ["MBSR_vs_HEP"] * 4, "model": ["paper", "paper", "ancova", "paper"],
        "reported": [True] * 4, "replications": [200] * 4,
        "coverage": [0.90, 0.80, 0.85, 0.95], "mc_se": [0.02, 0.03, 0.025, 0.015],
        "planted_d_paper": [-0.42, -0.37, -0.37, -0.42]})
    if recoverable_columns:
        table = table.assign(recoverable_d_paper=[-0.39, -0.28, -0.28, -0.42],
                             coverage_recoverable=[0.94, 0.95, 0.96, 0.95],
                             mc_se_recoverable=[0.017, 0.015, 0.014, 0.015],
                             median_t=[-1.85, -1.30, -1.31, -1.99],
                             reported_t=[-1.99, -1.72, -1.72, -1.99],
                             median_p=[0.068, 0.2, 0.19, 0.05])
    return table


# ---------------------------------------------------------------- the recoverable truth


def test_recoverable_on_the_change_score_scale_follows_the_design_ratio():
    truth = recoverable.trial_recoverable(_truth(), _planted(_truth()))
    np.testing.assert_allclose(truth.recoverable_d_paper, _truth().planted_d_paper * 0.8)
    # the ratio planted_d / planted_d_paper of each contrast carries the scale over
    np.testing.assert_allclose(truth.recoverable_d, [-0.48, -0.36, -0.4, 0.0])


def test_no_planted_table_or_no_recoverable_column_leaves_it_blank():
    for planted in (None, _truth()):
        truth = recoverable.trial_recoverable(_truth(), planted)
        assert truth.recoverable_d.isna().all() and truth.recoverable_d_paper.isna().all()


def test_a_blank_planted_value_blanks_the_recoverable_one():
    truth = _truth()
    truth.loc[0, ["planted_d", "planted_d_paper"]] = np.nan  # an official map
    out = recoverable.trial_recoverable(truth, _planted(_truth()))
    assert np.isnan(out.recoverable_d[0]) and np.isnan(out.recoverable_d_paper[0])
    assert out.recoverable_d[1:].notna().all()


def test_trial_with_recoverable_marks_cover_and_miss():
    truth = recoverable.trial_recoverable(_truth(), _planted(_truth()))
    out = recoverable.trial_with_recoverable(_effects(), truth)
    assert out.covers_recoverable.tolist() == [True, True, True, False]
    assert list(out.columns[:len(_effects().columns)]) == list(_effects().columns)


def test_meditators_with_recoverable_uses_the_file_or_stays_blank():
    effects = pd.DataFrame({"outcome": ["siips1", "siips1"], "effect": ["retreat", "daily"],
                            "method": ["ols", "ols"], "estimate": [0.32, -2.04],
                            "ci_low": [-0.9, -3.0], "ci_high": [1.3, -1.1],
                            "planted": [-0.97, 0.0]})
    planted = effects[["outcome", "effect", "method", "planted"]].assign(
        recoverable=[-0.8, 0.0])
    out = recoverable.meditators_with_recoverable(effects, planted)
    assert out.recoverable.tolist() == [-0.8, 0.0]
    assert out.covers_recoverable.tolist() == [True, False]
    blank = recoverable.meditators_with_recoverable(effects, None)
    assert blank.recoverable.isna().all() and blank.covers_recoverable.isna().all()


# ---------------------------------------------------------------- summaries: the trial


def _shown():
    truth = recoverable.trial_recoverable(_truth(), _planted(_truth()))
    return recoverable.trial_with_recoverable(_effects(), truth)


def test_trial_draw_summary_counts_and_explains_a_miss_from_the_replications():
    calibration = pd.DataFrame({"outcome": ["siips1"], "contrast": ["MBSR_vs_HEP"],
                                "model": ["change_score"], "coverage": [0.95],
                                "replications": [2000]})
    out = recoverable.trial_draw_summary(_shown(), endtoend=_endtoend(),
                                         calibration=calibration, labels={"ancova": "ANCOVA"})
    assert (out["n_ci"], out["n_cover"], out["n_miss"]) == (4, 3, 1)
    # the miss is SIIPS1's ANCOVA: end to end, its recoverable coverage is 0.96
    assert "SIIPS1" in out["misses"] and "ANCOVA" in out["misses"]
    assert "4.0% of 200 replications through the pipeline" in out["misses"]
    # NPS change score and ancova: no end-to-end row in this table, no calibration row
    assert out["expected_miss"] == pytest.approx(0.05 + 0.04)
    assert out["verdict"].startswith("about as many misses")


def test_trial_draw_summary_without_recoverable_coverage_uses_coverage():
    out = recoverable.trial_draw_summary(_shown(), endtoend=_endtoend(False))
    assert "15.0% of 200 replications" in out["misses"]  # 1 - 0.85


def test_trial_draw_summary_all_covered_and_no_replications():
    shown = _shown()
    shown = shown[shown.covers_recoverable.astype(bool)]
    out = recoverable.trial_draw_summary(shown)
    assert out["n_miss"] == 0 and out["misses"] == "none"
    assert np.isnan(out["expected_miss"]) and "no replications" in out["verdict"]


def test_trial_draw_summary_flags_more_misses_than_expected():
    shown = _shown().assign(covers_recoverable=False, ci_low=1.0, ci_high=2.0)
    e2e = _endtoend().assign(coverage_recoverable=0.999)
    calibration = pd.DataFrame({"outcome": ["nps", "nps", "siips1"],
                                "contrast": ["MBSR_vs_HEP"] * 3,
                                "model": ["change_score", "ancova", "change_score"],
                                "coverage": [0.999] * 3, "replications": [2000] * 3})
    out = recoverable.trial_draw_summary(shown, endtoend=e2e, calibration=calibration)
    assert out["n_miss"] == 4 and out["verdict"].startswith("more misses than")
    assert "fewer than 0.1% of draws" in out["verdict"]


def test_trial_draw_summary_without_a_recoverable_value():
    shown = _shown().assign(recoverable_d=np.nan)
    out = recoverable.trial_draw_summary(shown)
    assert out["n_ci"] == 0 and not out["has_truth"]
    assert "no recoverable value" in out["verdict"]


def test_endtoend_summary_with_and_without_the_new_columns():
    out = recoverable.endtoend_summary(_endtoend(), "realistic")
    assert out["has_recoverable"] and out["has_t"] and out["n"] == 2
    assert out["coverage_min"] == pytest.approx(0.94)
    assert out["max_t_gap"] == pytest.approx(0.42)
    assert "median t -1.85, paper -1.99 (median p 0.068)" in out["t_list"]
    old = recoverable.endtoend_summary(_endtoend(False), "realistic")
    assert not old["has_recoverable"] and not old["has_t"]
    assert old["coverage_min"] == pytest.approx(0.80) and np.isnan(old["max_t_gap"])
    assert old["n_miss_band"] == 1  # 0.80 + 2 * 0.03 < 0.92
    assert "no median t" in old["t_list"] and "no recoverable column" in old["truth_words"]


def test_coverage_summary_counts_rows_outside_the_band():
    table = pd.DataFrame({"coverage": [0.95, 0.80, 0.999], "mc_se": [0.01, 0.01, 0.001]})
    out = recoverable.coverage_summary(table)
    assert (out["n"], out["n_below"], out["n_above"]) == (3, 1, 1)
    assert out["miss_max"] == pytest.approx(0.2)


# ---------------------------------------------------------------- summaries: meditators


def _ltm_effects(retreat=0.32):
    return pd.DataFrame({
        "outcome": ["siips1"] * 3, "effect": ["retreat", "daily", "lifetime"],
        "method": ["ols"] * 3, "estimate": [retreat, -2.04, -0.5],
        "ci_low": [retreat - 1.3, -3.0, -2.0], "ci_high": [retreat + 1.3, -1.1, 1.0],
        "planted": [-0.97, 0.0, -0.97], "recoverable": [-0.9, 0.0, -0.9]})


def _ltm_calibration():
    return pd.DataFrame({
        "analysis": ["retreat_ols", "retreat_ols", "daily_ols", "daily_ols", "lifetime_ols"],
        "outcome": ["siips1"] * 5,
        "quantity": ["coverage", "power", "coverage", "false_positive_rate", "coverage"],
        "value": [0.95, 0.18, 0.95, 0.05, 0.955], "replications": [1000] * 5})


def _replications(seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for effect, centre, sd in (("retreat", -0.97, 0.7), ("daily", 0.0, 0.6),
                               ("lifetime", -0.9, 0.8)):
        rows.append(pd.DataFrame({"outcome": "siips1", "effect": effect, "method": "ols",
                                  "estimate": rng.normal(centre, sd, 1000)}))
    return pd.concat(rows, ignore_index=True)


def test_practice_summary_an_estimate_outside_the_replications():
    effects = recoverable.meditators_with_recoverable(
        _ltm_effects().drop(columns="recoverable"),
        _ltm_effects()[["outcome", "effect", "method", "planted", "recoverable"]])
    reps = _replications()
    out = recoverable.practice_summary(effects, reps, _ltm_calibration(), effect="daily")
    assert out["position"] == "lies **outside**" and out["estimate"] == pytest.approx(-2.04)
    est = reps[reps.effect == "daily"].estimate
    assert out["tail"] == pytest.approx(float((est <= -2.04).mean()))
    assert "below their median" in out["rarity"]
    assert out["rep_low"] < out["rep_median"] < out["rep_high"]
    assert "does **not** contain" in out["covers"] and "zero" in out["sign"]
    assert out["false_positive"] == pytest.approx(0.05) and np.isnan(out["power"])


def test_practice_summary_opposite_sign_but_inside():
    out = recoverable.practice_summary(_ltm_effects(retreat=0.2), _replications(),
                                       _ltm_calibration(), effect="retreat")
    assert out["position"] == "lies inside" and "**opposite**" in out["sign"]
    assert "contains the recoverable" in out["covers"] and out["power"] == pytest.approx(0.18)
    assert "recoverable -0.90, planted in the generator -0.97" == out["truth"]


def test_practice_summary_without_planted_values():
    effects = _ltm_effects().assign(planted=np.nan, recoverable=np.nan)
    out = recoverable.practice_summary(effects, _replications(), _ltm_calibration(),
                                       effect="retreat")
    assert np.isnan(out["planted"]) and "no planted value" in out["truth"]
    assert "no recoverable value" in out["covers"]


def test_practice_summary_without_an_estimate_in_this_build():
    """Too few meditators (the small twin): nothing is placed, and nothing claims a miss."""
    effects = _ltm_effects().assign(estimate=np.nan, ci_low=np.nan, ci_high=np.nan)
    out = recoverable.practice_summary(effects, _replications(), _ltm_calibration(),
                                       effect="retreat")
    assert "cannot be set against" in out["position"] and "no estimate" in out["rarity"]
    assert "no interval" in out["covers"] and "does" not in out["covers"]


def test_practice_replications_are_the_calibrations_own():
    """The replicated slopes are those the meditator calibration summarises (same draws)."""
    from mindpain.meditators.calibration import calibrate_meditators

    reps = recoverable.practice_replications(7, "small", 12)
    table = calibrate_meditators(7, "small", 12, rlm_replications=0)
    for effect in ("retreat", "lifetime"):
        est = reps[(reps.outcome == "siips1") & (reps.effect == effect)
                   & (reps.method == "ols")].estimate
        row = table[(table.analysis == f"{effect}_ols") & (table.outcome == "siips1")]
        assert len(est) == 12
        assert est.mean() == pytest.approx(float(row.mean_estimate.iloc[0]), rel=1e-12)


def test_draw_misses_summary_with_a_miss_and_without_truth():
    effects = _ltm_effects()
    out = recoverable.draw_misses_summary(effects, _ltm_calibration(),
                                          labels={"daily_ols": "non-retreat hours: OLS"})
    assert (out["n_ci"], out["n_cover"], out["n_miss"]) == (3, 2, 1)
    assert "non-retreat hours: OLS with SIIPS1" in out["misses"]
    assert "5.0% of 1000 replications" in out["misses"]
    assert out["expected_miss"] == pytest.approx(0.05 + 0.05 + 0.045)
    none = recoverable.draw_misses_summary(effects.assign(planted=np.nan, recoverable=np.nan),
                                           _ltm_calibration())
    assert none["n_ci"] == 0 and not none["has_truth"]


# ---------------------------------------------------------------- display tables


def test_trial_table_shows_both_truths_labelled_and_explained():
    shown = trial_effects(_shown(), models=("change_score", "ancova"),
                          outcomes=("nps", "siips1"))
    headers = list(shown.frame.columns)
    rec = headers.index("Recoverable (estimand): d, change-score scale")
    assert headers[rec + 1] == "Planted in the generator: d, change-score scale"
    assert shown["CI covers recoverable"].tolist() == ["yes", "yes", "yes", "no"]
    assert RECOVERABLE_MEANING in shown.note and PLANTED_MEANING in shown.note


def test_meditator_table_shows_both_truths():
    effects = _ltm_effects().assign(p=0.5, p_adj=0.5, n=30, note="")
    effects = recoverable.meditators_with_recoverable(
        effects.drop(columns="recoverable"), _ltm_effects())
    shown = meditator_effects(effects)
    assert "Recoverable (estimand)" in shown.frame.columns
    assert "Planted in the generator" in shown.frame.columns
    assert shown["CI covers recoverable"].tolist() == ["yes", "no", "yes"]


def _legend_labels(fig) -> list:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_forest_draws_both_truths_labelled_when_given():
    shown = _shown().assign(reported_d_change=np.nan)
    fig = figures_trial.plot_forest(shown, outcomes=("nps", "siips1"),
                                    models=("change_score", "ancova"))
    assert_legible(fig)
    labels = _legend_labels(fig)
    assert "Recoverable (estimand)" in labels and "Planted in the generator" in labels
    old = figures_trial.plot_forest(_effects().assign(reported_d_change=np.nan),
                                    outcomes=("nps", "siips1"), models=("change_score",))
    assert "Planted (twin truth)" in _legend_labels(old)
    assert "Recoverable (estimand)" not in _legend_labels(old)


# ---------------------------------------------------------------- the chapters


def _sections(text: str):
    """(heading, body) of each level-2 section of a chapter."""
    parts = re.split(r"(?m)^## ", text)
    return [(p.splitlines()[0] if p else "", p) for p in parts]


def _displays(body: str):
    """(key, caption) of every glued display in a section."""
    pattern = re.compile(r"```\{glue(?::figure)?\}\s+(\S+)\n(.*?)```", re.S)
    return pattern.findall(body)


def _glued_prefixes(text: str) -> set:
    return set(re.findall(r"""glue(?:_summary|_md)?\(\s*f?["'](cover_[a-z_]+)""", text))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.stem)
def test_every_planted_display_shows_the_recoverable_value_and_states_coverage(chapter):
    """A display with a planted value beside estimates: recoverable beside it, coverage said."""
    text = chapter.read_text()
    glued = _glued_prefixes(text)
    checked = 0
    for heading, body in _sections(text):
        for key, caption in _displays(body):
            if "planted" not in caption.lower() or key in NO_INTERVAL:
                continue
            checked += 1
            assert "recoverable" in caption.lower(), (
                f"{chapter.name}: display {key} shows a planted value without the "
                "recoverable one beside it (say so in its caption)")
            refs = re.findall(r"\{glue:(?:text|md)\}`(cover_[a-z_]+)", body)
            assert refs, (f"{chapter.name}, section '{heading}': display {key} shows a "
                          "planted value but no glued coverage statement (cover_*) is near it")
            for ref in refs:
                assert any(ref.startswith(prefix) for prefix in glued), (
                    f"{chapter.name}: {ref} is referred to but never glued")
    if chapter.name.startswith(("04", "05")):
        assert checked, f"{chapter.name}: no planted display found: has the scan gone stale?"


def test_exempt_displays_exist_and_show_no_interval():
    """The exemptions name displays that exist, so the list cannot silently go stale."""
    text = "\n".join(p.read_text() for p in CHAPTERS)
    keys = {key for _, body in _sections(text) for key, _ in _displays(body)}
    assert set(NO_INTERVAL) <= keys


def test_no_chapter_claims_unmeasured_scatter_around_the_planted_values():
    for chapter in CHAPTERS:
        text = chapter.read_text()
        assert "scatter around the planted values" not in text, chapter.name


def test_the_scan_catches_a_display_without_a_statement(tmp_path):
    """The chapter check fails on a planted display with neither the value nor the statement."""
    body = ("## Effects\n\nSome text.\n\n```{glue:figure} tbl-x\n:name: \"tbl-x\"\n\n"
            "Estimates beside the planted value.\n```\n")
    [(heading, section)] = [s for s in _sections(body) if s[0]]
    [(key, caption)] = _displays(section)
    assert key == "tbl-x" and "planted" in caption and "recoverable" not in caption
    assert not re.findall(r"\{glue:(?:text|md)\}`(cover_[a-z_]+)", section)
