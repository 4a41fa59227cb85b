"""Spread keep-alive connections over the worker processes.

BentoML's workers share one listening socket, and the worker whose event loop wakes first
accepts every connection waiting at that moment. A client that opens its pool at once (a claims
system with eight keep-alive connections, the benchmark's load generator) often lands all of
them on one worker, which then queues every request while the other worker idles: at
concurrency 8 such a run served about half the requests per second of one split evenly.

Each worker counts its requests in flight in its own slot of a small shared file. When a worker
answers while it holds far more than the least busy worker (at least twice as many, plus two),
the response carries `Connection: close`: the client finishes reading it and reconnects, and the
idle worker, waiting in its event loop, is the one that accepts. Nothing is refused or retried;
a client pays one loopback reconnect, and only while the load is uneven.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
from pathlib import Path

logger = logging.getLogger(__name__)

SLOT = 4  # bytes per worker: a signed 32-bit count of requests in flight


def uneven(mine: int, others: list[int]) -> bool:
    """Whether a worker with `mine` requests in flight (this one included) holds too many
    beside the least busy of `others`."""
    return bool(others) and mine >= 2 * min(others) + 2


class WorkerLoad:
    """This worker's slot in the server's shared file of in-flight counts (one file per server:
    named by the BentoML supervisor's pid, the parent of every worker)."""

    def __init__(self, folder: Path, index: int, workers: int, server_pid: int | None = None):
        if not 1 <= index <= workers:
            raise ValueError(f"worker index {index} is outside 1..{workers}")
        self.index, self.workers = index - 1, workers
        folder.mkdir(parents=True, exist_ok=True)
        server_pid = server_pid or os.getppid()
        _remove_stale(folder, keep=server_pid)
        path = folder / f"inflight-{server_pid}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < SLOT * workers:
                os.ftruncate(fd, SLOT * workers)  # zeros; growing never moves another's slot
            self._map = mmap.mmap(fd, SLOT * workers)
        finally:
            os.close(fd)
        self._counts = memoryview(self._map).cast("i")
        self._counts[self.index] = 0  # a restarted worker starts from nothing in flight
        self.in_flight = 0

    def enter(self) -> None:
        self.in_flight += 1
        self._counts[self.index] = self.in_flight

    def leave(self) -> None:
        self.in_flight -= 1
        self._counts[self.index] = self.in_flight

    def uneven(self) -> bool:
        others = [self._counts[i] for i in range(self.workers) if i != self.index]
        return uneven(self.in_flight, [max(0, n) for n in others])


def _remove_stale(folder: Path, keep: int) -> None:
    """Files of servers that are gone (their supervisor's pid no longer runs)."""
    for path in folder.glob("inflight-*"):
        pid = path.name.removeprefix("inflight-")
        if pid.isdigit() and int(pid) != keep and not _alive(int(pid)):
            with contextlib.suppress(OSError):
                path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it runs, under another user
    return True


def worker_load(folder: Path, workers: int) -> WorkerLoad | None:
    """This worker's WorkerLoad, or None with one worker or outside a BentoML worker."""
    if workers < 2:
        return None
    import bentoml

    index = bentoml.server_context.worker_index
    if index is None:
        return None
    try:
        return WorkerLoad(folder, index, workers)
    except (OSError, ValueError):
        logger.warning("connections are not rebalanced across workers", exc_info=True)
        return None
