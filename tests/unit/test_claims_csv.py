"""A claims CSV typed by the claim spec (features/claims/csv_rows.py), as the claims screen uploads it."""

from __future__ import annotations

import pytest

from features.claims.api import claim_model
from features.claims.csv_rows import CsvError, CsvTooLong, claim_rows
from tests.conftest import SAMPLE_CLAIMS


def test_the_sample_file_becomes_valid_claims(spec):
    rows = claim_rows(SAMPLE_CLAIMS.read_text(), spec, 10_000)
    assert len(rows) == 1500
    claim = claim_model(spec)
    for row in rows:
        claim.model_validate(row)  # raises on any cell typed wrongly
    first = rows[0]
    assert first["claim_id"] == "1" and spec.target not in first and spec.identifier not in first
    assert first["RepNumber"] == 7 and first["Age"] == 36 and first["Month"] == "Jun"


def test_cells_are_typed_by_the_spec(spec):
    text = (
        "\ufeffPolicyNumber,Age,RepNumber,Fault\n  A-1 ,40.0,3, Policy Holder \n\n,,,\nA-2,,12,Third Party\n"
    )
    rows = claim_rows(text, spec, 10)
    assert rows == [
        {"claim_id": "A-1", "Age": 40, "RepNumber": 3, "Fault": "Policy Holder"},
        {"claim_id": "A-2", "Age": None, "RepNumber": 12, "Fault": "Third Party"},
    ]


def test_cells_that_cannot_be_typed_stay_text_for_validation_to_name(spec):
    rows = claim_rows("Age,RepNumber,Fault\n40.5,99,Nobody\n", spec, 10)
    assert rows == [{"Age": "40.5", "RepNumber": "99", "Fault": "Nobody"}]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "no header row"),
        ("Age,Colour\n1,red\n", "unknown column(s) ['Colour']"),
        ("Age\n\n", "a header but no claims"),
        ("Age,Fault\n1\n", "data row 1 has 1 cells, the header 2"),
        ("Age\n4\r0\n", "not readable as CSV"),
    ],
)
def test_a_file_that_cannot_be_read_names_the_fix(spec, text, words):
    with pytest.raises(CsvError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        claim_rows(text, spec, 10)


def test_more_claims_than_one_call_may_score(spec):
    with pytest.raises(CsvTooLong, match="over 2 claims"):
        claim_rows("Age\n1\n2\n3\n", spec, 2)


def test_errors_number_rows_as_in_the_whole_file(spec):
    with pytest.raises(CsvError, match="data row 82 has 1 cells"):
        claim_rows("Age,Fault\n40,Policy Holder\n41\n", spec, 10, first_row=81)
