import pytest
from pydantic import ValidationError

from features.claims.api import claim_model
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


def test_spec_example_is_a_valid_request(Claim, spec):
    assert Claim(**spec.example).Fault == spec.example["Fault"]
    assert Claim.model_json_schema()["example"]["claim_id"] == "CLM-0001"
