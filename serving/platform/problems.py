"""One error body for every endpoint: RFC 9457 problem details (`application/problem+json`).

The gateway writes its own refusals (401, 403, 413, 415, 429, ...) with `problem`, and turns
every other error answer into one with `normalise`: BentoML's validation errors (`{"error",
"detail": [pydantic errors]}`), its other errors (`{"error": ...}`, some as a one-item JSON
array), Starlette's (`{"detail": "..."}`) and plain text. Field errors are listed under
`errors`, each with the field's `loc`, so a client finds the field to fix without parsing text.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

PROBLEM_JSON = "application/problem+json"
REQUEST_ID_SCOPE_KEY = "ccrisk.request_id"  # set by the gateway; the request timeout's 504 reads it
MAX_DETAIL_FIELDS = 5  # field errors spelled out in `detail`; all of them are in `errors`


def problem(
    status: int,
    detail: str,
    *,
    instance: str,
    request_id: str,
    errors: list[dict[str, Any]] | None = None,
) -> bytes:
    """The problem-details body for `status`: `type`, `title`, `status`, `detail`, `instance`,
    the request id and, for a request that failed validation, its field `errors`."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
        "instance": instance,
        "request_id": request_id,
    }
    if errors:
        body["errors"] = errors
    return json.dumps(body).encode()


def normalise(status: int, content_type: str, body: bytes, *, instance: str, request_id: str) -> bytes:
    """Any error answer's body as problem details (an existing problem body is kept as it is,
    with the request id added)."""
    parsed: Any = None
    if "json" in content_type:
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = None
    if content_type.startswith(PROBLEM_JSON) and isinstance(parsed, dict):
        return json.dumps({**parsed, "request_id": request_id}).encode()
    raw = b"" if "json" in content_type else body  # a JSON body that does not parse says nothing
    detail, errors = _detail(status, parsed, raw)
    return problem(status, detail, instance=instance, request_id=request_id, errors=errors)


def _detail(status: int, parsed: Any, raw: bytes) -> tuple[str, list[dict[str, Any]] | None]:
    if isinstance(parsed, list) and len(parsed) == 1:  # BentoML's `({"error": ...},)` for a 4xx
        parsed = parsed[0]
    if isinstance(parsed, dict):
        fields = parsed.get("detail")
        if isinstance(fields, list) and fields and all(isinstance(f, dict) for f in fields):
            errors = [_field_error(f) for f in fields]
            return _fields_sentence(errors), errors
        for key in ("error", "detail", "message"):
            if isinstance(parsed.get(key), str) and parsed[key].strip():
                return parsed[key], None
    text = raw.decode("utf-8", "replace").strip()
    if text and parsed is None and len(text) <= 2000:
        return text, None
    return _title(status), None


def _field_error(error: dict[str, Any]) -> dict[str, Any]:
    return {
        "loc": [p if isinstance(p, int) else str(p) for p in error.get("loc", ())],
        "msg": str(error.get("msg", "invalid value")),
        "type": str(error.get("type", "value_error")),
    }


def _fields_sentence(errors: list[dict[str, Any]]) -> str:
    named = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in errors[:MAX_DETAIL_FIELDS]]
    more = len(errors) - len(named)
    tail = f" (and {more} more in `errors`)" if more else ""
    return f"{len(errors)} invalid field(s): " + "; ".join(named) + tail


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# The body's schema as the OpenAPI document declares it (serving/platform/openapi.py).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` lists the fields of a request that failed validation",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string", "example": "Bad Request"},
        "status": {"type": "integer", "example": 400},
        "detail": {
            "type": "string",
            "example": "1 invalid field(s): claim.Age: Input should be a valid integer",
        },
        "instance": {"type": "string", "example": "/v1/claims/score"},
        "request_id": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


class Answer:
    """The ASGI `send` of one request, wrapped: every response gets `X-Request-ID`, every error
    answer becomes problem details, and the OpenAPI document gets its additions
    (serving/platform/openapi.py). Bodies are held only for those two; every other answer streams
    through as it is sent."""

    def __init__(self, send, path: str, request_id: str):
        self.send, self.path, self.request_id = send, path, request_id
        self.started = False
        self._held: dict[str, Any] | None = None
        self._chunks: list[bytes] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            headers = [*message.get("headers", ()), (b"x-request-id", self.request_id.encode())]
            message = {**message, "headers": headers}
            status, media = message["status"], _media(headers)
            if (status >= 400 and not media.startswith(PROBLEM_JSON)) or (
                status == 200 and self.path == "/docs.json"
            ):
                self._held = message
                return None
            return await self.send(message)
        if message["type"] == "http.response.body" and self._held is not None:
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                await self._release()
            return None
        return await self.send(message)

    async def _release(self) -> None:
        held, body = self._held, b"".join(self._chunks)
        assert held is not None
        self._held, self._chunks = None, []
        if held["status"] >= 400:
            body, media = self.rewrite(held["status"], _media(held["headers"]), body), PROBLEM_JSON
        else:
            from serving.platform.openapi import augmented

            body, media = augmented(body), "application/json"
        kept = [(k, v) for k, v in held["headers"] if k.lower() not in (b"content-length", b"content-type")]
        kept += [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
        await self.send({**held, "headers": kept})
        await self.send({"type": "http.response.body", "body": body})

    def rewrite(self, status: int, media: str, body: bytes) -> bytes:
        return normalise(status, media, body, instance=self.path, request_id=self.request_id)

    async def json(self, status: int, payload: dict[str, Any]) -> None:
        """Answer with a JSON document now; an error status sends it as problem details with
        the document's fields added (e.g. `/readyz`'s per-model state)."""
        if status >= 400:
            base = json.loads(
                problem(status, payload.get("detail", ""), instance=self.path, request_id=self.request_id)
            )
            body, media = json.dumps({**payload, **base}).encode(), PROBLEM_JSON
        else:
            body, media = json.dumps(payload).encode(), "application/json"
        base_headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
        await self({"type": "http.response.start", "status": status, "headers": base_headers})
        await self({"type": "http.response.body", "body": body})

    async def refuse(self, status: int, detail: str, headers=()) -> None:
        """Answer with a problem now (the gateway's own refusals and internal errors)."""
        body = problem(status, detail, instance=self.path, request_id=self.request_id)
        base = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
        await self({"type": "http.response.start", "status": status, "headers": base + list(headers)})
        await self({"type": "http.response.body", "body": body})


def _media(headers) -> str:
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.decode("latin-1").split(";")[0].strip().lower()
    return ""
