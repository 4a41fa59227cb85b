"""One writer at a time to a SQLite file, across threads and worker processes, without stalls.

SQLite makes a writer that finds the database locked retry after sleeps that grow to 100 ms
(its busy handler). Under steady writes from two worker processes an unlucky request could
wait seconds that way: with the audit trail on, `make bench`-style load (one claim,
concurrency 8) had 0.3-2.6 s tails that vanished with the audit off. An OS file lock (flock)
beside the database wakes the next writer as soon as the holder releases it, so the database
lock is always free when a writer asks for it.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteLock:
    def __init__(self, db_path: str | Path):
        self.path = Path(f"{db_path}.lock")
        self._thread_lock = threading.Lock()  # flock is per open file: threads queue here first

    @contextmanager
    def hold(self) -> Iterator[None]:
        with self._thread_lock:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # blocks without holding the GIL
                yield
            finally:
                os.close(fd)  # closing the file releases the lock


@contextmanager
def no_lock() -> Iterator[None]:
    """For stores whose database serialises writers itself (PostgreSQL's table lock)."""
    yield
