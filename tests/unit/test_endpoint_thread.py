"""`serving.options.as_sync_endpoint`: the claim endpoint's A/B baseline runs a call the way
BentoML runs a sync endpoint, in a worker thread and one call at a time per worker."""

from __future__ import annotations

import asyncio
import threading
import time

from serving import options


def test_calls_run_off_the_event_loop_one_at_a_time_and_return_their_value(monkeypatch):
    monkeypatch.setattr(options, "_limiter", None)  # a fresh limiter for this test's event loop
    threads: list[int] = []
    running, peak = 0, 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        threads.append(threading.get_ident())
        time.sleep(0.02)
        with lock:
            running -= 1
        return i * i

    async def main() -> tuple[int, list[int]]:
        loop_thread = threading.get_ident()
        results = await asyncio.gather(*(options.as_sync_endpoint(lambda i=i: work(i)) for i in range(4)))
        return loop_thread, results

    loop_thread, results = asyncio.run(main())
    assert results == [0, 1, 4, 9]
    assert loop_thread not in threads and len(threads) == 4
    assert peak == 1  # BentoML's default `threads: 1`: calls queue instead of running side by side
