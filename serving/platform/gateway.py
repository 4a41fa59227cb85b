"""ASGI middleware in front of the service. Every response gets an `X-Request-ID` and every
error answer is RFC 9457 problem details (serving/platform/problems.py). Every `/v1/*` call
goes through API key -> role check -> rate limits and tenant quota (serving/platform/authorise.py)
-> body-size cap -> the endpoint -> hash-chained audit record (committed before the response
leaves). Every call gets exactly one record: refusals, unparseable bodies, internal errors (an
audited 500 at once) and timeouts (the 504) included; refused anonymous calls are capped per
address and summarised (serving/platform/limits.py). Health, readiness, metrics and the API docs
stay open; `/readyz` reports the models' state (serving/lifecycle/health.py).

Endpoints add the model and an outcome summary to the audit record with `note()` (admin routes:
the action and the tenant acted on, `note_action()`); it reaches them through a context variable
that BentoML copies into the worker thread running the endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any, NoReturn

from features.ops.audit import AuditEntry, AuditWriter, open_audit, request_sha256
from features.ops.keys import Caller, KeyRing
from features.settings import Settings
from serving.lifecycle import health
from serving.platform.authorise import Authoriser
from serving.platform.balance import worker_load
from serving.platform.limits import RateLimiter, RefusalTracker
from serving.platform.problems import REQUEST_ID_SCOPE_KEY, Answer

logger = logging.getLogger(__name__)

CALLER_SCOPE_KEY = (
    "ccrisk.caller"  # the authorised caller, for routes that answer about it (serving/ui/api.py)
)
_CALL: ContextVar[dict[str, Any] | None] = ContextVar("ccrisk_call", default=None)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def request_id(headers: dict[bytes, bytes]) -> str:
    """The caller's X-Request-ID when it is a plain token of at most 128 characters, else a new one."""
    given = headers.get(b"x-request-id", b"").decode("latin-1").strip()
    return given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex


def note(model: str, version: str, outcome: dict[str, Any]) -> None:
    """Called by an endpoint: the model that answered and a PII-free summary of the answer."""
    call = _CALL.get()
    if call is not None:
        call.update(model=model, model_version=str(version), outcome=outcome)


def note_action(tenant: str, outcome: dict[str, Any]) -> None:
    """Called by an admin route: what it did (or was refused) and the tenant acted on, which
    the call's record carries instead of the caller's (so that tenant's admins see it)."""
    call = _CALL.get()
    if call is not None:
        call.update(tenant=tenant, outcome=outcome)


def caller_tenant() -> str | None:
    """The tenant of the call being answered (None outside a call)."""
    call = _CALL.get()
    return call["caller"].tenant or None if call is not None else None


def caller_pin() -> str | None:
    """ "challenger" when the caller's tenant is pinned to the challenger for a pilot."""
    call = _CALL.get()
    return call.get("pin") if call is not None else None


class BodyTooLarge(Exception):
    pass


async def _read_body(receive, limit: int) -> bytes:
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def exit_worker(reason: str) -> NoReturn:
    """End this worker process; BentoML's supervisor starts a new one (after ~10 s).

    The gateway is built during the first ASGI call, the start-up ("lifespan") one, but outside
    the handler that reports start-up failures: uvicorn takes an exception there to mean the
    app has no start-up step and serves on, and the worker answered every call with a 500
    because its service was never created. Exiting is what BentoML does on a failed start-up."""
    logger.critical("worker %d: %s; exiting so that a new worker starts", os.getpid(), reason, exc_info=True)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(3)  # not sys.exit: uvicorn would catch that too


