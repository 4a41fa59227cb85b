import os
import time

import polars as pl
import pytest
import yaml

from features.claims.rules import RuleBook, default_rules_path
from tests.unit.test_transform import _claim


def _ids(hits):
    return [[h.id for h in row] for row in hits]


def _book(tmp_path, spec, rules):
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"version": "t1", "spec": "vehicle_claims", "rules": rules}))
    return RuleBook(path, spec), path


def test_shipped_rules_fire_on_matching_claims(spec):
    book = RuleBook(default_rules_path("vehicle_claims"), spec)
    quiet = _claim(
        spec,
        Days_Policy_Accident="more than 30",
        Days_Policy_Claim="more than 30",
        AddressChange_Claim="no change",
        Fault="Third Party",
        PastNumberOfClaims="none",
        PolicyType="Sedan - Collision",
        VehicleCategory="Sedan",
        BasePolicy="Collision",
        MonthClaimed="Jan",
        WeekOfMonthClaimed=1,
        DayOfWeekClaimed="Monday",
    )
    risky = dict(
        quiet,
        Days_Policy_Accident="1 to 7",
        Fault="Policy Holder",
        PoliceReportFiled="No",
        WitnessPresent="No",
    )
    assert _ids(book.evaluate(pl.DataFrame([quiet, risky]))) == [[], ["VC-001", "VC-004"]]
    assert book.version.startswith("2026.11.1+")


def test_ordering_ops_follow_spec_levels(tmp_path, spec):
    rule = {
        "id": "R",
        "description": "short",
        "severity": "low",
        "when": {"field": "Days_Policy_Accident", "op": "le", "value": "8 to 15"},
    }
    book, _ = _book(tmp_path, spec, [rule])
    rows = [_claim(spec, Days_Policy_Accident=v) for v in ("1 to 7", "8 to 15", "15 to 30")]
    assert _ids(book.evaluate(pl.DataFrame(rows))) == [["R"], ["R"], []]


def test_any_group_and_missing_values_never_fire(tmp_path, spec):
    rule = {
        "id": "R",
        "description": "d",
        "severity": "high",
        "when": {
            "any": [
                {"field": "Age", "op": "lt", "value": 21},
                {"field": "Make", "op": "eq", "value": "Ferrari"},
            ]
        },
    }
    book, _ = _book(tmp_path, spec, [rule])
    rows = [
        _claim(spec, Age=19, Make="Honda"),
        _claim(spec, Age=0, Make="Honda"),
        _claim(spec, Age=40, Make="Ferrari"),
    ]
    assert _ids(book.evaluate(pl.DataFrame(rows))) == [["R"], [], ["R"]]


def test_rule_with_value_outside_levels_is_rejected(tmp_path, spec):
    rule = {
        "id": "R",
        "description": "d",
        "severity": "low",
        "when": {"field": "VehiclePrice", "op": "eq", "value": "cheap"},
    }
    with pytest.raises(ValueError, match="'VehiclePrice' uses values \\['cheap'\\] not in its levels"):
        _book(tmp_path, spec, [rule])


def test_ordering_on_nominal_field_is_rejected(tmp_path, spec):
    rule = {
        "id": "R",
        "description": "d",
        "severity": "low",
        "when": {"field": "Make", "op": "gt", "value": "BMW"},
    }
    with pytest.raises(ValueError, match="needs an ordinal field"):
        _book(tmp_path, spec, [rule])


def test_edit_reloads_without_retraining_and_bad_edit_keeps_last_good(tmp_path, spec):
    r1 = {
        "id": "R1",
        "description": "d",
        "severity": "low",
        "when": {"field": "Sex", "op": "eq", "value": "Male"},
    }
    book, path = _book(tmp_path, spec, [r1])
    frame = pl.DataFrame([_claim(spec, Sex="Male")])
    assert _ids(book.evaluate(frame)) == [["R1"]]
    r2 = dict(r1, id="R2", when={"field": "Sex", "op": "eq", "value": "Female"})
    path.write_text(yaml.safe_dump({"version": "t2", "spec": "vehicle_claims", "rules": [r2]}))
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert book.reload_if_changed()
    assert _ids(book.evaluate(frame)) == [[]] and book.version.startswith("t2+")
    path.write_text("rules: [oops")
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert not book.reload_if_changed()
    assert book.version.startswith("t2+")
