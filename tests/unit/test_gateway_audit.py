"""Every call that reaches the gateway gets exactly one audit record: unparseable bodies at any
depth, internal errors (an audited 500 at once), timeouts (the 504); refused anonymous calls
are capped per address and summarised (serving/platform/gateway.py, limits.py)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from features.ops.audit import open_audit, request_sha256
from features.settings import load_settings
from serving.platform.gateway import Gateway
from serving.platform.limits import network
from tests.conftest import write_settings


def _gateway(tmp_path, auth: bool = False, **security) -> Gateway:
    settings = load_settings(write_settings(tmp_path))
    settings.security.auth = auth
    for k, v in security.items():
        setattr(settings.security, k, v)
    settings.state_path.mkdir(parents=True, exist_ok=True)
    gw = Gateway(app=None, settings=settings)
    gw.settings = settings
    return gw


async def _echo(scope, receive, send):
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def _drive(app, body=b"{}", headers=(), client=("127.0.0.1", 5000), path="/v1/claims/score", method="POST"):
    sent: list[dict] = []
    messages = iter([{"type": "http.request", "body": body, "more_body": False}])

    async def receive():
        return next(messages, {"type": "http.disconnect"})

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "path": path, "method": method, "client": client,
             "headers": [(b"content-type", b"application/json"), *headers]}  # fmt: skip
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def _rows(gw, n: int) -> list[dict]:
    """The trail once it holds `n` records (some are handed to the writer without waiting)."""
    log = open_audit(gw.settings)
    for _ in range(100):
        if log.count() >= n:
            break
        time.sleep(0.05)
    return log.rows()


def test_a_body_nested_thousands_deep_is_hashed_as_sent_and_audited(tmp_path):
    deep = b"[" * 20000 + b"]" * 20000
    assert request_sha256(deep)[1] == "raw"
    gw = _gateway(tmp_path)
    gw.app = _echo
    assert _drive(gw, deep)[0] == 200
    assert [(r["status"], r["request_hash_kind"]) for r in _rows(gw, 1)] == [(200, "raw")]


def test_an_internal_error_is_answered_500_at_once_and_audited(tmp_path):
    async def broken(scope, receive, send):
        raise RuntimeError("boom")

    gw = _gateway(tmp_path)
    gw.app = broken
    start = time.perf_counter()
    status, body = _drive(gw)
    assert status == 500 and b"quote request id" in body and time.perf_counter() - start < 5
    assert [r["status"] for r in _rows(gw, 1)] == [500]


def test_a_broken_key_store_is_answered_500_and_audited(tmp_path):
    class Corrupt:
        def lookup(self, key):
            raise ValueError("keys file is not JSON")

    gw = _gateway(tmp_path, auth=True)
    gw.app, gw.access.keys = _echo, Corrupt()
    assert _drive(gw, headers=[(b"x-api-key", b"k")])[0] == 500
    assert [r["status"] for r in _rows(gw, 1)] == [500]


def test_a_timeout_is_answered_504_and_the_504_is_audited(tmp_path, monkeypatch):
    from bentoml._internal.server.http.traffic import TimeoutMiddleware

    from serving.platform.timeout import lean_call

    async def slow(scope, receive, send):
        await asyncio.sleep(5)

    monkeypatch.setattr(TimeoutMiddleware, "__call__", lean_call)  # as every worker installs it
    gw = _gateway(tmp_path)
    gw.app = slow
    status, body = _drive(TimeoutMiddleware(gw, timeout=0.2))
    assert status == 504 and json.loads(body)["status"] == 504
    assert [r["status"] for r in _rows(gw, 1)] == [504]


def test_refused_anonymous_calls_are_capped_per_address_and_summarised(tmp_path):
    gw = _gateway(tmp_path, auth=True, anonymous_per_minute=6, refusal_summary_s=3600)
    gw.app = _echo
    statuses = [_drive(gw, client=("203.0.113.7", 1))[0] for _ in range(50)]
    assert statuses[0] == 401 and statuses.count(429) >= 45  # a burst of 1, then 6 a minute
    assert _drive(gw, client=("198.51.100.9", 1))[0] == 401  # another address has its own budget
    assert len(_rows(gw, 2)) == 2  # one record per address so far, not 51
    gw.refusals.flush()
    rows = _rows(gw, 3)
    summary = json.loads(rows[-1]["outcome"])
    assert rows[-1]["endpoint"] == "(refused anonymous calls)"
    assert summary["refused"] == 49 and summary["rate_limited"] >= 45
    assert summary["network"] == "203.0.113.0/24"  # the network, not the address
    assert open_audit(gw.settings).verify() == []


@pytest.mark.parametrize(
    ("address", "net"),
    [("203.0.113.7", "203.0.113.0/24"), ("2001:db8::1", "2001:db8::/48"), ("x", "unknown")],
)
def test_addresses_are_reduced_to_their_network(address, net):
    assert network(address) == net


def test_readyz_reports_the_models_and_is_503_while_a_required_one_is_missing(tmp_path):
    from serving.lifecycle import health

    class Slot:
        name, alias, required, problem, version = "ccrisk-kb", "champion", True, None, "3"

    gw = _gateway(tmp_path)
    gw.app = _echo
    slot = Slot()
    health.forget_all()
    health.register(slot)
    try:
        status, body = _drive(gw, path="/readyz", method="GET")
        assert status == 200 and json.loads(body)["models"]["ccrisk-kb@champion"]["version"] == "3"
        slot.version = None
        status, body = _drive(gw, path="/readyz", method="GET")
        assert status == 503 and json.loads(body)["state"] == "unavailable"
    finally:
        health.forget_all()
