"""BentoML's request timeout, without keeping every request's timer alive for the whole timeout.

BentoML wraps each request in its `TimeoutMiddleware` (`traffic.timeout`, 60 s here; the config
allows no way to turn it off). For every request it schedules `loop.call_later(60, ...)` and
never cancels it. So each worker holds a timer, a future and a bound method for every request
of the last minute: at 350 requests a second a worker, about 21,000 of them, and the memory they
took stays with the process. `lean_call` is the
middleware's own code (a 504 when no response has started within the timeout; no limit once it
has) plus one line: the timer is cancelled as soon as the response starts. A cancelled timer
lets go of its future and callback at once, and the event loop drops cancelled timers from its
queue once they are half of it. Installed in every worker (serving/platform/runtime.py); the
before/after is in docs/decisions/0006-worker-runtime.md.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from bentoml._internal.server.http import traffic

from serving.platform.problems import REQUEST_ID_SCOPE_KEY, Answer

logger = logging.getLogger(__name__)

_ORIGINAL_CALL = traffic.TimeoutMiddleware.__call__


async def lean_call(self: Any, scope: dict, receive: Any, send: Any) -> None:
    """BentoML's `TimeoutMiddleware.__call__` (bentoml 1.4, Apache-2.0), the same line for line
    but for `timer.cancel()` once the response has started, and the 504 as problem details."""
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

    async def _send(message: dict) -> None:
        if not waiter.done():
            waiter.set_result(None)
        await send(message)

    fut = asyncio.ensure_future(self.app(scope, receive, _send), loop=loop)
    try:
        await waiter
    except TimeoutError:  # asyncio.TimeoutError is this builtin on 3.11
        if fut.cancel():
            await _timed_out(scope, send, self.timeout)
    else:
        timer.cancel()  # drops the waiter and the bound method now, not 60 s from now
        await fut


async def _timed_out(scope: dict, send: Any, timeout: float) -> None:
    """The 504 as problem details with the request's id. This middleware sits outside the
    gateway, which left the id it gave the request in the scope."""
    rid = scope.get(REQUEST_ID_SCOPE_KEY) or uuid.uuid4().hex
    answer = Answer(send, scope.get("path", ""), rid)
    await answer.refuse(504, f"no answer within {timeout:g} s: retry, or send a smaller batch")


def install_lean_timeout() -> None:
    """Use `lean_call` for every TimeoutMiddleware of this process, including those already
    built: Python looks `__call__` up on the class. `_ORIGINAL_CALL` stays the reference the
    tests compare it with."""
    traffic.TimeoutMiddleware.__call__ = lean_call  # type: ignore[method-assign]
    logger.debug("request timeout: lean")
