import pytest
from pydantic import ValidationError

from features.claims.spec import ClaimSpec, load_spec, spec_path


def test_shipped_spec_roles(spec):
    assert spec.identifier == "PolicyNumber"
    assert spec.target == "FraudFound_P"
    assert "PolicyNumber" not in spec.feature_names
    assert "FraudFound_P" not in spec.feature_names
    assert spec.feature_names[-2:] == ["claim_lag_days", "policy_type_mismatch"]


def test_binned_fields_keep_their_natural_order(spec):
    assert spec.columns["VehiclePrice"].levels[0] == "less than 20000"
    assert spec.columns["VehiclePrice"].levels[-1] == "more than 69000"
    assert spec.columns["Days_Policy_Accident"].levels == [
        "none",
        "1 to 7",
        "8 to 15",
        "15 to 30",
        "more than 30",
    ]


def test_age_zero_is_a_missing_code(spec):
    assert spec.columns["Age"].missing_codes == [0]


def test_categorical_column_needs_levels():
    with pytest.raises(ValidationError, match="needs `levels`"):
        ClaimSpec.model_validate(
            {"name": "x", "version": "1", "columns": {"a": {"type": "ordinal", "label": "a"}}}
        )


def test_derived_feature_must_use_known_columns():
    bad = {
        "name": "x",
        "version": "1",
        "columns": {"a": {"type": "nominal", "label": "a", "levels": ["p"]}},
        "derived": [{"kind": "parts_mismatch", "name": "m", "label": "m", "column": "a", "parts": ["b"]}],
    }
    with pytest.raises(ValidationError, match="uses unknown columns"):
        ClaimSpec.model_validate(bad)


def test_unknown_spec_name_says_how_to_fix():
    with pytest.raises(FileNotFoundError, match="pass a path to a spec YAML"):
        spec_path("no_such_spec")


def test_spec_loads_from_a_path(tmp_path, spec):
    path = tmp_path / "copy.yaml"
    path.write_text(spec_path().read_text())
    assert load_spec(path).fingerprint() == spec.fingerprint()


def test_reason_templates(spec):
    assert spec.reason_template("Fault").format(value="Policy Holder") == "at fault: Policy Holder"
    assert spec.reason_template("Sex") == "policy holder sex: {value}"  # default from the label
