"""A bounded async load generator (aiohttp): fixed concurrency, fixed duration, every latency kept."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import aiohttp
import numpy as np


@dataclass
class LoadResult:
    concurrency: int
    seconds: float
    requests: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def as_dict(self) -> dict:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in asdict(self).items()}


async def _worker(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> None:
    headers = {"content-type": "application/json", **auth_headers()}
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as resp:
                await resp.read()
                ok = resp.status == 200
        except aiohttp.ClientError:
            ok = False
        latencies.append(time.perf_counter() - start)
        if not ok:
            errors.append(1)


async def _run(url: str, payload: dict, concurrency: int, seconds: float, warmup_s: float) -> LoadResult:
    body = json.dumps(payload).encode()
    latencies: list[float] = []
    errors: list[int] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        # Warm-up at full concurrency, not measured: connections, lazy init, and every server
        # worker up (a server reports ready when its first worker is, not its last).
        warm: list[float] = []
        warm_deadline = time.perf_counter() + warmup_s
        await asyncio.gather(
            *[_worker(session, url, body, warm_deadline, warm, []) for _ in range(concurrency)]
        )
        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(
            *[_worker(session, url, body, deadline, latencies, errors) for _ in range(concurrency)]
        )
        elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000 if latencies else np.array([np.nan])
    return LoadResult(
        concurrency,
        round(elapsed, 3),
        len(latencies),
        len(errors),
        len(latencies) / elapsed,
        *(float(np.percentile(ms, q)) for q in (50, 95, 99)),
    )


def auth_headers() -> dict[str, str]:
    """The benchmark's API key (set by benchmarks.run); `mlflow models serve` ignores it."""
    key = os.environ.get("CCRISK_API_KEY")
    return {"Authorization": f"Bearer {key}"} if key else {}


def run_load(url: str, payload: dict, concurrency: int, seconds: float, warmup_s: float = 3.0) -> LoadResult:
    """POST `payload` to `url` from `concurrency` workers for `seconds` after `warmup_s` of
    unmeasured load; bounded by time."""
    return asyncio.run(_run(url, payload, concurrency, seconds, warmup_s))


def timed_posts(url: str, payload: dict, repeats: int) -> list[float]:
    """Seconds per request for `repeats` sequential POSTs (for large batch payloads)."""
    with timed_poster(url, payload) as post:
        return [post() for _ in range(repeats)]


@contextmanager
def timed_poster(url: str, payload: dict) -> Iterator[Callable[[], float]]:
    """A function that POSTs `payload` once and returns the seconds it took, on one kept-alive
    connection (warmed up by one unmeasured POST), so a caller can interleave the posts with
    other measurements.

    The body is encoded once, before the clock starts: the client's own JSON encoding (0.12 s
    for 10,000 claims) is not the server's time."""
    import httpx

    body = json.dumps(payload).encode()
    headers = {**auth_headers(), "content-type": "application/json"}
    with httpx.Client(timeout=600, headers=headers) as client:
        client.post(url, content=body).raise_for_status()  # warm-up

        def post() -> float:
            start = time.perf_counter()
            client.post(url, content=body).raise_for_status()
            return time.perf_counter() - start

        yield post
