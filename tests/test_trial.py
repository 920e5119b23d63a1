"""Trial statistics: d and its CI against independent computations, models, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _figure_helpers import assert_legible
from scipy import optimize, stats

from mindpain.core.config import get_config
from mindpain.core.errors import MindpainError
from mindpain.figures import trial as figures_trial
from mindpain.stats import effect_sizes
from mindpain.stats.multiplicity import holm
from mindpain.trial import analysis as trial
from mindpain.trial import calibration as trial_calibration
from mindpain.trial import models as trial_models
from mindpain.truth import planted_trial_effects
from mindpain.twin import simulate_observed
from mindpain.twin.params import participant_level_parameters

SEED = 20220701


@pytest.fixture(scope="module")
def full_obs() -> pd.DataFrame:
    params = participant_level_parameters("full")
    return simulate_observed(params, SEED, 1).drop(columns="replication")


@pytest.fixture(scope="module")
def small_obs() -> pd.DataFrame:
    params = participant_level_parameters("small")
    return simulate_observed(params, SEED, 1).drop(columns="replication")


@pytest.fixture(scope="module")
def full_analysis(full_obs):
    truth = planted_trial_effects(participant_level_parameters("full"))
    return trial.analyse_trial(full_obs, trial.trial_truth(truth),
                               seed=SEED, n_permutations=999)


def _nct_ci_brentq(t, df, level=0.95):
    a = (1 - level) / 2
    lo = optimize.brentq(lambda nc: stats.nct.cdf(t, df, nc) - (1 - a), t - 20, t + 20)
    hi = optimize.brentq(lambda nc: stats.nct.cdf(t, df, nc) - a, t - 20, t + 20)
    return lo, hi


# ---------------------------------------------------------------- d and its CI


def test_between_d_matches_pingouin_and_scipy(rng):
    import pingouin as pg

    a, b = rng.normal(0.5, 1, 14), rng.normal(0, 1, 11)
    out = effect_sizes.between_d(a, b)
    assert out["d"] == pytest.approx(pg.compute_effsize(a, b, eftype="cohen"), rel=1e-10)
    tt = stats.ttest_ind(a, b)
    assert out["t"] == pytest.approx(tt.statistic, rel=1e-10)
    assert out["p"] == pytest.approx(tt.pvalue, rel=1e-8)
    lo, hi = _nct_ci_brentq(tt.statistic, 23)
    scale = np.sqrt(1 / 14 + 1 / 11)
    assert out["ci_low"] == pytest.approx(lo * scale, abs=1e-6)
    assert out["ci_high"] == pytest.approx(hi * scale, abs=1e-6)


def test_within_d_is_dz_with_noncentral_ci(rng):
    c = rng.normal(-0.4, 1, 9)
    out = effect_sizes.within_d(c)
    tt = stats.ttest_1samp(c, 0)
    assert out["d"] == pytest.approx(c.mean() / c.std(ddof=1), rel=1e-12)
    assert out["p"] == pytest.approx(tt.pvalue, rel=1e-8)
    lo, hi = _nct_ci_brentq(tt.statistic, 8)
    assert out["ci_low"] == pytest.approx(lo / 3, abs=1e-6)
    assert out["ci_high"] == pytest.approx(hi / 3, abs=1e-6)


def test_hand_checkable_d():
    out = effect_sizes.between_d([1.0, 2.0, 3.0], [0.0, 1.0, 2.0])
    assert float(out["d"]) == 1.0  # difference 1, pooled SD 1
    assert float(effect_sizes.within_d([1.0, 2.0, 3.0])["d"]) == pytest.approx(2.0)


def test_noncentral_ci_tends_to_wald_for_large_df():
    lo, hi = effect_sizes.noncentral_t_ci(np.array([0.0, 2.0]), 1e6)
    np.testing.assert_allclose(lo, [-1.959964, 0.040036], atol=1e-4)
    np.testing.assert_allclose(hi, [1.959964, 3.959964], atol=1e-4)


def test_vectorised_d_equals_loop(rng):
    a, b = rng.normal(size=(5, 8)), rng.normal(size=(5, 10))
    vec = effect_sizes.between_d(a, b)
    for r in range(5):
        one = effect_sizes.between_d(a[r], b[r])
        for key in ("d", "ci_low", "ci_high", "p"):
            assert vec[key][r] == pytest.approx(float(one[key]), rel=1e-12)


def test_holm_matches_statsmodels(rng):
    from statsmodels.stats.multitest import multipletests

    # bit for bit: small and large p values (adjusted above 1, capped), ties, one value
    for p in (rng.uniform(0, 0.2, 12), rng.uniform(0, 1, 9), np.round(rng.uniform(0, 0.1, 15), 2),
              np.array([0.3]), np.array([0.01, 0.01, 0.04, 0.04, 0.5])):
        np.testing.assert_array_equal(holm(p), multipletests(p, method="holm")[1])


# ---------------------------------------------------------------- models


def test_ancova_batch_equals_statsmodels(full_obs):
    tr = trial_models.validate_outcomes(full_obs)
    ch = trial_models.change_scores(tr, "siips1")
    fit = trial_models.fit_ancova(ch)
    batch = trial_models.ancova_batch(ch["pre"].to_numpy()[None], ch["post"].to_numpy()[None],
                               ch["group"].to_numpy())
    robust = fit.get_robustcov_results(cov_type="HC3")
    names = fit.model.exog_names
    k = names.index("C(group, Treatment('WL'))[T.MBSR]")
    est, se, se3 = batch["MBSR_vs_WL"]
    assert est[0] == pytest.approx(fit.params.iloc[k], rel=1e-9)
    assert se[0] == pytest.approx(fit.bse.iloc[k], rel=1e-9)
    assert se3[0] == pytest.approx(robust.bse[k], rel=1e-9)
    assert batch["df"] == fit.df_resid


def test_mixedlm_agrees_with_independent_estimates(full_analysis):
    e = full_analysis.effects.set_index(["outcome", "contrast", "model"])
    for contrast in ("MBSR_vs_HEP", "MBSR_vs_WL", "MBSR_within"):
        mixed = e.loc[("nps", contrast, "mixedlm")]
        others = [e.loc[("nps", contrast, "change_score")]]
        if contrast in trial.BETWEEN:
            others.append(e.loc[("nps", contrast, "ancova")])
        for other in others:
            assert np.sign(other.estimate_d) == np.sign(mixed.estimate_d)
            assert mixed.ci_low <= other.estimate_d <= mixed.ci_high


def test_mixedlm_uses_baseline_only_participants(full_obs, full_analysis):
    e = full_analysis.effects
    n_mixed = e[(e.model == "mixedlm") & (e.outcome == "nps")]["n"].iloc[0]
    naive = full_obs[full_obs.group != "LTM"]
    assert n_mixed == naive.participant_id.nunique() > naive.groupby(
        "participant_id").size().eq(2).sum()


def test_results_table_columns_and_truth(full_analysis):
    e = full_analysis.effects
    assert list(e.columns) == trial.EFFECT_COLUMNS
    # The planted d of a reported contrast, carried through the twin's measurement model,
    # is the change-score d that the paper's p implies (computed independently here).
    from mindpain.reported import N_COMPLETERS, REPORTED

    for c in REPORTED:
        row = e[(e.outcome == c.outcome) & (e.contrast == c.contrast)
                & (e.model == "change_score")].iloc[0]
        t = stats.t.isf(c.p / 2, c.df) * np.sign(c.d)
        n = [N_COMPLETERS[a] for a in c.arms]
        implied = t / np.sqrt(n[0]) if c.kind == "within" else t * np.sqrt(1 / n[0] + 1 / n[1])
        assert row.planted_d == pytest.approx(implied, rel=1e-9)
        assert row.reported_d_change == pytest.approx(implied, rel=1e-9)
        assert abs(row.planted_d_paper - c.d) < 0.015  # the paper rounds d to 2 decimals
    # Paper-scale d: 2t/sqrt(df) of the row's own t (between), t/sqrt(n_arm) (within).
    ch = trial_models.change_scores(full_analysis.trial, "nps")
    a, b = ch.change[ch.group == "MBSR"], ch.change[ch.group == "HEP"]
    tt = stats.ttest_ind(a, b)
    row = e[(e.outcome == "nps") & (e.contrast == "MBSR_vs_HEP")
            & (e.model == "change_score")].iloc[0]
    assert row.estimate_d_paper == pytest.approx(2 * tt.statistic / np.sqrt(tt.df), rel=1e-9)
    row = e[(e.outcome == "nps") & (e.contrast == "MBSR_within")
            & (e.model == "change_score")].iloc[0]
    assert row.estimate_d_paper == pytest.approx(row.estimate_d, rel=1e-9)
    assert e.loc[e.contrast == "group_x_time", "estimate_d"].isna().all()
    assert (e.p_adj.dropna() >= e.p[e.p_adj.notna()] - 1e-15).all()
    assert set(e.model) == set(trial.MODELS)


def test_analysis_is_deterministic_and_ignores_ltm(small_obs):
    one = trial.analyse_trial(small_obs, seed=3, n_permutations=199).effects
    two = trial.analyse_trial(small_obs[small_obs.group != "LTM"], seed=3,
                              n_permutations=199).effects
    pd.testing.assert_frame_equal(one, two)


def test_small_preset_copes(small_obs):
    res = trial.analyse_trial(small_obs, trial.trial_truth(
        planted_trial_effects(participant_level_parameters("small"))),
                              n_permutations=199)
    assert res.effects.query("model == 'change_score'")["ci_low"].notna().all()


def test_mixedlm_omnibus_is_an_f_test_on_the_completers_df(full_obs, full_analysis):
    import statsmodels.api as sm

    tr = full_analysis.trial
    n_comp = int(tr.groupby("participant_id")["session"].nunique().eq(2).sum())
    post = (tr.session == "post").astype(float)
    X = np.column_stack([np.ones(len(tr)), tr.group.eq("HEP"), tr.group.eq("MBSR"), post,
                         tr.group.eq("HEP") * post, tr.group.eq("MBSR") * post]).astype(float)
    res = sm.MixedLM(tr["nps"].to_numpy(), X, groups=tr.participant_id).fit(reml=True)
    L = np.zeros((2, len(res.params)))
    L[0, 4] = L[1, 5] = 1.0
    wald = float(np.squeeze(res.wald_test(L, use_f=False, scalar=True).statistic))
    row = full_analysis.effects.query(
        "outcome == 'nps' and contrast == 'group_x_time' and model == 'mixedlm'").iloc[0]
    assert row.statistic == pytest.approx(wald / 2, rel=1e-4)
    assert row.df == n_comp - 3
    assert row.p == pytest.approx(stats.f.sf(wald / 2, 2, n_comp - 3), rel=1e-3)


def test_official_maps_never_inherit_surrogate_truth(tmp_path, small_twin):
    folder = tmp_path / "signatures" / "siips1"
    folder.mkdir(parents=True)
    from mindpain.signatures import SIIPS1_FILENAME

    (folder / SIIPS1_FILENAME).write_bytes(b"")
    cfg = get_config(preset="small", data_dir=tmp_path, bids_dir=small_twin)
    truth = trial.truth_table(cfg).set_index(["outcome", "contrast"])
    assert truth.loc["siips1", "planted_d"].isna().all()
    assert truth.loc["nps", "planted_d"].notna().all()
    assert "SIIPS1" in trial.planted_note(cfg)


def test_user_data_has_no_planted_truth(tmp_path):
    truth = trial.truth_table(get_config(preset="small", bids_dir=tmp_path))
    assert truth.planted_d.isna().all()
    assert truth.reported_d.notna().sum() == 5


def test_write_trial_effects(tmp_path, full_analysis):
    from mindpain.core.store import tables_dir

    cfg = get_config()
    assert tables_dir(cfg) == cfg.results_dir
    path = trial.write_trial_effects(full_analysis.effects, cfg, out_dir=tmp_path)
    assert path == tmp_path / "trial_effects.tsv"
    back = pd.read_csv(path, sep="\t", na_values="n/a")
    assert list(back.columns) == trial.EFFECT_COLUMNS and len(back) == len(full_analysis.effects)


def test_link_rm_corr_matches_centred_correlation(full_analysis):
    link = trial.neural_subjective_link(full_analysis.trial)
    tr = full_analysis.trial
    both = tr.groupby("participant_id")["session"].transform("nunique").eq(2)
    d = tr[both]
    x = d["nps"] - d.groupby("participant_id")["nps"].transform("mean")
    y = d["intensity"] - d.groupby("participant_id")["intensity"].transform("mean")
    r = (x * y).sum() / np.sqrt((x**2).sum() * (y**2).sum())
    got = link.set_index(["signature", "rating", "method"]).loc[("nps", "intensity", "rm_corr")]
    assert got.r == pytest.approx(r, abs=1e-9)
    assert got.ci_low < got.r < got.ci_high


# ---------------------------------------------------------------- calibration


def test_change_score_and_ancova_ci_coverage_400_replications():
    cov = trial_calibration.calibrate_trial(SEED, "full", n_replications=400,
                                            mixedlm_replications=0,
                                            outcome_names=("nps", "unpleasantness"))
    assert (cov.replications == 400).all()
    # Each of the 24 coverages within 4 Monte-Carlo SEs of 95% (a per-check false alarm
    # rate below 1e-4); their mean within 1 point (the chapter's 1000-replication table
    # checks 95 +- 3 per contrast).
    se = np.sqrt(0.95 * 0.05 / 400)
    assert ((cov.coverage - 0.95).abs() < 4 * se).all(), cov.to_string()
    assert abs(cov.coverage.mean() - 0.95) < 0.01


def test_calibration_is_cached(tmp_path, monkeypatch):
    cfg = get_config()
    first = trial_calibration.load_or_calibrate(cfg, n_replications=20, mixedlm_replications=2,
                                    out_dir=tmp_path)
    assert (tmp_path / "trial_coverage.tsv").is_file()
    monkeypatch.setattr(trial_calibration, "calibrate_trial",
                        lambda *a, **k: pytest.fail("recomputed"))
    second = trial_calibration.load_or_calibrate(cfg, n_replications=20, mixedlm_replications=2,
                                     out_dir=tmp_path)
    pd.testing.assert_frame_equal(first, second)
    assert set(first.model) == {"change_score", "ancova", "ancova_hc3", "mixedlm"}


# ---------------------------------------------------------------- bad input


def _no_fit(monkeypatch):
    for name in ("fit_mixedlm", "fit_ancova", "mixed_anova", "between_d", "within_d"):
        monkeypatch.setattr(trial, name, lambda *a, **k: pytest.fail("a model was fit"))


@pytest.mark.parametrize("case, pattern", [
    ("two_groups", "more than one group"),
    ("bad_session", "session label"),
    ("missing_column", "missing column"),
    ("small_group", "at least 2"),
    ("duplicate", "duplicated"),
    ("unknown_group", "group label"),
    ("not_numeric", "not numeric"),
])
def test_bad_input_raises_before_fitting(small_obs, monkeypatch, case, pattern):
    bad = small_obs.copy()
    first = bad.participant_id.iloc[0]
    if case == "two_groups":
        rows = bad.index[bad.participant_id == first]
        other = next(g for g in trial.ARMS if g != bad.loc[rows[0], "group"])
        bad.loc[rows[-1], "group"] = other
    elif case == "bad_session":
        bad.loc[bad.index[0], "session"] = "mid"
    elif case == "missing_column":
        bad = bad.drop(columns=["nps_pos", "unpleasantness"])
    elif case == "small_group":
        wl = bad.participant_id[bad.group == "WL"].unique()
        bad = bad[~bad.participant_id.isin(wl[:-1])]
    elif case == "duplicate":
        bad = pd.concat([bad, bad.iloc[[0]]])
    elif case == "unknown_group":
        bad.loc[bad.participant_id == first, "group"] = "Yoga"
    elif case == "not_numeric":
        bad["siips1"] = bad["siips1"].astype(str)
    _no_fit(monkeypatch)
    with pytest.raises(MindpainError, match=pattern) as info:
        trial.analyse_trial(bad, n_permutations=9)
    assert "\n" not in str(info.value)


def test_not_a_table_raises():
    with pytest.raises(MindpainError, match="DataFrame"):
        trial_models.validate_outcomes([1, 2, 3])


# ---------------------------------------------------------------- figures


def test_figures_return_figures(full_analysis):
    from matplotlib.figure import Figure

    link = trial.neural_subjective_link(full_analysis.trial, signatures=("nps",),
                                        ratings=("intensity",))
    cov = pd.DataFrame({"outcome": "nps", "contrast": list(trial.TRIAL_CONTRASTS),
                        "model": "change_score", "coverage": 0.95, "mc_se": 0.007})
    figs = [figures_trial.plot_trajectories(full_analysis.trial),
            figures_trial.plot_forest(full_analysis.effects),
            figures_trial.plot_residuals(full_analysis.residuals, full_analysis.assumptions),
            figures_trial.plot_link(full_analysis.trial, link, ("nps",), ("intensity",)),
            figures_trial.plot_coverage(cov)]
    assert all(isinstance(f, Figure) for f in figs)
    for fig in figs:
        assert_legible(fig)
    with pytest.raises(MindpainError, match="missing column"):
        figures_trial.plot_forest(full_analysis.effects.drop(columns="planted_d"))


def test_format_effects_is_readable(full_analysis):
    from mindpain.figures.results_tables import trial_effects

    shown = trial_effects(full_analysis.effects)
    assert len(shown) == 6 * (6 + 3 + 6)  # change score and mixed model: 6; ANCOVA: 3
    assert shown["CI covers planted"].isin(["yes", "no"]).all()
    interval = r"^-?\d\.\d\d \[-?\d\.\d\d, -?\d\.\d\d\]$"
    assert shown["d [95% CI], change-score scale"].str.match(interval).all()
