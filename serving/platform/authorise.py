"""Who may call what: the gateway's first step on every `/v1` call (serving/platform/gateway.py).

API key -> the key's holder (unknown, revoked, expired: 401) -> its role may call the path (403)
-> the key's and its tenant's rate limits (429) -> its tenant's daily quota (429, counted in the
shared stores across workers and replicas). A refusal is (status, detail, extra headers).
"""

from __future__ import annotations

import asyncio
import math
import time

from features.ops.keys import Caller, KeyRing
from features.ops.stores import ROOT_TENANT
from features.ops.tenants import take_daily
from serving.platform.limits import RateLimiter

Refusal = tuple[int, str, list[tuple[bytes, bytes]]]
BEARER = [(b"www-authenticate", b"Bearer")]
# Which roles may call which path prefixes; `admin` may call everything.
ACCESS: tuple[tuple[str, frozenset[str]], ...] = (
    ("/v1/claims/", frozenset({"claims_system"})),
    ("/v1/contact/", frozenset({"agent_assist"})),
    ("/v1/kb/", frozenset({"agent_assist"})),
    ("/v1/admin/monitoring", frozenset({"data_scientist"})),
    ("/v1/admin/keys", frozenset({"tenant_admin"})),
    ("/v1/admin/tenants", frozenset({"tenant_admin"})),
    ("/v1/admin/audit", frozenset({"tenant_admin"})),
    ("/v1/ui/session", frozenset({"claims_system", "agent_assist", "data_scientist", "tenant_admin"})),
    ("/v1/ui/hit_rate", frozenset({"claims_system", "data_scientist"})),
)
INSURER_ONLY = ("/v1/admin/monitoring",)  # about every tenant's traffic: the root tenant's keys only


def allowed(role: str, path: str) -> bool:
    if role == "admin":
        return True
    return any(path.startswith(prefix) and role in roles for prefix, roles in ACCESS)


def api_key(headers: dict[bytes, bytes]) -> str | None:
    auth = headers.get(b"authorization", b"").decode("latin-1").strip()
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    return key or None


class Authoriser:
    """One per worker process; `keys` None means auth is off (every caller the local admin)."""

    def __init__(self, keys: KeyRing | None, limiter: RateLimiter):
        self.keys, self.limiter = keys, limiter

    def check(self, headers: dict[bytes, bytes], path: str) -> tuple[Caller, Refusal | None]:
        anonymous = Caller("anonymous", "none")
        if self.keys is None:
            return Caller("local", "admin", tenant=ROOT_TENANT), None
        key = api_key(headers)
        if key is None:
            fix = "send 'Authorization: Bearer KEY' or 'X-API-Key: KEY' (ccrisk keys create makes one)"
            return anonymous, (401, f"missing API key: {fix}", BEARER)
        caller = self.keys.lookup(key)
        if caller is None:
            return anonymous, (401, "unknown or revoked API key", BEARER)
        if caller.valid_until is not None and time.time() >= caller.valid_until:
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(caller.valid_until))
            return caller, (401, f"API key {caller.name!r} expired at {when}: ask your administrator "
                                 "for a new or rotated key", BEARER)  # fmt: skip
        if not allowed(caller.role, path):
            return caller, (403, f"role {caller.role!r} may not call {path}", [])
        if path.startswith(INSURER_ONLY) and caller.tenant != ROOT_TENANT:
            return caller, (403, f"{path} covers every tenant: only the insurer's keys may call it", [])
        return caller, self._rates(caller)

    def _rates(self, caller: Caller) -> Refusal | None:
        tenant = self.keys.tenant(caller.tenant)
        buckets = [(caller.name, caller.rate_per_minute, f"key {caller.name!r}")]
        if tenant is not None and tenant.rate_per_minute:
            buckets.append((f"tenant:{tenant.name}", tenant.rate_per_minute, f"tenant {tenant.name!r}"))
        for bucket, rate, who in buckets:
            wait = self.limiter.take(bucket, rate)
            if wait:
                return (
                    429,
                    f"rate limit for {who}: retry later",
                    [(b"retry-after", str(math.ceil(wait)).encode())],
                )
        return None

    def pin(self, caller: Caller) -> str | None:
        tenant = self.keys.tenant(caller.tenant) if self.keys is not None else None
        return tenant.pin if tenant else None

    async def quota(self, caller: Caller) -> Refusal | None:
        """429 once the caller's tenant has used its daily quota (counted across workers)."""
        tenant = self.keys.tenant(caller.tenant) if self.keys is not None else None
        if tenant is None or not tenant.daily_quota:
            return None
        wait = await asyncio.to_thread(take_daily, self.keys.url, tenant.name, tenant.daily_quota)
        if not wait:
            return None
        used = f"tenant {tenant.name!r} has used its {tenant.daily_quota} calls for today"
        return 429, f"{used}: retry after midnight UTC", [(b"retry-after", str(math.ceil(wait)).encode())]
