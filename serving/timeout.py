"""BentoML's request timeout, without keeping every request's timer alive for the whole timeout.

BentoML wraps each request in its `TimeoutMiddleware` (`traffic.timeout`, 60 s here; the config
allows no way to turn it off). For every request it schedules `loop.call_later(60, ...)` and
never cancels it, and runs the endpoint in an extra task. So each worker holds a timer, a future
and a bound method for every request of the last minute: at 350 requests a second a worker, about
21,000 of them, and the memory they took stays with the process. `lean_call` keeps the
middleware's behaviour (a 504 when no response has started within the timeout; no limit once it
has) with `asyncio.timeout`, whose timer is cancelled as soon as the response starts, in the
request's own task. Installed in the workers when `serving.lean_request_timeout` is true
(the default); README "Performance" has the before/after.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse

logger = logging.getLogger(__name__)

_ORIGINAL_CALL = traffic.TimeoutMiddleware.__call__


async def lean_call(self: Any, scope: dict, receive: Any, send: Any) -> None:
    """`TimeoutMiddleware.__call__` with a timer that ends when the response starts."""
    if scope["type"] not in ("http", "websocket"):
        return await self.app(scope, receive, send)
    started = False
    deadline = asyncio.timeout(self.timeout)
    try:
        async with deadline:

            async def _send(message: dict) -> None:
                nonlocal started
                if not started:
                    started = True
                    if not deadline.expired():  # the response has started: no limit from here on
                        deadline.reschedule(None)
                await send(message)

            await self.app(scope, receive, _send)
    except TimeoutError:
        if started or not deadline.expired():  # the endpoint's own TimeoutError, not the deadline
            raise
        body = {"error": f"Not able to process the request in {self.timeout} seconds"}
        await JSONResponse(body, status_code=504)(scope, receive, send)


def install_lean_timeout(enabled: bool) -> None:
    """Use `lean_call` (True) or BentoML's own `__call__` (False) for every TimeoutMiddleware of
    this process, including those already built: Python looks `__call__` up on the class."""
    traffic.TimeoutMiddleware.__call__ = lean_call if enabled else _ORIGINAL_CALL  # type: ignore[method-assign]
    logger.debug("request timeout: %s", "lean" if enabled else "BentoML's")
