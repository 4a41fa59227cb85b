"""serving/platform/timeout.py: BentoML's request timeout semantics, without a timer left per request."""

import asyncio
import inspect
import json

import pytest
from bentoml._internal.server.http.traffic import TimeoutMiddleware

from serving.platform.timeout import install_lean_timeout, lean_call


def _app(delay_between: float = 0.0):
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await asyncio.sleep(delay_between)
        await send({"type": "http.response.body", "body": b"ok"})

    return app


async def _call(middleware, call=lean_call):
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await call(middleware, {"type": "http", "method": "POST", "path": "/x"}, receive, send)
    return sent


@pytest.fixture(autouse=True)
def _restore_middleware():
    original = TimeoutMiddleware.__call__
    yield
    TimeoutMiddleware.__call__ = original


def _live_timers(loop: asyncio.AbstractEventLoop) -> int:
    return sum(not h.cancelled() for h in loop._scheduled)  # the loop's timer heap (private)


def test_a_fast_answer_passes_through_and_leaves_no_timer():
    async def main():
        sent = await _call(TimeoutMiddleware(_app(), timeout=30))
        return sent, _live_timers(asyncio.get_running_loop())

    sent, live = asyncio.run(main())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"ok"
    assert live == 0


def test_bentoml_own_middleware_keeps_the_timer_the_lean_one_drops():
    """Why the module exists: BentoML's __call__ leaves its 30 s timer scheduled after answering."""

    async def main():
        await _call(TimeoutMiddleware(_app(), timeout=30), call=TimeoutMiddleware.__call__)
        return _live_timers(asyncio.get_running_loop())

    assert asyncio.run(main()) == 1


def test_no_response_within_the_timeout_is_a_504_and_the_endpoint_is_cancelled():
    cancelled = []

    async def slow(scope, receive, send):
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    sent = asyncio.run(_call(TimeoutMiddleware(slow, timeout=0.05)))
    headers = dict(sent[0]["headers"])
    assert sent[0]["status"] == 504 and headers[b"content-type"] == b"application/problem+json"
    body = json.loads(sent[1]["body"])
    assert body["status"] == 504 and "0.05 s" in body["detail"] and body["request_id"]
    assert headers[b"x-request-id"].decode() == body["request_id"]
    assert cancelled == [True]


def test_a_started_response_is_not_cut_by_the_timeout():
    sent = asyncio.run(_call(TimeoutMiddleware(_app(delay_between=0.15), timeout=0.05)))
    assert [m.get("status") for m in sent] == [200, None] and sent[1]["body"] == b"ok"


def test_an_endpoint_error_after_the_response_started_reaches_the_server():
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise ValueError("broken stream")

    with pytest.raises(ValueError, match="broken stream"):
        asyncio.run(_call(TimeoutMiddleware(app, timeout=30)))


def test_install_switches_every_middleware_of_the_process(monkeypatch):
    monkeypatch.setattr(TimeoutMiddleware, "__call__", TimeoutMiddleware.__call__)  # undone after the test
    install_lean_timeout()
    assert TimeoutMiddleware.__call__ is lean_call


def test_the_copy_still_matches_the_installed_bentoml():
    """lean_call copies BentoML's middleware: an upgrade that changes the original fails here,
    so the copy is checked against it instead of silently diverging."""
    from serving.platform.timeout import _ORIGINAL_CALL

    original = inspect.getsource(_ORIGINAL_CALL)
    for line in (
        "loop.call_later(self.timeout, self._set_timer_out, waiter)",
        "fut = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)",
        "if fut.cancel():",
        "await fut  # wait for the future to finish",
    ):
        fix = "review serving/platform/timeout.py"
        assert line in original, f"BentoML's TimeoutMiddleware changed ({line!r}): {fix}"
