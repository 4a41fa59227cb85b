"""What the OpenAPI document BentoML derives from the endpoints lacks, added as it is served:
the API-key security schemes (so Swagger's "Authorize" works), and on every /v1 operation its
error answers as problem details and the `X-Request-ID` response header."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from serving.platform.problems import PROBLEM_JSON, PROBLEM_SCHEMA

SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key from `ccrisk keys create --role ROLE --name NAME`",
    },
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "the same key"},
}
ERRORS = {
    400: "a field is invalid: `errors` names each one",
    401: "no API key, or an unknown, revoked or expired one",
    403: "the key's role (or tenant) may not call this endpoint",
    404: "the thing named does not exist (e.g. an unknown query_id)",
    413: "the body or the batch is over its limit: split it",
    415: "the body is not application/json",
    429: "over the key's or tenant's rate limit, or the tenant's daily quota: retry after `Retry-After`",
    500: "an internal error (recorded in the audit trail)",
    503: "a model is loading, or the audit trail is unavailable",
    504: "no answer within the request timeout",
}
# Errors only some endpoints answer, besides ERRORS.
PATH_ERRORS = {
    "/v1/claims/score_csv": {422: "the CSV cannot be read as claims of the spec: `detail` names the cell"},
}
REQUEST_ID = {
    "description": "the caller's X-Request-ID, or one the service made; kept in the audit record",
    "schema": {"type": "string"},
}


def augment(spec: dict[str, Any]) -> dict[str, Any]:
    """`spec` with security schemes, the Problem schema and every /v1 operation's errors."""
    components = spec.setdefault("components", {})
    components.setdefault("securitySchemes", {}).update(SCHEMES)
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, operations in spec.get("paths", {}).items():
        if not path.startswith("/v1/"):
            continue
        for operation in operations.values():
            if isinstance(operation, dict) and "responses" in operation:
                _secure(operation, {**ERRORS, **PATH_ERRORS.get(path, {})})
                _faithful_bodies(operation, schemas)
    return spec


def _faithful_bodies(operation: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Undo what BentoML's inlining loses: a parameter defaulting to null accepts null, a body
    with required fields is required, and a 200 answer refers to its model's own schema (the
    inlined copy drops `null` from optional fields such as `claim_id`)."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = body.get("schema", {})
    for name, prop in schema.get("properties", {}).items():
        if prop.get("default", "") is None and "anyOf" not in prop:
            schema["properties"][name] = {
                "anyOf": [{k: v for k, v in prop.items() if k != "default"}, {"type": "null"}],
                "default": None,
            }
    if schema.get("required"):
        operation["requestBody"]["required"] = True
    ok = operation["responses"].get("200", {}).get("content", {}).get("application/json", {})
    title = ok.get("schema", {}).get("title")
    if title in schemas:
        ok["schema"] = {"$ref": f"#/components/schemas/{title}"}


def _secure(operation: dict[str, Any], errors: dict[int, str]) -> None:
    operation["security"] = [{name: []} for name in SCHEMES]
    responses = operation["responses"]
    for status in [s for s in responses if str(s)[0] in "45"]:  # BentoML's own error entries
        del responses[status]
    for response in responses.values():
        response.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID
    ref = {"$ref": "#/components/schemas/Problem"}
    for status, description in sorted(errors.items()):
        headers: dict[str, Any] = {"X-Request-ID": REQUEST_ID}
        if status == 429:
            headers["Retry-After"] = {"description": "seconds to wait", "schema": {"type": "string"}}
        responses[str(status)] = {
            "description": description,
            "headers": headers,
            "content": {PROBLEM_JSON: {"schema": ref}},
        }


@lru_cache(maxsize=4)
def augmented(body: bytes) -> bytes:
    """The served document's bytes, augmented (the same bytes each time: cached)."""
    return json.dumps(augment(json.loads(body))).encode()
