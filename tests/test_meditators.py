"""Long-term meditators: estimators vs independent computations, planted values, validation."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from _figure_helpers import assert_legible
from scipy import optimize, stats

from mindpain.core.errors import MindpainError
from mindpain.figures import meditators as figures_meditators
from mindpain.meditators import analysis as meditators
from mindpain.meditators import calibration as meditator_calibration
from mindpain.meditators import models as meditator_models
from mindpain.stats.multiplicity import holm, holm_rows
from mindpain.twin import draw_participants, load_parameters, simulate_observed
from mindpain.twin import meditators as twin_meditators
from mindpain.twin.params import participant_level_parameters

SEED = 20220701


def _twin(preset):
    params = participant_level_parameters(preset)
    obs = simulate_observed(params, SEED, 1).drop(columns="replication")
    people = draw_participants(params, SEED)
    return obs.merge(people[["participant_id", "age", "sex"]], on="participant_id"), people


@pytest.fixture(scope="module")
def full():
    obs, people = _twin("full")
    res = meditators.analyse_meditators(obs, people, seed=SEED, n_boot=500,
                                        planted=twin_meditators.planted_meditator_effects(load_parameters("full")))
    return obs, people, res


def _get(effects, outcome, effect, method):
    row = effects[(effects.outcome == outcome) & (effects.effect == effect)
                  & (effects.method == method)]
    assert len(row) == 1
    return row.iloc[0]


# ---------------------------------------------------------------- estimators


def test_group_batch_matches_scipy_welch_and_noncentral_ci(rng):
    a, b = rng.normal(0.4, 1.3, 12), rng.normal(0, 1, 40)
    out = meditator_models.group_batch(a, b)
    welch = stats.ttest_ind(a, b, equal_var=False)
    assert out["p"][0] == pytest.approx(welch.pvalue, rel=1e-8)
    sp = np.sqrt((11 * a.var(ddof=1) + 39 * b.var(ddof=1)) / 50)
    assert out["d"][0] == pytest.approx((a.mean() - b.mean()) / sp, rel=1e-12)
    se = np.sqrt(a.var(ddof=1) / 12 + b.var(ddof=1) / 40)
    t, df = (a.mean() - b.mean()) / se, float(out["df_welch"][0])
    lo = optimize.brentq(lambda nc: stats.nct.cdf(t, df, nc) - 0.975, t - 20, t + 20)
    hi = optimize.brentq(lambda nc: stats.nct.cdf(t, df, nc) - 0.025, t - 20, t + 20)
    assert out["ci_low"][0] == pytest.approx(lo * se / sp, abs=1e-6)
    assert out["ci_high"][0] == pytest.approx(hi * se / sp, abs=1e-6)
    assert out["t_pooled"][0] == pytest.approx(stats.ttest_ind(a, b).statistic, rel=1e-10)


def test_ols_batch_matches_statsmodels_classical_and_hc3(rng):
    X = sm.add_constant(rng.normal(size=(25, 3)))
    Y = rng.normal(size=(2, 25))
    for hc3, cov in ((False, "nonrobust"), (True, "HC3")):
        out = meditator_models.ols_batch(X, Y, hc3=hc3)
        for r in range(2):
            fit = sm.OLS(Y[r], X).fit(cov_type=cov)
            np.testing.assert_allclose(out["coef"][r], fit.params, rtol=1e-10)
            np.testing.assert_allclose(out["se"][r], fit.bse, rtol=1e-8)


def test_spearman_and_holm_rows_match_references(rng):
    x, Y = rng.normal(size=15), rng.normal(size=(3, 15))
    r, p = meditator_models.spearman_batch(x, Y)
    for i in range(3):
        ref = stats.spearmanr(x, Y[i])
        assert r[i] == pytest.approx(ref.statistic, rel=1e-10)
        assert p[i] == pytest.approx(ref.pvalue, rel=1e-8)
    from statsmodels.stats.multitest import multipletests

    P = np.vstack([rng.uniform(size=(4, 6)), np.round(rng.uniform(0, 0.1, (3, 6)), 2)])
    np.testing.assert_array_equal(holm_rows(P), np.vstack(
        [multipletests(row, method="holm")[1] for row in P]))
    np.testing.assert_array_equal(holm(P[0]), holm_rows(P)[0])


def test_dose_response_matches_statsmodels_and_pingouin(full):
    import pingouin as pg

    _, _, res = full
    data, eff = res.data, res.effects
    med = data[data.cohort == "LTM"].assign(sex_f=lambda d: (d.sex == "F").astype(float))
    scale = data.loc[data.cohort == "naive", "siips1"].std(ddof=1)
    X = sm.add_constant(med[["log_retreat", "log_daily", "age", "sex_f"]].to_numpy(float))
    ols = sm.OLS(med["siips1"].to_numpy(), X).fit()
    row = _get(eff, "siips1", "retreat", "ols")
    assert row.estimate == pytest.approx(ols.params[1] / scale, rel=1e-10)
    assert row.p == pytest.approx(ols.pvalues[1], rel=1e-8)
    rlm = sm.RLM(med["siips1"].to_numpy(), X, M=sm.robust.norms.HuberT()).fit()
    assert _get(eff, "siips1", "retreat", "rlm").estimate == pytest.approx(
        rlm.params[1] / scale, rel=1e-8)
    pc = pg.partial_corr(med, x="log_retreat", y="siips1", covar=["log_daily", "age", "sex_f"])
    row = _get(eff, "siips1", "retreat", "partial_r")
    assert row.estimate == pytest.approx(float(pc["r"].iloc[0]), rel=1e-8)
    assert row.p == pytest.approx(ols.pvalues[1], rel=1e-6)  # same t test as OLS
    row = _get(eff, "siips1", "lifetime", "spearman")
    ref = stats.spearmanr(med["log_lifetime"], med["siips1"])
    assert row.estimate == pytest.approx(ref.statistic, rel=1e-10)
    assert row.ci_low < row.estimate < row.ci_high


def test_vectorised_calibration_path_equals_single_analysis(full):
    obs, people, res = full
    data = res.data
    arrays = {k: data[k].to_numpy(float)[None, :] for k in meditators.TRIAL_OUTCOMES}
    est = meditator_calibration.calibration_estimates(data, arrays)
    merged = est.merge(res.effects, on=["outcome", "effect", "method"], suffixes=("_v", ""))
    assert len(merged) == len(est)
    for col in ("estimate", "ci_low", "ci_high", "p"):
        ok = merged[col].notna() & merged[f"{col}_v"].notna()
        np.testing.assert_allclose(merged.loc[ok, f"{col}_v"], merged.loc[ok, col], rtol=1e-6,
                                   atol=1e-9)
    np.testing.assert_allclose(merged["p_adj_v"], merged["p_adj"], rtol=1e-6)


def test_analysis_is_deterministic(full):
    obs, people, res = full
    again = meditators.analyse_meditators(obs, people, seed=SEED, n_boot=500,
                                          planted=twin_meditators.planted_meditator_effects(load_parameters("full")))
    pd.testing.assert_frame_equal(res.effects, again.effects)


# ---------------------------------------------------------------- planted values


def test_planted_values_match_a_monte_carlo_of_the_twin():
    """The planted retreat slope and group difference, against the twin's own draws.

    Regress each replication's SIIPS1 of the meditators on log10 retreat and non-retreat
    hours (scaled by the naive SD), and take the meditators' mean difference in SIIPS1 and
    unpleasantness; their means over replications must match the planted estimands.
    """
    from mindpain.twin import draw_participants, simulate_observed

    R = 300
    params = participant_level_parameters("full")
    people = draw_participants(params, SEED)
    obs = simulate_observed(params, SEED, R)
    obs = obs[obs.session.eq("pre")].merge(people[["participant_id", "lifetime_hours",
                                                   "retreat_hours"]], on="participant_id")
    planted = twin_meditators.planted_meditator_effects(load_parameters("full")).set_index(
        ["outcome", "effect", "method"])["planted"]
    slopes, diffs = [], {"siips1": [], "unpleasantness": []}
    for _, rep in obs.groupby("replication"):
        ltm, naive = rep[rep.group.eq("LTM")], rep[~rep.group.eq("LTM")]
        X = np.column_stack([np.ones(len(ltm)), np.log10(ltm.retreat_hours),
                             np.log10(ltm.lifetime_hours - ltm.retreat_hours)])
        coef = np.linalg.lstsq(X, ltm.siips1.to_numpy(), rcond=None)[0]
        slopes.append(coef[1] / naive.siips1.std(ddof=1))
        for k in diffs:
            sp = np.sqrt(((len(ltm) - 1) * ltm[k].var() + (len(naive) - 1) * naive[k].var())
                         / (len(rep) - 2))
            diffs[k].append((ltm[k].mean() - naive[k].mean()) / sp)
    for values, key in ((slopes, ("siips1", "retreat", "ols")),
                        (diffs["siips1"], ("siips1", "group", "welch_d")),
                        (diffs["unpleasantness"], ("unpleasantness", "group", "welch_d"))):
        values = np.asarray(values)
        se = values.std(ddof=1) / np.sqrt(R)
        assert abs(values.mean() - planted[key]) < 4 * se + 0.01, (key, values.mean(),
                                                                   planted[key])
    assert planted[("nps", "retreat", "ols")] == 0.0  # parameter 0 -> exactly 0 on the NPS


def test_planted_moments_match_a_large_monte_carlo_draw():
    """Independent check: draw practice hours as the generator does, 2 million times."""
    params = load_parameters("full")
    hours, frac = params["meditators.lifetime_hours"], params["meditators.retreat_fraction"]
    rng = np.random.default_rng(7)
    n = 2_000_000
    life = np.maximum(10 ** rng.normal(np.log10(hours["median"]), hours["log10_sd"], n),
                      hours["min"])
    b = rng.beta(frac["a"], frac["b"], n)
    log_r, log_d = np.log10(life * b), np.log10(life * (1 - b))
    summary = twin_meditators.practice_summary("full")
    assert summary["sd_log_retreat"] == pytest.approx(log_r.std(), rel=2e-3)
    assert summary["corr_retreat_daily"] == pytest.approx(np.corrcoef(log_r, log_d)[0, 1],
                                                          abs=3e-3)
    from mindpain.twin.participants import practice_moments

    mom = practice_moments(params)
    z_r = (log_r - mom["e_r"]) / np.sqrt(mom["v_r"])
    assert z_r.mean() == pytest.approx(0.0, abs=3e-3)
    assert z_r.std() == pytest.approx(1.0, abs=3e-3)
    # Population partial correlation of SIIPS1 with log retreat hours given log daily hours.
    planted = twin_meditators.planted_meditator_effects(load_parameters("full")).set_index(
        ["outcome", "effect", "method"])["planted"]
    a = planted[("siips1", "retreat", "ols")]
    y = a * log_r + rng.normal(size=n)
    resid = lambda v: v - np.polyval(np.polyfit(log_d, v, 1), log_d)  # noqa: E731
    r = np.corrcoef(resid(y), resid(log_r))[0, 1]
    assert planted[("siips1", "retreat", "partial_r")] == pytest.approx(r, abs=3e-3)


def test_calibration_is_modest_and_calibrated():
    cov = meditator_calibration.calibrate_meditators(SEED, "full", n_replications=200,
                                                     rlm_replications=0)
    key = cov.set_index(["analysis", "outcome", "quantity"])
    c = key.loc[("retreat_ols", "siips1", "coverage")]
    assert abs(c.value - 0.95) <= 3 * c.mc_se + 0.01
    fpr = cov[cov.quantity == "false_positive_rate"]
    assert len(fpr) > 0 and fpr.note.str.startswith("unadjusted").all()
    assert (fpr.value <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)).all(), fpr


def test_load_or_calibrate_caches(tmp_path, monkeypatch):
    cfg = types.SimpleNamespace(seed=3, results_dir=tmp_path)
    first = meditator_calibration.load_or_calibrate(cfg, n_replications=20, rlm_replications=2)
    assert (tmp_path / "meditator_coverage.tsv").is_file()
    assert list(first.columns) == meditator_calibration.COVERAGE_COLUMNS

    def boom(*args, **kwargs):
        raise AssertionError("recomputed despite a current cache")

    monkeypatch.setattr(meditator_calibration, "calibrate_meditators", boom)
    again = meditator_calibration.load_or_calibrate(cfg, n_replications=20, rlm_replications=2)
    pd.testing.assert_frame_equal(first, again)


# ---------------------------------------------------------------- tiny n, files, figures


def test_small_preset_reports_reasons_for_every_missing_value():
    obs, people = _twin("small")
    res = meditators.analyse_meditators(obs, people, n_boot=200)
    eff = res.effects
    assert (res.data.cohort == "LTM").sum() == 4
    missing = eff[eff.estimate.isna() | (eff.ci_low.isna() & (eff.method != "bf10"))]
    assert len(missing) > 0
    assert missing.note.str.len().gt(0).all()
    assert eff.planted.isna().all()  # no planted values given: user-data behaviour


def test_write_effects_tsv(full, tmp_path):
    _, _, res = full
    path = meditators.write_meditator_effects(res.effects,
                                              types.SimpleNamespace(results_dir=tmp_path))
    back = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
    assert list(back.columns) == meditators.EFFECT_COLUMNS
    assert len(back) == len(res.effects)


def test_figures_return_figures(full):
    _, _, res = full
    for fig in (figures_meditators.plot_groups(res.data),
                figures_meditators.plot_dose(res.data, res.effects)):
        assert fig.axes
        assert_legible(fig)
    cov = pd.DataFrame({"analysis": ["retreat_ols", "group_welch_d"], "outcome": ["siips1", "nps"],
                        "quantity": ["coverage", "false_positive_rate"], "value": [0.95, 0.03],
                        "mc_se": [0.01, 0.005]})
    fig = figures_meditators.plot_coverage(cov)
    assert fig.axes
    assert_legible(fig)


# ---------------------------------------------------------------- validation


@pytest.fixture
def small():
    obs, people = _twin("small")
    practice = people.loc[people.group == "LTM", ["participant_id", "lifetime_hours",
                                                  "retreat_hours"]].reset_index(drop=True)
    return obs, practice


def _expect(obs, practice, *needles):
    with pytest.raises(MindpainError) as err:
        meditator_models.meditator_table(obs, practice)
    for needle in needles:
        assert needle in str(err.value)


def test_missing_hours_name_the_meditator(small):
    obs, practice = small
    practice.loc[1, "retreat_hours"] = np.nan
    _expect(obs, practice, practice.participant_id[1], "retreat_hours missing")


def test_negative_hours_name_the_meditator(small):
    obs, practice = small
    practice.loc[0, "lifetime_hours"] = -10.0
    _expect(obs, practice, practice.participant_id[0], "negative lifetime_hours")


def test_meditator_absent_from_practice_table(small):
    obs, practice = small
    _expect(obs, practice.iloc[1:], practice.participant_id[0], "without practice hours")


def test_hours_for_non_meditator_are_rejected(small):
    obs, practice = small
    naive = obs.loc[obs.group != "LTM", "participant_id"].iloc[0]
    extra = pd.DataFrame({"participant_id": [naive], "lifetime_hours": [100.0],
                          "retreat_hours": [10.0]})
    _expect(obs, pd.concat([practice, extra]), naive, "non-meditator")


def test_hours_for_unknown_participant_and_bad_values(small):
    obs, practice = small
    extra = pd.DataFrame({"participant_id": ["sub-999"], "lifetime_hours": [100.0],
                          "retreat_hours": [10.0]})
    _expect(obs, pd.concat([practice, extra]), "sub-999", "not in the outcomes")
    bad = practice.astype({"retreat_hours": object})
    bad.loc[2, "retreat_hours"] = "lots"
    _expect(obs, bad, practice.participant_id[2], "not a number")
    over = practice.copy()
    over.loc[3, "retreat_hours"] = over.loc[3, "lifetime_hours"] + 1
    _expect(obs, over, practice.participant_id[3], "exceed")
    _expect(obs, practice.drop(columns="retreat_hours"), "retreat_hours")
