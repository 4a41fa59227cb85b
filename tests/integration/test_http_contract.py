"""One HTTP contract: every error answer of every endpoint is RFC 9457 problem details, every
response carries X-Request-ID (the caller's, or a new one kept in the audit record), and the
OpenAPI document declares the API-key schemes and the error answers."""

from __future__ import annotations

import httpx
import pytest

from features.ops.audit import open_audit
from features.settings import load_settings

PROBLEM = "application/problem+json"
# Every /v1 endpoint, with a body that fails validation in a field the problem must name.
INVALID = {
    "/v1/claims/score": ({"claim": {"claim_id": "C-1", "Age": "old"}}, "claim"),
    "/v1/claims/score_batch": ({"claims": "EXAMPLE", "explain": "sometimes"}, "explain"),
    "/v1/claims/vehicle_claims/score": ({"claim": {"claim_id": "C-1", "Age": "old"}}, "claim"),
    "/v1/claims/vehicle_claims/score_batch": ({"claims": "EXAMPLE", "explain": "sometimes"}, "explain"),
    "/v1/claims/health_claims/score": ({"claim": {"claim_id": "H-1", "policy_start": "soon"}}, "claim"),
    "/v1/claims/health_claims/score_batch": ({"claims": [{"hospital_days": -1}]}, "claims"),
    "/v1/claims/score_csv": ({"csv": "Age\n40\n", "explain": "sometimes"}, "explain"),
    "/v1/claims/feedback": ({"claim_id": "C-1", "outcome": "maybe", "investigator": "x"}, "outcome"),
    "/v1/contact/analyze": ({"text": "hello", "key_phrases": "sometimes"}, "key_phrases"),
    "/v1/contact/analyze_batch": ({"messages": []}, "messages"),
    "/v1/kb/search": ({"query": "windscreen", "top_k": 0}, "top_k"),
    "/v1/kb/feedback": ({"query_id": "q", "article_id": "a", "feedback": "meh"}, "feedback"),
    "/v1/admin/reload_rules": ({"unexpected": 1}, None),
    "/v1/admin/reload_models": ({"unexpected": 1}, None),
}


def assert_problem(r: httpx.Response, status: int, path: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM), r.headers
    body = r.json()
    assert isinstance(body, dict), body
    assert body["type"] == "about:blank" and body["status"] == status and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    assert body["instance"] == path and body["request_id"] == r.headers["x-request-id"]
    return body


def test_the_service_names_every_endpoint_checked_here(server):
    spec = server.get("/docs.json").json()
    assert {p for p in spec["paths"] if p.startswith("/v1/")} == set(INVALID)


@pytest.mark.parametrize("path", sorted(INVALID))
def test_each_endpoint_answers_errors_as_problem_details(server, spec, path):
    anonymous = httpx.post(server.base_url.join(path), json={}, timeout=30)
    assert_problem(anonymous, 401, path)
    wrong_type = server.post(path, content=b"x", headers={"content-type": "text/plain"})
    assert_problem(wrong_type, 415, path)
    body, field = INVALID[path]
    if body.get("claims") == "EXAMPLE":
        body = {**body, "claims": [{"claim_id": "C-1", **spec.example}]}
    r = server.post(path, json=body)
    if field is None:  # endpoints without a body take none: extra fields are ignored
        assert r.status_code == 200, r.text
        return
    problem = assert_problem(r, 400, path)
    assert field in problem["detail"]
    assert any(field in map(str, e["loc"]) for e in problem["errors"]), problem


def test_bentoml_errors_that_came_back_as_a_json_array_are_problems_too(server):
    """An endpoint's InvalidArgument / NotFound / PayloadTooLarge used to reach the client as
    `[{"error": ...}]`."""
    r = server.post("/v1/contact/analyze", json={"text": "   "})
    assert "text" in assert_problem(r, 400, "/v1/contact/analyze")["detail"]
    r = server.post(
        "/v1/kb/feedback", json={"query_id": "no-such-query", "article_id": "a", "feedback": "helpful"}
    )
    assert "no-such-query" in assert_problem(r, 404, "/v1/kb/feedback")["detail"]
    messages = [{"text": "hello"}] * 257
    r = server.post("/v1/contact/analyze_batch", json={"messages": messages})
    assert "split the batch" in assert_problem(r, 413, "/v1/contact/analyze_batch")["detail"]
    r = server.post("/v1/claims/score", content=b"{not json")
    assert_problem(r, 400, "/v1/claims/score")


def test_unknown_paths_are_problems(server):
    assert_problem(server.get("/v1/nothing-here"), 404, "/v1/nothing-here")
    assert_problem(server.get("/nothing-here"), 404, "/nothing-here")


def test_every_response_carries_the_callers_request_id_or_a_new_one(server, trained):
    r = server.get("/readyz", headers={"X-Request-ID": "trace-123"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-123"
    minted = server.get("/healthz").headers["x-request-id"]
    assert len(minted) == 32 and minted != server.get("/healthz").headers["x-request-id"]
    bad = server.get("/healthz", headers={"X-Request-ID": 'no spaces or quotes" allowed'})
    assert bad.headers["x-request-id"] != 'no spaces or quotes" allowed'
    r = server.post("/v1/kb/search", json={"query": "windscreen"}, headers={"X-Request-ID": "kb-search-77"})
    assert r.status_code == 200 and r.headers["x-request-id"] == "kb-search-77"
    trail = open_audit(load_settings(trained.settings_path))
    assert [row["endpoint"] for row in trail.rows() if row["request_id"] == "kb-search-77"] == [
        "/v1/kb/search"
    ]
    assert trail.verify() == []


def test_openapi_declares_the_key_schemes_the_error_answers_and_the_batch_limits(server, trained):
    spec = server.get("/docs.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "apiKey", "in": "header", "name": "X-API-Key"}
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if not path.startswith("/v1/") or not isinstance(op, dict) or "responses" not in op:
                continue
            assert op["security"] == [{"bearer": []}, {"apiKey": []}], (method, path)
            for status in ("400", "401", "403", "413", "415", "429", "500", "503", "504"):
                content = op["responses"][status]["content"]
                assert content == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert "health" not in str(spec["paths"].get("/healthz", {}).get("get", {}).get("security", ""))
    settings = load_settings(trained.settings_path).serving
    body = spec["paths"]["/v1/contact/analyze_batch"]["post"]["requestBody"]
    assert (
        body["content"]["application/json"]["schema"]["properties"]["messages"]["maxItems"]
        == settings.max_batch_texts
    )
    body = spec["paths"]["/v1/claims/score_batch"]["post"]["requestBody"]
    assert (
        body["content"]["application/json"]["schema"]["properties"]["claims"]["maxItems"]
        == settings.max_batch_claims
    )