class Gateway:
    """The middleware; BentoML builds one per worker process (`add_asgi_middleware`)."""

    def __init__(self, app, settings: Settings):
        self.app = app
        sec = settings.security
        self.max_body = sec.max_body_bytes
        try:
            keys = KeyRing(settings.stores_url) if sec.auth else None
            self.access = Authoriser(keys, RateLimiter(sec.rate_limit_per_minute, sec.rate_burst))
            self.audit = AuditWriter(open_audit(settings))
        except Exception:
            exit_worker("cannot open the API keys or the audit trail")
        self.refusals = RefusalTracker(sec.anonymous_per_minute, sec.refusal_summary_s, self._summarise)
        self.load = worker_load(settings.state_path / "run", settings.serving.workers)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        answer = Answer(send, scope["path"], request_id(headers))
        scope[REQUEST_ID_SCOPE_KEY] = answer.request_id
        readyz = scope["path"] == "/readyz" and scope["method"] in ("GET", "HEAD")
        if readyz and (ready := health.readiness()) is not None:
            status, body = ready
            detail = "a required model is not loaded: see models" if status >= 400 else ""
            return await answer.json(status, {**body, "detail": detail} if detail else body)
        call: dict[str, Any] = {"caller": Caller("anonymous", "none"), "start": time.perf_counter()}
        if not scope["path"].startswith("/v1/"):
            call["recorded"] = True  # open routes are not audited
        try:
            if not scope["path"].startswith("/v1/"):
                return await self.app(scope, receive, answer)
            if self.load is None:  # one worker, or outside a BentoML worker (serving/platform/balance.py)
                return await self._call(scope, receive, answer, headers, call)
            self.load.enter()
            try:
                await self._call(scope, receive, answer, headers, call)
            finally:
                self.load.leave()
        except asyncio.CancelledError:  # the request timeout (outside this middleware) answers 504
            if not call.get("recorded"):
                self._submit(self._entry(call, scope["path"], answer, b""), 504, call)
            raise
        except Exception:
            if answer.started:
                raise
            logger.exception("internal error answering %s (request %s)", scope["path"], answer.request_id)
            if not call.get("recorded"):
                with contextlib.suppress(Exception):  # already logged: the 500 goes out regardless
                    await self._record(self._entry(call, scope["path"], answer, b""), 500, call)
            await answer.refuse(500, f"internal error: quote request id {answer.request_id} to the operator")

    def _entry(self, call: dict, path: str, answer: Answer, body: bytes) -> AuditEntry:
        digest, kind = request_sha256(body)
        caller = call["caller"]
        return AuditEntry(caller.name, caller.role, path, 0, digest, 0.0, request_hash_kind=kind,
                          request_id=answer.request_id, tenant=caller.tenant)  # fmt: skip

    def _summarise(self, network: str, refused: int, rate_limited: int, interval_s: float) -> None:
        """One audit record for the refused anonymous calls from one network in an interval."""
        outcome = {
            "network": network,
            "refused": refused,
            "rate_limited": rate_limited,
            "interval_s": interval_s,
        }
        entry = AuditEntry("anonymous", "none", "(refused anonymous calls)", 401, "", 0.0, outcome=outcome,
                           request_hash_kind="none")  # fmt: skip
        self.audit.submit(entry)

    async def _call(self, scope, receive, answer: Answer, headers: dict[bytes, bytes], call: dict) -> None:
        path = scope["path"]
        caller, denial = self.access.check(headers, path)
        call["caller"] = caller
        if denial is None:
            denial = await self.access.quota(caller)
            call["pin"] = self.access.pin(caller)
        media = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if denial is None and scope["method"] == "POST" and media not in (b"application/json", b""):
            denial = (415, "Content-Type: send application/json", [])
        declared = headers.get(b"content-length", b"0").strip() or b"0"
        if denial is None and not declared.isdigit():
            denial = (400, "Content-Length: not a number of bytes", [])
        if denial is None and int(declared) > self.max_body:
            denial = (413, f"request body over {self.max_body} bytes: split the batch", [])
        body = b""
        if denial is None:
            try:
                body = await _read_body(receive, self.max_body)
            except BodyTooLarge:
                denial = (413, f"request body over {self.max_body} bytes: split the batch", [])
        entry = self._entry(call, path, answer, body)
        if denial is not None:
            status, message, extra = denial
            own_record = True
            if status == 401:
                own_record, wait = self.refusals.see((scope.get("client") or ("unknown",))[0])
                if wait:
                    status, message = (
                        429,
                        "too many calls without a valid API key from this address: retry later",
                    )
                    extra = [(b"retry-after", str(math.ceil(wait)).encode())]
            try:
                if own_record:
                    await self._record(entry, status, call)
                else:
                    call["recorded"] = True  # counted in the address's summary record
            except Exception:
                logger.exception("audit append failed for a refused call to %s", path)
            return await answer.refuse(status, message, extra)
        await self._forward(scope, receive, answer, body, entry, call)

    async def _forward(self, scope, receive, answer: Answer, body: bytes, entry: AuditEntry, call) -> None:
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        failed = False

        async def send_audited(message) -> None:
            nonlocal failed
            if message["type"] == "http.response.start":
                try:
                    await self._record(entry, message["status"], call)
                except Exception:  # no audit record, no answer: the caller must not act on it
                    logger.exception("audit append failed for %s", entry.endpoint)
                    failed = True
                    detail = "audit trail unavailable; the request was not recorded: retry later"
                    return await answer.refuse(503, detail)
                if self.load is not None and self.load.uneven():  # see serving/platform/balance.py
                    message = {**message, "headers": [*message.get("headers", ()), (b"connection", b"close")]}
            if not failed:
                await answer(message)

        token = _CALL.set(call)
        scope[CALLER_SCOPE_KEY] = call["caller"]
        try:
            await self.app(scope, replay, send_audited)
        finally:
            _CALL.reset(token)

    def _submit(self, entry: AuditEntry, status: int, call: dict):
        """Hand the record to the writer (once per call); the future resolves once it is committed."""
        call["recorded"] = True
        entry.status = status
        entry.model = call.get("model", "")
        entry.model_version = call.get("model_version", "")
        entry.tenant = call.get("tenant", entry.tenant)
        outcome = call.get("outcome", {})
        entry.outcome = outcome if status < 400 or "action" in outcome else {}  # refused admin actions too
        entry.latency_ms = (time.perf_counter() - call["start"]) * 1000
        return self.audit.submit(entry)

    async def _record(self, entry: AuditEntry, status: int, call: dict) -> None:
        await asyncio.wrap_future(self._submit(entry, status, call))  # committed, in a group
        if status < 400:
            count_bands(entry.endpoint, entry.model, entry.model_version, entry.outcome)


_COUNTER = None


def count_bands(endpoint: str, model: str, version: str, outcome: dict) -> None:
    """Prometheus: served predictions per endpoint, model version and band (or label)."""
    global _COUNTER
    if _COUNTER is None:
        import bentoml

        _COUNTER = bentoml.metrics.Counter(
            name="ccrisk_predictions",
            documentation="predictions served, per endpoint, model, version and band/label",
            labelnames=["endpoint", "model", "version", "band"],
        )
    for band, n in outcome.get("bands", {}).items():
        _COUNTER.labels(endpoint=endpoint, model=model, version=version, band=band).inc(n)
