"""The served single-claim path (plain Python, features/claims/rowpath.py) gives the answer the
Polars path gives: probability, band, reasons in words and rule hits, to the byte."""

from __future__ import annotations

import pytest

from features.claims.api import claim_model
from features.claims.batch import ClaimBatch
from features.claims.spec import load_spec
from features.settings import load_settings
from serving.domain import fraud
from tests.unit.test_rowpath import generated_claims


@pytest.fixture(scope="module")
def service(trained):
    spec = load_spec(load_settings(trained.settings_path).serving.claim_spec)
    return fraud.FraudService(load_settings(trained.settings_path), spec), spec


def _claims(spec, rows):
    model = claim_model(spec)
    return [model.model_validate({"claim_id": f"C-{i}", **r}) for i, r in enumerate(rows)]


def test_one_claim_at_a_time_the_row_path_answers_as_polars_does(service, sample_frame, monkeypatch):
    svc, spec = service
    sample = [{c: r[c] for c in spec.columns} for r in sample_frame.head(150).iter_rows(named=True)]
    claims = _claims(spec, sample + generated_claims(spec, 150, seed=3))
    by_rows = [svc.score([c], "all").to_json() for c in claims]
    monkeypatch.setattr(fraud, "ROW_PATH_MAX", 0)  # every batch through Polars
    by_polars = [svc.score([c], "all").to_json() for c in claims]
    assert by_rows == by_polars
    assert sum(b'"risk_band":"low"' not in j for j in by_rows) > 10  # not all one band
    assert sum(b'"rules_hit":[]' not in j for j in by_rows) > 10


@pytest.mark.parametrize("explain", ["all", "flagged", "none"])
def test_small_batches_take_the_row_path_with_the_same_answer(service, monkeypatch, explain):
    svc, spec = service
    claims = _claims(spec, generated_claims(spec, fraud.ROW_PATH_MAX, seed=4))
    calls = []
    original = svc._assess_rows
    monkeypatch.setattr(svc, "_assess_rows", lambda *a: calls.append(1) or original(*a))
    fast = svc.score(claims, explain).to_json()
    assert calls == [1]  # it did take the row path
    monkeypatch.setattr(fraud, "ROW_PATH_MAX", 0)
    assert svc.score(claims, explain).to_json() == fast


def test_a_value_the_row_path_does_not_reproduce_is_scored_by_polars(service):
    svc, spec = service
    claim = _claims(spec, [spec.example])[0]
    odd = claim.model_copy(update={"Age": float("nan")})  # no API client can send this
    assert svc._assess_rows(svc.loaded.python_model, ClaimBatch.from_models([odd]), "all") is None
    assert 0 <= svc.score([odd]).probability[0] <= 1
