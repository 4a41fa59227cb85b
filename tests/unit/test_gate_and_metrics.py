import numpy as np
import pytest

from features.claims.scorer import ALL_LOB, Bands
from features.registry import Baseline, decide
from features.settings import Gate
from training.fraud.config import BandsConfig
from training.fraud.evaluate import precision_at_recall, recall_at_top
from training.fraud.fit import fit_bands, fit_calibrator

GATE = Gate(metric="roc_auc", minimum=0.7, tolerance=0.01)


def test_gate_below_minimum_is_challenger():
    d = decide(GATE, 0.65)
    assert d.alias == "challenger" and "below the gate minimum" in d.reason


def test_gate_first_model_above_minimum_is_champion():
    first = decide(GATE, 0.8)
    assert first.alias == "champion" and "no champion yet" in first.reason


def test_gate_compares_with_champion_within_tolerance():
    same_rows = Baseline(0.80, "on the same test rows")
    assert decide(GATE, 0.795, same_rows).alias == "champion"
    worse = decide(GATE, 0.78, same_rows)
    assert worse.alias == "challenger" and "worse than the champion" in worse.reason


def test_precision_at_recall_and_recall_at_top():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    assert precision_at_recall(y, p, 0.6) == pytest.approx(2 / 3)
    assert precision_at_recall(y, p, 1.0) == pytest.approx(3 / 10)
    assert recall_at_top(y, p, 0.1) == pytest.approx(1 / 3)
    assert recall_at_top(y, p, 0.3) == pytest.approx(2 / 3)


def test_bands_follow_capacity_per_line_of_business():
    rng = np.random.default_rng(0)
    p = np.concatenate([rng.uniform(0, 0.1, 1000), rng.uniform(0, 0.9, 1000)])
    lob = np.array(["Liability"] * 1000 + ["Collision"] * 1000)
    bands = fit_bands(
        p, lob, "BasePolicy", BandsConfig(high_share=0.05, medium_share=0.15, min_group_rows=200)
    )
    assert set(bands.cutoffs) == {ALL_LOB, "Liability", "Collision"}
    assigned = np.array(bands.assign(p, list(lob)))
    for group in ("Liability", "Collision"):
        share_high = (assigned[lob == group] == "high").mean()
        assert share_high == pytest.approx(0.05, abs=0.01)
    assert Bands("BasePolicy", bands.cutoffs).assign(np.array([0.99]), ["NewLine"]) == ["high"]


def test_sigmoid_calibrator_equals_scikit_learn_predict_proba():
    rng = np.random.default_rng(0)
    raw = rng.normal(-2.5, 1.5, 500)
    y = (rng.random(500) < 1 / (1 + np.exp(-raw))).astype(int)
    cal = fit_calibrator(raw, y, "sigmoid")
    expected = cal.estimator.predict_proba(raw.reshape(-1, 1))[:, 1]
    np.testing.assert_allclose(cal(raw), expected, rtol=1e-12, atol=0)
    np.testing.assert_allclose(cal(raw[:1]), expected[:1], rtol=1e-12, atol=0)


def test_isotonic_calibrator_stays_in_unit_interval():
    raw = np.linspace(-5, 5, 200)
    cal = fit_calibrator(raw, (raw > 0).astype(int), "isotonic")
    out = cal(np.array([-50.0, 0.1, 50.0]))
    assert out.min() >= 0.0 and out.max() <= 1.0 and out[0] < out[2]
