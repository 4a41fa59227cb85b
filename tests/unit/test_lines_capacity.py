"""Lines of business in the settings, band shares set at serve time, per-group metrics of
protected attributes, and the spec draft's guesses."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from features.claims.bands import ALL_LOB
from features.claims.lines import claim_lines, model_for_spec
from features.settings import load_settings
from tests.conftest import write_settings
from training.fraud.config import BandsConfig, FairnessConfig
from training.fraud.fit import fit_bands


@pytest.fixture
def settings(tmp_path):
    return load_settings(write_settings(tmp_path))


def test_each_claims_family_is_a_line_with_its_own_spec_and_rules(settings):
    lines = claim_lines(settings)
    assert [(x.family, x.name, x.default) for x in lines] == [
        ("fraud", "vehicle_claims", True),
        ("fraud_health", "health_claims", False),
    ]
    assert lines[1].rules.name == "health_claims.yaml"
    assert model_for_spec(settings, "health_claims")[1].registered_name == "ccrisk-fraud-health_claims"
    family, model = model_for_spec(settings, "home_claims")  # in no line: a model of its own
    assert family is None and model.registered_name == "ccrisk-fraud-home_claims"
    assert model.gate == settings.model("fraud").gate


def test_two_lines_may_not_share_a_spec(tmp_path):
    path = write_settings(tmp_path)
    text = path.read_text().replace("spec: health_claims", "spec: vehicle_claims")
    path.write_text(text)
    with pytest.raises(ValueError, match="two claims families use the spec \\['vehicle_claims'\\]"):
        claim_lines(load_settings(path))


def _bands():
    rng = np.random.default_rng(0)
    prob = rng.beta(1, 8, 4000)
    lob = rng.choice(["Collision", "Liability"], 4000)
    return prob, lob, fit_bands(prob, lob, "BasePolicy", BandsConfig(high_share=0.05, medium_share=0.15))


def test_capacity_changes_the_cutoffs_without_retraining():
    prob, lob, bands = _bands()
    same = bands.with_capacity(None, None, {})
    assert same.cutoffs == bands.cutoffs  # the trained shares give the trained cut-offs
    wider = bands.with_capacity(0.10, None, {"Liability": (0.02, 0.05)})
    collision = prob[lob == "Collision"]
    high = wider.assign(collision, ["Collision"] * len(collision)).count("high") / len(collision)
    assert high == pytest.approx(0.10, abs=0.005)
    liability = prob[lob == "Liability"]
    assigned = wider.assign(liability, ["Liability"] * len(liability))
    assert assigned.count("high") / len(liability) == pytest.approx(0.02, abs=0.005)
    assert assigned.count("medium") / len(liability) == pytest.approx(0.05, abs=0.005)
    assert wider.cutoffs[ALL_LOB][1] < bands.cutoffs[ALL_LOB][1]  # 10 % high: a lower cut-off


def test_a_model_without_a_stored_distribution_says_to_retrain():
    _, _, bands = _bands()
    old = type(bands)(bands.column, bands.cutoffs)  # as models trained before it was kept
    with pytest.raises(ValueError, match="retrain it, or remove the line's `capacity` setting"):
        old.with_capacity(0.1, None, {})


def test_protected_groups_report_and_warn(spec):
    from training.fraud.fairness import protected_groups

    rng = np.random.default_rng(1)
    n = 600
    sex = rng.choice(["Female", "Male"], n)
    y = rng.random(n) < 0.2
    p = np.clip(rng.random(n) * 0.5 + 0.3 * y, 0, 1)
    bands = np.where(p > 0.45, "high", np.where((p > 0.3) & (sex == "Male"), "medium", "low"))
    test = pl.DataFrame({"Sex": sex, "Age": rng.integers(18, 80, n), "MaritalStatus": ["Single"] * n})
    report = protected_groups(test, y.astype(int), p, bands.tolist(), spec, FairnessConfig())
    groups = {r["group"]: r for r in report.groups["Sex"]}
    assert set(groups) == {"Female", "Male"} and groups["Male"]["alert_rate"] > groups["Female"]["alert_rate"]
    assert report.ratios["Sex"] < 0.8 and any(
        w.startswith("Sex: alert rates differ") for w in report.warnings
    )
    assert len(report.groups["Age"]) == 4  # quartile bands of a number
    assert "MaritalStatus" not in report.ratios  # one group: nothing to compare
    assert "fairness_Sex_Male_alert_rate" in report.metrics()


def test_the_draft_guesses_types_codes_and_the_positive_value():
    from features.claims.spec import ClaimSpec
    from training.fraud.draft import draft_spec

    n = 200
    frame = pl.DataFrame({
        "claim_no": [str(i) for i in range(n)],
        "opened": [f"2024-01-{1 + i % 28:02d}" for i in range(n)],
        "amount": [f"{i * 10.5:.2f}" if i % 17 else "N/A" for i in range(n)],
        "vehicles": [str(i % 4) for i in range(n)],
        "colour": ["red", "blue", "?"] * (n // 3) + ["red"] * (n % 3),
        "garage": [f"G{i % 45}" for i in range(n)],
        "notes": [f"customer called about claim number {i} twice" for i in range(n)],
        "fraud": ["yes" if i % 9 == 0 else "no" for i in range(n)],
    })  # fmt: skip
    draft = draft_spec(frame, "fraud", "motor")
    cols = draft["columns"]
    assert draft["identifier"] == "claim_no" and "claim_no" not in cols
    assert draft["positive"] == ["yes"]
    assert cols["opened"] == {"type": "date", "label": "opened", "format": "%Y-%m-%d"}
    assert cols["amount"] == {"type": "number", "label": "amount", "missing_codes": ["N/A"]}
    assert cols["vehicles"]["type"] == "integer"
    assert cols["colour"]["levels"] == ["blue", "red"] and cols["colour"]["missing_codes"] == ["?"]
    assert cols["garage"]["top_levels"] == 20 and cols["notes"]["type"] == "text"
    ClaimSpec.model_validate(draft)
    with pytest.raises(ValueError, match="a target needs two values"):
        draft_spec(frame.with_columns(fraud=pl.lit("x")), "fraud", "motor")
