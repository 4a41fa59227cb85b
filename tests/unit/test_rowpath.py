"""The plain-Python claim path (features/claims/rowpath.py) against the Polars one it stands in
for: the same features, NaN for NaN, and the same rule hits, on generated and edge-case claims."""

from __future__ import annotations

import random

import numpy as np
import polars as pl
import pytest
import yaml

from features.claims.api import claim_columns, claim_model
from features.claims.rowpath import NotPlain, RowEncoder
from features.claims.rules import RuleBook, default_rules_path
from features.claims.transform import ClaimEncoder
from tests.unit.test_transform import _claim


def served_frame(spec, rows: list[dict]) -> pl.DataFrame:
    """The frame serving/domain/fraud.py builds: open-vocabulary categories read as text."""
    text = {c: pl.Utf8 for c, cs in spec.columns.items() if cs.is_categorical and cs.unknown == "missing"}
    columns = {c: [r[c] for r in rows] for c in rows[0]}
    return pl.DataFrame(columns, schema_overrides=text, strict=False)


def _value(rng: random.Random, cs):
    if cs.is_categorical:
        pool = [*cs.levels, *cs.missing_codes]
        if cs.unknown == "missing":
            pool += ["Tesla", "", 7]  # unknown text, empty, a number for a text field
        return rng.choice(pool)
    lo, hi = int(cs.min if cs.min is not None else -5), int(cs.max if cs.max is not None else 100)
    pool = [rng.randint(lo, hi), *cs.missing_codes, lo, hi]
    if cs.type == "number":
        pool.append(rng.uniform(lo, hi))
    return rng.choice(pool)


def generated_claims(spec, n: int, seed: int = 0) -> list[dict]:
    """Claims the request model accepts, every field drawn from its levels, missing codes,
    unknown values and bounds; about one in three with matching calendar and policy fields,
    so the derived features and rules take both values."""
    rng, model, out = random.Random(seed), claim_model(spec), []
    while len(out) < n:
        row = {c: _value(rng, cs) for c, cs in spec.columns.items()}
        if rng.random() < 0.3:
            row["PolicyType"] = f"{row['VehicleCategory']} - {row['BasePolicy']}"
            row["MonthClaimed"] = row["Month"]
        claim = model.model_validate(row)  # the values as the service holds them
        out.append({k: v for k, v in claim.__dict__.items() if k != "claim_id"})
    return out


def assert_same_features(spec, rows: list[dict], frame: pl.DataFrame) -> None:
    x, values = RowEncoder(spec).encode(rows)
    features = ClaimEncoder(spec).features(frame)
    np.testing.assert_array_equal(x, features.to_numpy().astype(np.float64))  # NaN == NaN here
    assert values == [list(r.values()) for r in features.iter_rows(named=True)]


def test_generated_claims_encode_as_polars_does_one_by_one_and_as_a_batch(spec):
    rows = generated_claims(spec, 400)
    assert_same_features(spec, rows, served_frame(spec, rows))
    for row in rows[:60]:
        assert_same_features(spec, [row], served_frame(spec, [row]))


@pytest.mark.parametrize(
    "changes",
    [
        {"RepNumber": "07"},  # integer-coded levels read as numbers: "07" is level 7
        {"RepNumber": "-0"},
        {"RepNumber": 99},  # not a level
        {"Make": 12},  # a number in an open-vocabulary text field
        {"Make": ""},
        {"Age": 0},  # a missing code
        {"DayOfWeekClaimed": "0", "MonthClaimed": "0"},  # missing codes: no claim lag
        {"Month": "Dec", "MonthClaimed": "Jan", "WeekOfMonth": 5, "WeekOfMonthClaimed": 1},  # wraps
        {"Deductible": 123456789},
        {"Month": "Sep", "MonthClaimed": "Jan", "DayOfWeek": "Friday"},  # a half-day gap rounds
    ],
)
def test_edge_values_encode_as_polars_does(spec, changes):
    row = _claim(spec, **changes)
    assert_same_features(spec, [row], served_frame(spec, [row]))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"Age": float("nan")}, "Age: float value nan"),
        ({"Deductible": float("inf")}, "Deductible: float value inf"),
        ({"Age": True}, "Age: bool value True"),
        ({"Age": "44"}, "Age: not a plain number"),
        ({"Deductible": -0.0}, "Deductible: not a plain number"),
        ({"Make": 3.5}, "Make: a float for an open-vocabulary category"),
        ({"RepNumber": "7.5"}, "RepNumber: '7.5' is not integer text"),
        ({"RepNumber": 2**60}, "RepNumber: not a plain integer code"),
    ],
)
def test_values_it_does_not_reproduce_are_refused_for_the_polars_path(spec, changes, message):
    with pytest.raises(NotPlain, match=message):
        RowEncoder(spec).encode([_claim(spec, **changes)])


