"""Schema checks on the shipped sample and (when present) the real development data."""

import polars as pl
import pytest

from features.claims.checks import validate
from features.claims.transform import encode
from tests.conftest import REAL_CLAIMS, SAMPLE_CLAIMS, require_real
from training.fraud.synthetic import generate_claims


def test_sample_matches_the_spec(spec, sample_frame):
    validate(sample_frame, spec)
    assert set(sample_frame.columns) == set(spec.columns) | {spec.identifier, spec.target}


def test_sample_is_small_labelled_and_imbalanced(sample_frame):
    assert SAMPLE_CLAIMS.stat().st_size < 600_000
    rate = sample_frame["FraudFound_P"].mean()
    assert 0.05 < rate < 0.25
    assert sample_frame["PolicyNumber"].n_unique() == sample_frame.height


def test_generator_is_seeded(spec):
    a, b = generate_claims(spec, 200, seed=3), generate_claims(spec, 200, seed=3)
    assert a.equals(b)
    assert not a.equals(generate_claims(spec, 200, seed=4))


def test_sample_file_is_what_the_generator_writes(spec, sample_frame):
    regenerated = pl.from_pandas(generate_claims(spec, sample_frame.height, seed=7))
    assert regenerated.equals(sample_frame.select(regenerated.columns))


def test_real_dev_data_matches_the_spec(spec):
    frame = pl.read_csv(require_real(REAL_CLAIMS))
    validate(frame, spec)
    assert frame.height == 12336
    x = encode(frame, spec)
    age = spec.feature_names.index("Age")
    zero_age = (frame["Age"] == 0).to_numpy()
    assert zero_age.sum() > 0
    assert all(v != v for v in x[zero_age, age])  # Age 0 is NaN (missing), not age zero
    assert "PolicyNumber" not in spec.feature_names


@pytest.mark.parametrize("column", ["VehiclePrice", "Days_Policy_Accident", "AgeOfPolicyHolder"])
def test_real_binned_fields_have_no_unknown_levels(spec, column):
    frame = pl.read_csv(require_real(REAL_CLAIMS))
    assert set(frame[column].unique().to_list()) <= set(spec.columns[column].level_strings())
