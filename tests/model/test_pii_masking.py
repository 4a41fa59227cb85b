"""The PII masker on the labelled contact-centre sentences (data_samples/pii): recall per type
and precision at the issue's bars, and what masking leaves of a realistic message. Speed is
measured by `make bench` (benchmarks/pii.py)."""

from __future__ import annotations

import pytest

from features.pii import PII_TYPES, find_pii, mask_pii
from features.pii.evaluate import read_labelled, score
from tests.conftest import ROOT

SET = ROOT / "data_samples" / "pii" / "contact_sentences.txt"


@pytest.fixture(scope="module")
def result() -> dict:
    return score(read_labelled(SET), find_pii)


def test_the_set_has_200_sentences_and_every_type(result):
    assert len(read_labelled(SET)) >= 200
    assert set(result["support"]) == set(PII_TYPES) - {"ADDRESS"}


def test_recall_is_at_least_095_for_each_type(result):
    low = {t: r for t, r in result["recall"].items() if r < 0.95}
    assert not low, f"recall under 0.95: {low}; missed: {result['missed']}"


def test_precision_is_at_least_090(result):
    assert result["precision"] >= 0.90, result["false_positives"]


def test_what_the_issue_found_stored_verbatim_is_masked():
    text = "Customer Jane Morgan says her windscreen is cracked, reg AB12 CDE, born 04/05/1980"
    assert mask_pii(text) == "Customer [PERSON] says her windscreen is cracked, reg [PLATE], born [DOB]"


def test_business_facts_survive_masking():
    for text in ("I paid 250 pounds excess on 12/03 and the repair is still not done.",
                 "The accident happened at 8:15 on the M62 near junction 26.",
                 "My renewal price jumped from 480 to 910 pounds."):  # fmt: skip
        assert mask_pii(text) == text
