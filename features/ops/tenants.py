"""Tenants: the insurer (the root) and the partners it gives access to (brokers, employers with
group cover, outsourced contact centres), each a subtree under its parent.

A tenant's keys may hold only the roles the tenant allows, and a tenant allows no role its
parent does not: rights only narrow going down. The `admin` role (every endpoint, every tenant)
stays with the root tenant. A `tenant_admin` manages keys and sub-tenants in its own subtree
(features/ops/delegation.py decides what it may do). Limits per tenant: a rate (per worker
process, all its keys together) and a daily quota (per UTC day, all workers together); a tenant
can be pinned to the challenger model for a pilot.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from dataclasses import dataclass

import sqlalchemy as sa

from features.ops.stores import ROOT_TENANT, open_database, tenant, tenant_usage

ROLES = ("claims_system", "agent_assist", "data_scientist", "admin", "tenant_admin")
KINDS = ("insurer", "broker", "employer", "contact_centre")
PINS = ("challenger",)
_NAME = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class Tenant:
    name: str
    kind: str
    parent: str | None
    roles: tuple[str, ...]
    rate_per_minute: int | None = None
    daily_quota: int | None = None
    pin: str | None = None
    created: float = 0.0

    def public(self) -> dict:
        return {**self.__dict__, "roles": list(self.roles)}


def check_roles(roles: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown or not roles:
        raise ValueError(
            f"roles: give one or more of {', '.join(ROLES)} (not {', '.join(unknown) or 'none'})"
        )
    return tuple(dict.fromkeys(roles))


def load_tenants(url: str) -> dict[str, Tenant]:
    with open_database(url).engine.connect() as conn:
        rows = conn.execute(sa.select(tenant)).all()
    return {r.name: _tenant(r._mapping) for r in rows}


def _tenant(row) -> Tenant:
    fields = {
        k: row[k] for k in ("name", "kind", "parent", "rate_per_minute", "daily_quota", "pin", "created")
    }
    return Tenant(**fields, roles=tuple(filter(None, row["roles"].split(","))))


def subtree(tenants: dict[str, Tenant], top: str) -> set[str]:
    """`top` and every tenant under it."""
    children: dict[str | None, list[str]] = {}
    for t in tenants.values():
        children.setdefault(t.parent, []).append(t.name)
    out, todo = set(), [top]
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += children.get(name, [])
    return out


def get(tenants: dict[str, Tenant], name: str) -> Tenant:
    if name not in tenants:
        raise KeyError(f"tenant: no tenant named {name!r}; `ccrisk tenants list` shows them")
    return tenants[name]


def new_tenant(
    tenants: dict[str, Tenant],
    name: str,
    roles: list[str],
    parent: str = ROOT_TENANT,
    kind: str = "broker",
    rate_per_minute: int | None = None,
    daily_quota: int | None = None,
    pin: str | None = None,
) -> Tenant:
    """A tenant under `parent`, checked against it: only roles and limits it has."""
    if not _NAME.fullmatch(name or ""):
        raise ValueError(
            "name: give 1-64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if name in tenants:
        raise ValueError(f"name: a tenant named {name!r} exists; pick another name")
    if kind not in KINDS:
        raise ValueError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    up = get(tenants, parent)
    roles = check_roles(roles)
    if "admin" in roles:
        raise ValueError(
            "roles: 'admin' stays with the insurer; give a partner 'tenant_admin' to manage its keys"
        )
    beyond = [r for r in roles if r not in up.roles]
    if beyond:
        raise PermissionError(
            f"roles: {', '.join(beyond)} not allowed for {parent!r}, so not for a tenant under it"
        )
    check_limits(up, rate_per_minute, daily_quota, pin)
    return Tenant(name, kind, parent, roles, rate_per_minute, daily_quota, pin, time.time())


def check_limits(parent: Tenant | None, rate: int | None, quota: int | None, pin: str | None) -> None:
    """Positive limits, no looser than the parent's, and a known pin."""
    for field, value, cap in (("rate_per_minute", rate, parent and parent.rate_per_minute),
                              ("daily_quota", quota, parent and parent.daily_quota)):  # fmt: skip
        if value is not None and value < 1:
            raise ValueError(f"{field}: give a positive number (or leave it out for no limit)")
        if cap and (value is None or value > cap):
            raise PermissionError(f"{field}: the parent tenant's is {cap}; give at most that")
    if pin is not None and pin not in PINS:
        raise ValueError(f"pin: {pin!r} is not one of {', '.join(PINS)} (leave it out for the champion)")


def add_tenant(url: str, new: Tenant) -> None:
    with open_database(url).write() as conn:
        if conn.execute(sa.select(tenant.c.name).where(tenant.c.name == new.name)).first():
            raise ValueError(f"name: a tenant named {new.name!r} exists; pick another name")
        conn.execute(tenant.insert(), {**new.__dict__, "roles": ",".join(new.roles)})


def change(url: str, name: str, rate: int | None, quota: int | None, pin: str | None,
           roles: list[str] | None = None) -> Tenant:  # fmt: skip
    """Replace a tenant's rate, quota and pin (None: none) and, when given, its roles (within its
    parent's, and none a tenant under it still allows); the tenant as it is now."""
    tenants = load_tenants(url)
    current = get(tenants, name)
    parent = tenants.get(current.parent or "")
    check_limits(parent, rate, quota, pin)
    values: dict = {"rate_per_minute": rate, "daily_quota": quota, "pin": pin}
    if roles is not None:
        if parent is None:
            raise ValueError(f"roles: the root tenant {name!r} holds every role")
        roles = check_roles(roles)
        beyond = [r for r in roles if r not in parent.roles or r == "admin"]
        if beyond:
            raise PermissionError(f"roles: {', '.join(beyond)} not allowed for {parent.name!r}'s tenants")
        kept = [t.name for t in tenants.values() if t.parent == name and set(t.roles) - set(roles)]
        if kept:
            raise ValueError(
                f"roles: {', '.join(kept)} under {name!r} still allow a role taken away; change them first"
            )
        values["roles"] = ",".join(roles)
    with open_database(url).write() as conn:
        conn.execute(tenant.update().where(tenant.c.name == name), values)
    return load_tenants(url)[name]


def seconds_to_midnight(now: float | None = None) -> float:
    today = dt.datetime.fromtimestamp(now or time.time(), dt.UTC)
    tomorrow = (today + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (tomorrow - today).total_seconds())


def take_daily(url: str, name: str, quota: int, now: float | None = None) -> float:
    """Count one call of tenant `name` today (UTC): 0 when it is within `quota`, else the seconds
    until the quota renews (the call is then not counted). One row per tenant and day, shared by
    every worker and replica on the stores' database."""
    day = dt.datetime.fromtimestamp(now or time.time(), dt.UTC).strftime("%Y-%m-%d")
    key = (tenant_usage.c.tenant == name) & (tenant_usage.c.day == day)
    count = tenant_usage.update().where(key & (tenant_usage.c.calls < quota))
    for _ in range(2):  # a second try when another process made today's row at the same moment
        try:
            with open_database(url).write() as conn:
                if conn.execute(count.values(calls=tenant_usage.c.calls + 1)).rowcount:
                    return 0.0
                if conn.execute(sa.select(tenant_usage.c.calls).where(key)).first() is not None:
                    return seconds_to_midnight(now)
                conn.execute(tenant_usage.insert(), {"tenant": name, "day": day, "calls": 1})
                return 0.0
        except sa.exc.IntegrityError:
            continue
    raise RuntimeError(f"daily quota of tenant {name!r}: its usage row could not be written")
