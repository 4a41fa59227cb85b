import math

import polars as pl
import pytest

from features.claims.checks import validate
from features.claims.transform import SchemaError, encode, feature_frame


def _claim(spec, **changes):
    row = {c: (cs.levels[0] if cs.is_categorical else int(cs.min or 1)) for c, cs in spec.columns.items()}
    row.update(changes)
    return row


def test_ordinal_fields_encode_as_level_index(spec):
    f = feature_frame(pl.DataFrame([_claim(spec, VehiclePrice="30000 to 39000")]), spec)
    assert f["VehiclePrice"][0] == 2.0


def test_missing_codes_and_unknown_values_become_missing(spec):
    rows = [_claim(spec, Age=0, Make="Tesla"), _claim(spec, Age=44, DayOfWeekClaimed="0")]
    x = encode(pl.DataFrame(rows), spec)
    names = spec.feature_names
    assert math.isnan(x[0, names.index("Age")])
    assert math.isnan(x[0, names.index("Make")])
    assert x[1, names.index("Age")] == 44.0
    assert math.isnan(x[1, names.index("DayOfWeekClaimed")])


def test_integer_coded_levels_accept_float_input(spec):
    f = feature_frame(pl.DataFrame([_claim(spec, RepNumber=3.0)]), spec)
    assert f["RepNumber"][0] == 2.0  # level "3" is the third level


def test_calendar_gap_counts_days(spec):
    same_week = _claim(
        spec,
        Month="Mar",
        WeekOfMonth=2,
        DayOfWeek="Monday",
        MonthClaimed="Mar",
        WeekOfMonthClaimed=3,
        DayOfWeekClaimed="Wednesday",
    )
    f = feature_frame(pl.DataFrame([same_week]), spec)
    assert f["claim_lag_days"][0] == 9.0


def test_policy_type_mismatch(spec):
    ok = _claim(spec, PolicyType="Sport - Collision", VehicleCategory="Sport", BasePolicy="Collision")
    bad = _claim(spec, PolicyType="Sedan - Collision", VehicleCategory="Sport", BasePolicy="Collision")
    f = feature_frame(pl.DataFrame([ok, bad]), spec)
    assert f["policy_type_mismatch"].to_list() == [0.0, 1.0]


def test_scoring_input_missing_a_feature_column_is_named(spec):
    row = _claim(spec)
    del row["Fault"]
    with pytest.raises(SchemaError, match="'Fault': missing from the input"):
        encode(pl.DataFrame([row]), spec)


def _labelled(spec, n=4, **changes):
    rows = [_claim(spec, **changes) for _ in range(n)]
    for i, r in enumerate(rows):
        r["FraudFound_P"] = i % 2
    return pl.DataFrame(rows)


def test_validate_accepts_good_rows(spec):
    assert validate(_labelled(spec), spec).height == 4


def test_validate_names_unknown_category_and_fix(spec):
    with pytest.raises(SchemaError, match=r"'VehiclePrice'.*\['cheap'\].*add them to `levels`"):
        validate(_labelled(spec, VehiclePrice="cheap"), spec)


def test_validate_names_missing_columns(spec):
    df = _labelled(spec).drop("Fault")
    with pytest.raises(SchemaError, match=r"'Fault': missing from the data.*pass --spec"):
        validate(df, spec)


def test_validate_rejects_non_numeric_and_out_of_range(spec):
    with pytest.raises(SchemaError, match="'Age': non-numeric values"):
        validate(_labelled(spec, Age="old"), spec)
    with pytest.raises(SchemaError, match=r"'DriverRating': 4 value\(s\) outside \[1.0, 4.0\]"):
        validate(_labelled(spec, DriverRating=9), spec)


def test_validate_needs_both_classes(spec):
    df = _labelled(spec).with_columns(pl.lit(0).alias("FraudFound_P"))
    with pytest.raises(SchemaError, match="'FraudFound_P': the target must hold two values"):
        validate(df, spec)


def test_category_codes_match_a_plain_lookup_of_the_levels(spec):
    """The Enum-cast lookup gives each value its index in `levels`, and null for null, unknown
    values (a different case too) and missing codes, as a dictionary lookup does."""
    from features.claims.transform import _category_codes

    col = "Make"
    cs = spec.columns[col]
    values = [*cs.level_strings(), "Tesla", "", None, "honda", *cs.missing_strings()]
    got = pl.DataFrame({col: values}).select(_category_codes(col, cs)).to_series().to_list()
    index = {v: float(i) for i, v in enumerate(cs.level_strings())}
    assert got == [index.get(v) for v in values]


def test_spec_refuses_levels_repeated_as_text():
    from features.claims.spec import ColumnSpec

    fix = r"`levels` repeats \['1'\] \(compared as text\); list each value once"
    with pytest.raises(ValueError, match=fix):
        ColumnSpec(type="nominal", label="Rep", levels=[1, "1", 2])
