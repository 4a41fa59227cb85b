"""Behavioural tests of the fraud model trained on the synthetic sample (whose signal we know):
minimum functionality, invariance, direction, reasons, and the training->registry round trip."""

import mlflow
import numpy as np
import polars as pl
import pytest

from tests.conftest import SAMPLE_CLAIMS


@pytest.fixture(scope="module")
def scorer(trained):
    return mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion").unwrap_python_model()


@pytest.fixture(scope="module")
def claims(sample_frame):
    return sample_frame.head(300)


def test_sample_model_became_champion_with_a_real_signal(trained):
    r = trained.result
    assert r.decision.alias == "champion"
    assert r.metrics["roc_auc"] > 0.7  # the synthetic signal is learnable
    assert 0 < r.metrics["brier"] < 0.15


def test_probabilities_and_bands_are_well_formed(scorer, claims):
    p, bands = scorer.score(claims)
    assert p.shape == (claims.height,) and np.all((p >= 0) & (p <= 1))
    assert set(bands) <= {"low", "medium", "high"}
    assert "high" in bands and "low" in bands


def test_mean_probability_is_calibrated_to_the_fraud_rate(scorer, sample_frame):
    p, _ = scorer.score(sample_frame)
    assert p.mean() == pytest.approx(sample_frame["FraudFound_P"].mean(), abs=0.03)


def test_identifier_target_and_column_order_do_not_change_scores(scorer, claims):
    base, _ = scorer.score(claims)
    shuffled = claims.select(list(reversed(claims.columns)))
    stripped = claims.drop(["PolicyNumber", "FraudFound_P"])
    renumbered = claims.with_columns(pl.col("PolicyNumber") + 10_000)
    for variant in (shuffled, stripped, renumbered):
        assert np.array_equal(scorer.score(variant)[0], base)


def test_policy_holder_fault_raises_risk(scorer, claims):
    third = scorer.score(claims.with_columns(pl.lit("Third Party").alias("Fault")))[0]
    holder = scorer.score(claims.with_columns(pl.lit("Policy Holder").alias("Fault")))[0]
    assert (holder > third).mean() > 0.8


def test_liability_cover_lowers_risk(scorer, claims):
    def with_policy(base):
        cat = pl.col("VehicleCategory")
        return claims.with_columns(pl.lit(base).alias("BasePolicy"), (cat + f" - {base}").alias("PolicyType"))

    liability = scorer.score(with_policy("Liability"))[0]
    perils = scorer.score(with_policy("All Perils"))[0]
    assert (liability < perils).mean() > 0.8


def test_reasons_are_ranked_and_worded(scorer, claims):
    a = scorer.assess(claims.head(20), k=3)
    for row in a.reasons:
        assert len(row) == 3
        contributions = [r.contribution for r in row]
        assert contributions == sorted(contributions, reverse=True)
        assert all(r.value in r.text or r.value == "unknown" for r in row)


def test_reasons_explain_the_raw_score(scorer, claims):
    x = scorer.encoder.matrix(claims.head(50))
    contrib = np.mean([m.predict(x, pred_contrib=True) for m in scorer.models], axis=0)
    assert np.allclose(contrib.sum(axis=1), scorer.raw_scores(x), atol=1e-6)  # TreeSHAP is additive


def test_pyfunc_round_trip_scores_identically(trained, scorer):
    pdf = pl.read_csv(SAMPLE_CLAIMS).head(200).to_pandas()
    out = mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion").predict(pdf)
    assert list(out.columns) == ["fraud_probability", "risk_band", "top_reasons"]
    direct, bands = scorer.score(pl.from_pandas(pdf))
    assert np.array_equal(out["fraud_probability"].to_numpy(), direct)
    assert out["risk_band"].tolist() == bands


def test_pyfunc_params_choose_reasons(trained):
    pdf = pl.read_csv(SAMPLE_CLAIMS).head(20).to_pandas()
    model = mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion")
    full = model.predict(pdf)
    quiet = model.predict(pdf, params={"explain": "none"})
    assert (quiet["top_reasons"] == "").all() and (full["top_reasons"] != "").all()
    assert np.array_equal(full["fraud_probability"], quiet["fraud_probability"])
    one = model.predict(pdf, params={"reason_count": 1})
    assert (one["top_reasons"].str.count(";") == 0).all()


def test_pyfunc_accepts_float_columns_and_unknown_make(trained):
    pdf = pl.read_csv(SAMPLE_CLAIMS).head(5).to_pandas()
    pdf["Age"] = pdf["Age"].astype(float)
    pdf.loc[0, "Make"] = "Tesla"
    out = mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion").predict(pdf)
    assert out["fraud_probability"].between(0, 1).all()


def test_logged_run_has_lineage_metrics_and_plots(trained):
    client = mlflow.MlflowClient()
    run = client.get_run(trained.result.run_id)
    assert run.data.params["data.sha256"] and run.data.params["data.rows"] == "1500"
    for key in (
        "test_roc_auc",
        "test_pr_auc",
        "test_brier",
        "test_precision_at_recall_95",
        "test_recall_at_top_5pct",
    ):
        assert key in run.data.metrics
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert {"plots/roc.png", "plots/pr.png", "plots/calibration.png", "plots/feature_importance.png"} <= plots


def test_explain_modes_only_change_which_claims_get_reasons(scorer, claims):
    full = scorer.assess(claims, k=3, explain="all")
    flagged = scorer.assess(claims, k=3, explain="flagged")
    none = scorer.assess(claims, k=3, explain="none")
    assert np.array_equal(full.probability, flagged.probability)
    assert np.array_equal(full.probability, none.probability)
    for band, f, g, n in zip(full.bands, full.reasons, flagged.reasons, none.reasons, strict=True):
        assert n == []
        assert g == (f if band != "low" else [])
    with pytest.raises(ValueError, match="explain must be one of"):
        scorer.assess(claims, explain="some")


def test_rules_in_the_scoring_pass_match_separate_evaluation(scorer, claims, spec):
    from features.claims.rules import RuleBook, default_rules_path

    book = RuleBook(default_rules_path("vehicle_claims"), spec)
    rules, exprs = book.snapshot()
    a = scorer.assess(claims, k=3, explain="none", extra=exprs)
    assert a.features.columns == spec.feature_names
    assert RuleBook.hits(rules, a.extra) == book.evaluate(claims)
    assert np.array_equal(a.probability, scorer.assess(claims, explain="none").probability)
