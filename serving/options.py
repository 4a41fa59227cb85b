"""The `@bentoml.service` options the ccrisk service and the benchmark's floor
(benchmarks/floor_service.py) share, so the floor measures the framework as ccrisk runs it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import anyio

from features.settings import Settings

T = TypeVar("T")
_limiter: anyio.CapacityLimiter | None = None  # one per worker process, made on its event loop


def service_options(settings: Settings) -> dict[str, Any]:
    """Workers, request timeout, BentoML's access log and OpenTelemetry spans (off unless
    serving.access_log / serving.tracing; "." in excluded_urls matches every URL)."""
    serving = settings.serving
    return {
        "traffic": {"timeout": 60},
        "workers": serving.workers,
        "logging": {"access": {"enabled": serving.access_log}},
        "tracing": {} if serving.tracing else {"excluded_urls": ["."]},
    }


async def as_sync_endpoint(fn: Callable[[], T]) -> T:
    """Run `fn` from an async endpoint the way BentoML runs a sync one: in a worker thread, one
    call at a time per worker (BentoML's default `threads: 1`). The claim endpoint does this
    when `serving.claim_on_event_loop` is false (the A/B baseline)."""
    global _limiter
    if _limiter is None:
        _limiter = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(fn, limiter=_limiter)
