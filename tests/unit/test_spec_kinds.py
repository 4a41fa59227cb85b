"""The richer claim spec: dates, derived kinds, learned levels, text codes beside numbers, a Y/N
target, free text and ids; rules that act; rules found beside the spec."""

from __future__ import annotations

import math

import polars as pl
import pytest
from pydantic import ValidationError

from features.claims.api import claim_model
from features.claims.checks import target_labels, validate
from features.claims.rowpath import RowEncoder
from features.claims.rules import RuleBook, apply_actions, find_rules
from features.claims.spec import ClaimSpec
from features.claims.transform import ClaimEncoder, SchemaError, learn_levels

SPEC = {
    "name": "home",
    "version": "1",
    "identifier": "ref",
    "target": "fraud",
    "positive": ["Y"],
    "columns": {
        "start": {"type": "date", "label": "policy start", "format": "%d/%m/%Y", "missing_codes": ["?"]},
        "loss": {"type": "date", "label": "loss date", "format": "%d/%m/%Y"},
        "reported": {"type": "datetime", "label": "reported", "format": "%Y-%m-%d %H:%M"},
        "amount": {"type": "number", "label": "claim amount"},
        "insured": {"type": "integer", "label": "sum insured", "missing_codes": [0]},
        "prior": {"type": "integer", "label": "prior claims", "missing_codes": ["?"]},
        "adjuster": {"type": "nominal", "label": "adjuster", "top_levels": 2},
        "home_region": {"type": "nominal", "label": "home region", "levels": ["n", "s"]},
        "loss_region": {"type": "nominal", "label": "loss region", "levels": ["n", "s"]},
        "notes": {"type": "text", "label": "notes"},
        "policy": {"type": "id", "label": "policy id"},
    },
    "derived": [
        {"kind": "days_between", "name": "days_to_loss", "start": "start", "end": "loss"},
        {"kind": "days_between", "name": "report_lag", "start": "loss", "end": "reported"},
        {"kind": "date_part", "name": "loss_weekday", "column": "loss", "part": "day_of_week"},
        {"kind": "date_part", "name": "report_hour", "column": "reported", "part": "hour"},
        {"kind": "ratio", "name": "share", "numerator": "amount", "denominator": "insured"},
        {"kind": "equals", "name": "same_region", "column": "home_region", "other": "loss_region"},
    ],
}  # fmt: skip
ROWS = {
    "ref": ["a", "b", "c", "d"],
    "start": ["01/03/2024", "2024-03-01", "?", "01/03/2024"],
    "loss": ["11/03/2024", "31/03/2024", "05/01/2024", None],
    "reported": ["2024-03-11 09:00", "2024-04-01 18:30", "2024-01-05 12:00", "2024-01-05 12:00"],
    "amount": [1000.0, 500.0, 10.0, 20.0],
    "insured": [10000, 0, 100, 100],
    "prior": ["1", "?", "3", None],
    "adjuster": ["x", "y", "x", "z"],
    "home_region": ["n", "n", "s", "s"],
    "loss_region": ["n", "s", "s", None],
    "notes": ["free text", "more text", "", None],
    "policy": ["P1", "P2", "P3", "P4"],
    "fraud": ["Y", "N", "n", "y"],
}


for _d in SPEC["derived"]:
    _d["label"] = _d["name"].replace("_", " ")


@pytest.fixture
def spec() -> ClaimSpec:
    return ClaimSpec.model_validate(SPEC)


def test_dates_and_derived_kinds_encode(spec):
    spec = spec.with_levels({"adjuster": ["x", "y"]})
    f = ClaimEncoder(spec).features(pl.DataFrame(ROWS))
    assert f["days_to_loss"].to_list() == [10.0, 30.0, None, None]  # '?' and None are missing; ISO also read
    assert f["report_lag"].to_list()[:2] == pytest.approx([0.375, 1.0 + 18.5 / 24])
    assert f["loss_weekday"].to_list() == [1.0, 7.0, 5.0, None]  # Monday 11 March 2024 = 1
    assert f["report_hour"].to_list() == [9.0, 18.0, 12.0, 12.0]
    assert f["share"].to_list() == [0.1, None, 0.1, 0.2]  # insured 0 is a missing code
    assert f["same_region"].to_list() == [1.0, 0.0, 1.0, None]
    assert f["prior"].to_list() == [1.0, None, 3.0, None]
    assert f["adjuster"].to_list() == [0.0, 1.0, 0.0, 2.0]  # z: the 'other' level after the learned ones
    assert spec.feature_names[:5] == ["amount", "insured", "prior", "adjuster", "home_region"]
    assert not {"notes", "policy", "start", "loss", "reported"} & set(spec.feature_names)


def test_top_levels_are_learned_from_the_most_frequent_values(spec):
    frame = pl.DataFrame({"adjuster": ["b", "a", "a", "c", "b", "d", "?", None]})
    learned = learn_levels(frame, spec)
    assert learned.columns["adjuster"].levels == ["a", "b"]  # ties by value; nulls never a level
    assert learned.fingerprint() == spec.fingerprint()  # the spec as written is the same
    codes = [RowEncoder(learned).columns["adjuster"].code(v) for v in ("a", "b", "zz", None)]
    assert codes == [0.0, 1.0, 2.0, None]


