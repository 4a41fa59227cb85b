"""Rate limits of the gateway: a token bucket per API key, and the cap on refused anonymous
traffic (calls without a valid key), which is limited per client address and written to the
audit trail as one summary record per address and interval instead of one record per call,
so that nobody who can reach the port can flood the trail."""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


class RateLimiter:
    """Token bucket per caller: `per_minute` sustained, `burst` at once (per worker process)."""

    def __init__(self, per_minute: int, burst: int):
        self.rate, self.burst = per_minute / 60.0, float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, name: str, per_minute: int | None = None) -> float:
        """0 when the request may go ahead, else the seconds until it may. A key with its own
        `per_minute` gets that rate and a burst of the larger of the default burst and a tenth
        of its rate, capped at its rate."""
        rate, burst = self.rate, self.burst
        if per_minute:
            rate, burst = per_minute / 60.0, min(float(per_minute), max(self.burst, per_minute / 10))
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(name, (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens >= 1:
                self._buckets[name] = (tokens - 1, now)
                return 0.0
            if len(self._buckets) > 100_000:  # addresses that came once: forget the full ones
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < burst}
            self._buckets[name] = (tokens, now)
            return (1 - tokens) / rate


def network(address: str) -> str:
    """The client's network, not its address (an IP address is personal data): /24 for IPv4,
    /48 for IPv6; anything else (a Unix socket, a test client) as "unknown"."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


@dataclass
class _Burst:
    refused: int = 0
    rate_limited: int = 0


class RefusalTracker:
    """Refused anonymous calls per client address. The first refusal from an address in an
    interval gets its own audit record; the rest of that interval's refusals from it are counted
    and written as one summary record when the interval ends (`flush`, every `interval_s` on a
    daemon thread). Past `per_minute` refusals an address is answered 429 instead of 401."""

    def __init__(self, per_minute: int, interval_s: float, write: Callable[[str, int, int, float], None]):
        self.limiter = RateLimiter(per_minute, max(1, per_minute // 6))
        self.interval_s, self.write = interval_s, write
        self._bursts: dict[str, _Burst] = {}
        self._seen: dict[str, float] = {}  # address -> start of its current interval
        self._lock = threading.Lock()
        if interval_s > 0:
            threading.Thread(target=self._run, name="refusal-summary", daemon=True).start()

    def see(self, address: str) -> tuple[bool, float]:
        """(record this call on its own?, seconds to wait when it is over the limit, else 0)."""
        wait = self.limiter.take(address)
        now = time.monotonic()
        with self._lock:
            started = self._seen.get(address)
            if started is None or now - started >= self.interval_s:
                self._seen[address] = now
                return True, wait
            burst = self._bursts.setdefault(address, _Burst())
            burst.refused += 1
            burst.rate_limited += wait > 0
        return False, wait

    def flush(self) -> None:
        """Write one summary record per address with refusals counted since the last flush."""
        with self._lock:
            bursts, self._bursts = self._bursts, {}
            cutoff = time.monotonic() - self.interval_s
            self._seen = {a: t for a, t in self._seen.items() if t > cutoff}
        for address, burst in bursts.items():
            try:
                self.write(network(address), burst.refused, burst.rate_limited, self.interval_s)
            except Exception:
                logger.exception("summary of %d refused calls could not be written", burst.refused)

    def _run(self) -> None:
        while True:
            time.sleep(self.interval_s)
            self.flush()
