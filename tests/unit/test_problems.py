"""Every error body shape the service has met becomes the same RFC 9457 problem details."""

from __future__ import annotations

import asyncio
import json

import pytest

from serving.platform.openapi import augment
from serving.platform.problems import Answer, normalise

BENTOML_VALIDATION = {
    "error": "1 validation error for claims_score",
    "detail": [{"type": "int_parsing", "loc": ["claim", "Age"], "msg": "Input should be a valid integer"}],
}


def _problem(status: int, media: str, body: bytes) -> dict:
    return json.loads(normalise(status, media, body, instance="/v1/x", request_id="rid-1"))


@pytest.mark.parametrize(
    ("status", "media", "body", "detail"),
    [
        (400, "application/json", json.dumps(BENTOML_VALIDATION).encode(), "claim.Age: Input should be"),
        (400, "application/json", b'[{"error": "text: send a message"}]', "text: send a message"),
        (404, "application/json", b'{"error": "unknown query_id"}', "unknown query_id"),
        (503, "application/json", b'{"detail": "Runners are not ready."}', "Runners are not ready."),
        (404, "text/plain", b"Not Found", "Not Found"),
        (500, "text/plain", b"", "Internal Server Error"),
        (400, "application/json", b"{broken", "Bad Request"),
    ],
)
def test_each_known_error_shape_becomes_a_problem(status, media, body, detail):
    problem = _problem(status, media, body)
    assert problem["type"] == "about:blank" and problem["status"] == status and problem["title"]
    assert detail in problem["detail"] and problem["instance"] == "/v1/x" and problem["request_id"] == "rid-1"


def test_field_errors_are_listed_with_their_location():
    problem = _problem(400, "application/json", json.dumps(BENTOML_VALIDATION).encode())
    assert problem["errors"] == [
        {"loc": ["claim", "Age"], "msg": "Input should be a valid integer", "type": "int_parsing"}
    ]
    many = {"detail": [{"loc": ["f", i], "msg": "bad", "type": "t"} for i in range(8)]}
    problem = _problem(400, "application/json", json.dumps(many).encode())
    assert len(problem["errors"]) == 8 and "(and 3 more in `errors`)" in problem["detail"]


def test_an_answer_already_a_problem_keeps_its_body_and_gets_the_request_id():
    body = json.dumps(
        {"type": "about:blank", "title": "Too Many Requests", "status": 429, "detail": "slow down"}
    )
    assert _problem(429, "application/problem+json", body.encode())["detail"] == "slow down"


def _through(messages: list[dict], path: str = "/v1/x") -> list[dict]:
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def main():
        answer = Answer(send, path, "rid-9")
        for m in messages:
            await answer(m)

    asyncio.run(main())
    return sent


def test_a_success_streams_through_with_the_request_id_and_an_error_is_rewritten():
    ok = [
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]},
        {"type": "http.response.body", "body": b'{"a": 1}', "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]
    sent = _through(ok)
    assert (
        len(sent) == 3
        and (b"x-request-id", b"rid-9") in sent[0]["headers"]
        and sent[1]["body"] == b'{"a": 1}'
    )
    error = [
        {"type": "http.response.start", "status": 400, "headers": [(b"content-type", b"application/json")]},
        {"type": "http.response.body", "body": b'[{"error": "bad"}]', "more_body": True},
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]
    start, body = _through(error)
    headers = dict(start["headers"])
    assert headers[b"content-type"] == b"application/problem+json"
    assert (
        int(headers[b"content-length"]) == len(body["body"]) and json.loads(body["body"])["detail"] == "bad"
    )


def test_openapi_gets_security_schemes_and_problem_answers_on_v1_only():
    spec = {
        "paths": {
            "/v1/kb/search": {
                "post": {"responses": {"200": {"description": "ok"}, "400": {"description": "x"}}}
            },
            "/healthz": {"get": {"responses": {"200": {"description": "ok"}}}},
        }
    }
    out = augment(spec)
    op = out["paths"]["/v1/kb/search"]["post"]
    assert set(out["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert op["security"] == [{"bearer": []}, {"apiKey": []}]
    assert op["responses"]["400"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }
    assert (
        "Retry-After" in op["responses"]["429"]["headers"]
        and "X-Request-ID" in op["responses"]["200"]["headers"]
    )
    assert "security" not in out["paths"]["/healthz"]["get"]


def test_openapi_bodies_keep_what_bentoml_inlining_drops():
    spec = {
        "paths": {
            "/v1/contact/analyze": {
                "post": {
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "required": ["text"],
                                    "properties": {
                                        "text": {"type": "string"},
                                        "channel": {"type": "string", "enum": ["chat"], "default": None},
                                    },
                                }
                            }
                        }
                    },
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {"title": "ContactAnalysis"}}}}
                    },
                }
            }
        },
        "components": {"schemas": {"ContactAnalysis": {"type": "object"}}},
    }
    op = augment(spec)["paths"]["/v1/contact/analyze"]["post"]
    channel = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["channel"]
    assert channel == {"anyOf": [{"type": "string", "enum": ["chat"]}, {"type": "null"}], "default": None}
    assert op["requestBody"]["required"] is True
    ok = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/ContactAnalysis"}
