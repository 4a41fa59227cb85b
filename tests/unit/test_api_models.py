import pytest
from pydantic import ValidationError

from features.claims.api import claim_inputs, claim_model
from features.claims.batch import ClaimBatch
from tests.unit.test_transform import _claim


@pytest.fixture(scope="module")
def Claim(spec):
    return claim_model(spec)


def test_valid_claim(Claim, spec):
    c = Claim(**_claim(spec), claim_id="C-1")
    assert c.claim_id == "C-1" and c.Fault == "Policy Holder"


def test_bad_category_names_the_field_and_choices(Claim, spec):
    with pytest.raises(ValidationError, match=r"VehiclePrice\n.*Input should be 'less than 20000'"):
        Claim(**_claim(spec, VehiclePrice="cheap"))


def test_unknown_key_and_missing_key_are_rejected(Claim, spec):
    with pytest.raises(ValidationError, match=r"Vehicle_Price\n.*Extra inputs"):
        Claim(**_claim(spec), Vehicle_Price="x")
    row = _claim(spec)
    del row["Fault"]
    with pytest.raises(ValidationError, match=r"Fault\n.*Field required"):
        Claim(**row)


def test_open_vocabulary_accepts_new_make(Claim, spec):
    assert Claim(**_claim(spec, Make="Tesla")).Make == "Tesla"


def test_numeric_bounds(Claim, spec):
    with pytest.raises(ValidationError, match=r"DriverRating\n.*less than or equal to 4"):
        Claim(**_claim(spec, DriverRating=7))


@pytest.mark.parametrize("field", ["Deductible", "Age", "Make"])
def test_true_or_false_is_not_a_number_or_a_level(Claim, spec, field):
    """pydantic's lax mode reads JSON true/false as 1/0; the schema says number (or level)."""
    with pytest.raises(ValidationError, match=rf"{field}\n.*not true/false"):
        Claim(**_claim(spec, **{field: False}))
    assert Claim(**_claim(spec, Deductible=500.0)).Deductible == 500


def test_spec_example_is_a_valid_request(Claim, spec):
    assert Claim(**spec.example).Fault == spec.example["Fault"]
    assert Claim.model_json_schema()["example"]["claim_id"] == "CLM-0001"


def test_claim_inputs_equal_model_dump_without_the_id(Claim, spec):
    """The served path's cheap dump must give exactly what pydantic's model_dump gives."""
    claims = [
        Claim(**_claim(spec), claim_id="C-1"),
        Claim(**_claim(spec, Make="Tesla", Age=0)),  # open vocabulary, no id
        Claim.model_validate_json(Claim(**_claim(spec), claim_id="C-2").model_dump_json()),
    ]
    for c in claims:
        inputs = claim_inputs(c)
        assert inputs == c.model_dump(exclude={"claim_id"})
        assert "claim_id" not in inputs and len(inputs) == len(spec.columns)
    inputs["Make"] = "changed"  # a copy: the request's claim is untouched
    assert claims[-1].Make != "changed"


def test_claim_columns_build_the_frame_the_row_dicts_build(Claim, spec):
    """The served path builds its Polars frame from columns; it must be the row-dict frame
    (open vocabularies mixing ints and strings, unknown makes, missing codes, optional fields)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from serving.domain.fraud import _text_columns

    claims = [
        Claim(**_claim(spec), claim_id="C-1"),
        Claim(**_claim(spec, Make="Tesla", Age=0)),
        Claim(**_claim(spec, Make=7)),
        Claim(**_claim(spec, Make="")),
    ]
    overrides = dict.fromkeys(_text_columns(spec), pl.Utf8)
    by_rows = pl.DataFrame([claim_inputs(c) for c in claims], schema_overrides=overrides, strict=False)
    by_columns = ClaimBatch.from_models(claims).frame(_text_columns(spec))
    assert_frame_equal(by_columns, by_rows)
    assert by_columns.get_column("Make").to_list() == [claims[0].Make, "Tesla", "7", ""]
    assert "claim_id" not in by_columns.columns and by_columns.width == len(spec.columns)