EVERY_KIND = [
    {"id": "num-ge", "when": {"field": "Age", "op": "ge", "value": 40}},
    {"id": "num-in", "when": {"field": "Deductible", "op": "in", "value": [0, 10000]}},
    {"id": "num-ne", "when": {"field": "DriverRating", "op": "ne", "value": 2}},
    {"id": "ord-lt", "when": {"field": "VehiclePrice", "op": "lt", "value": "30000 to 39000"}},
    {"id": "ord-ge", "when": {"field": "MonthClaimed", "op": "ge", "value": "Jul"}},
    {"id": "nom-ne", "when": {"field": "Make", "op": "ne", "value": "Honda"}},
    {"id": "nom-not-in", "when": {"field": "Make", "op": "not_in", "value": ["Honda", "Toyota"]}},
    {"id": "int-coded", "when": {"field": "RepNumber", "op": "in", "value": [3, 7]}},
    {"id": "derived", "when": {"field": "claim_lag_days", "op": "le", "value": 7}},
    {
        "id": "groups",
        "when": {
            "any": [
                {"field": "policy_type_mismatch", "op": "eq", "value": 1},
                {
                    "all": [
                        {"field": "Sex", "op": "eq", "value": "Male"},
                        {"field": "Age", "op": "lt", "value": 25},
                    ]
                },
            ]
        },
    },
]


def _library(tmp_path, spec, rules) -> RuleBook:
    path = tmp_path / "rules.yaml"
    full = [{"description": r["id"], "severity": "low", **r} for r in rules]
    path.write_text(yaml.safe_dump({"version": "t", "spec": "vehicle_claims", "rules": full}))
    return RuleBook(path, spec)


@pytest.mark.parametrize("library", ["shipped", "every_kind"])
def test_rule_hits_are_those_of_polars(tmp_path, spec, library):
    book = (
        RuleBook(default_rules_path("vehicle_claims"), spec)
        if library == "shipped"
        else _library(tmp_path, spec, EVERY_KIND)
    )
    rows = generated_claims(spec, 400, seed=1)
    expected = book.evaluate(served_frame(spec, rows))
    assert book.row_hits(rows) == expected
    assert sum(map(len, expected)) > 100  # the claims fire rules, and not all the same ones
    assert len({h.id for row in expected for h in row}) == len(book.library.rules)


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ({"field": "Age", "op": "eq", "value": "40"}, "`eq` on a number takes a number, not '40'"),
        ({"field": "Deductible", "op": "in", "value": 300}, "`in` on a number takes a list of numbers"),
        ({"field": "claim_lag_days", "op": "not_in", "value": ["7"]}, "takes a list of numbers"),
    ],
)
def test_a_number_compared_with_text_is_refused_when_the_rules_load(tmp_path, spec, when, message):
    with pytest.raises(ValueError, match=message):
        _library(tmp_path, spec, [{"id": "bad", "when": when}])


def test_served_claims_as_the_request_model_holds_them(spec):
    claim = claim_model(spec).model_validate({"claim_id": "C-1", **spec.example})
    rows = [{k: v for k, v in claim.__dict__.items() if k != "claim_id"}]
    assert rows == [
        dict(zip(claim_columns([claim]), [v[0] for v in claim_columns([claim]).values()], strict=True))
    ]
    assert_same_features(spec, rows, served_frame(spec, rows))