def test_the_target_is_read_with_its_positive_values(spec):
    assert target_labels(pl.DataFrame(ROWS), spec).to_list() == [1, 0, 0, 1]  # any case
    with pytest.raises(SchemaError, match="set `positive` in the spec"):
        target_labels(pl.DataFrame({"fraud": ["Y", "N"]}), spec.model_copy(update={"positive": [1]}))
    with pytest.raises(SchemaError, match="1 row\\(s\\) have no target value"):
        target_labels(pl.DataFrame({"fraud": ["Y", "N", "?"]}), spec)


def test_validation_names_a_bad_date_and_accepts_text_codes(spec):
    good = validate(pl.DataFrame(ROWS), spec)
    assert good["fraud"].to_list() == [1, 0, 0, 1]
    bad = pl.DataFrame({**ROWS, "loss": ["11/03/2024", "2024/03/31", None, None]})
    with pytest.raises(SchemaError, match="'loss': 1 value\\(s\\) are not dates in the format '%d/%m/%Y'"):
        validate(bad, spec)
    with pytest.raises(SchemaError, match="'prior': non-numeric values such as \\['x'\\]"):
        validate(pl.DataFrame({**ROWS, "prior": ["1", "x", "2", "?"]}), spec)


def test_the_request_model_types_dates_codes_and_text(spec):
    claim = claim_model(spec)
    ok = {k: v[0] for k, v in ROWS.items() if k not in ("ref", "fraud")}
    assert claim.model_validate({**ok, "prior": "?"}).prior == "?"
    with pytest.raises(
        ValidationError, match=r"expected a date in the format '%d/%m/%Y' or ISO 8601, e\.g\. '31/01/2024'"
    ):
        claim.model_validate({**ok, "loss": "31-01-2024"})
    dated = claim.model_validate({**ok, "reported": "2024-03-11T09:00:00+01:00"})
    assert (dated.loss, dated.reported) == ("2024-03-11", "2024-03-11 08:00:00")  # as ISO, in UTC
    with pytest.raises(ValidationError, match="prior"):
        claim.model_validate({**ok, "prior": "many"})
    assert claim.model_validate({**ok, "adjuster": "never seen"}).adjuster == "never seen"


def test_spec_refuses_what_cannot_work():
    with pytest.raises(ValidationError, match="a date column is never a feature itself; derive one"):
        loss = {**SPEC["columns"]["loss"], "feature": True}
        ClaimSpec.model_validate({**SPEC, "columns": {**SPEC["columns"], "loss": loss}})
    with pytest.raises(ValidationError, match="needs date or datetime columns, not \\['amount'\\]"):
        bad = {"name": "d", "kind": "date_part", "label": "d", "column": "amount", "part": "month"}
        ClaimSpec.model_validate({**SPEC, "derived": [bad]})
    with pytest.raises(ValidationError, match="`top_levels` is for nominal columns"):
        ClaimSpec.model_validate(
            {**SPEC, "columns": {"a": {"type": "ordinal", "label": "a", "top_levels": 3}}}
        )


def test_rules_that_act(spec, tmp_path):
    (tmp_path / "home.yaml").write_text("name: home")
    rules = tmp_path / "home.rules.yaml"
    rules.write_text(
        "version: '1'\nspec: home\nrules:\n"
        "- {id: R1, description: soon, severity: high, escalate: medium,\n"
        "   when: {field: days_to_loss, op: lt, value: 20}}\n"
        "- {id: R2, description: big, severity: high, escalate: high,\n"
        "   when: {field: share, op: ge, value: 0.1}}\n"
        "- {id: R3, description: many, severity: low, review: true, when: {field: prior, op: ge, value: 3}}\n"
    )
    assert find_rules(tmp_path / "home.yaml", "home") == rules  # beside the spec
    assert find_rules("home_elsewhere", "home") is None  # no rules: scored without
    book = RuleBook(rules, spec)
    hits = book.evaluate(pl.DataFrame(ROWS))
    assert [[h.id for h in row] for row in hits] == [["R1", "R2"], [], ["R2", "R3"], ["R2"]]
    bands, raised_by, review = apply_actions(["low", "medium", "high", "low"], hits)
    assert bands == ["high", "medium", "high", "high"]
    assert raised_by == ["R2", None, None, "R2"]  # the rule that set the final band; none when no rise
    assert review == [False, False, True, False]
    acted = book.act(pl.DataFrame(ROWS), ["low", "medium", "high", "low"])
    assert acted["risk_band"] == bands and acted["manual_review"] == review
    assert RuleBook(None, spec).evaluate(pl.DataFrame(ROWS)) == [[], [], [], []]


def test_rowpath_leaves_new_kinds_to_polars(spec):
    from features.claims.rowpath import NotPlain

    enc = RowEncoder(spec.with_levels({"adjuster": ["x"]}))
    row = {**{k: v[0] for k, v in ROWS.items()}, "prior": 1}
    with pytest.raises(NotPlain, match="days_between"):
        enc.values(row)
    assert math.isclose(enc.columns["amount"].number(1000), 1000.0)
