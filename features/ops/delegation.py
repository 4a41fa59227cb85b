"""Administration of keys and tenants, and who may do it: the one place both `ccrisk keys …` /
`ccrisk tenants …` and the `/v1/admin/*` routes go through.

- `admin` (the insurer's own, root tenant only): every tenant.
- `tenant_admin`: its own tenant and the tenants under it; it grants only roles the target
  tenant allows, never `admin`, and gives a sub-tenant no role or looser limit than the parent.
- The CLI acts as the insurer's operator (`operator`): whoever can run it holds the stores.

Every action returns an `Action`: what was done (`action`), on whom (`target`, `tenant`), for
the audit trail: the gateway's record of the HTTP call, or a record of its own from the CLI.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from typing import Any

from features.ops import keys as keystore
from features.ops import tenants as ts
from features.ops.keys import Caller, IssuedKey
from features.ops.stores import ROOT_TENANT


class Forbidden(PermissionError):
    """The actor may not do this (HTTP 403)."""


@dataclass(frozen=True)
class Action:
    action: str  # key.create, key.rotate, key.role, key.revoke, tenant.create, tenant.change
    tenant: str  # the tenant acted on
    target: dict[str, Any] = field(default_factory=dict)

    def outcome(self) -> dict[str, Any]:
        return {"action": self.action, "target": self.target}


def operator() -> Caller:
    """The CLI's actor: the insurer's operator, named after the OS user."""
    try:
        user = getpass.getuser()
    except Exception:  # containers without a passwd entry
        user = "unknown"
    return Caller(user, "admin", tenant=ROOT_TENANT)


def scope(actor: Caller, tenants: dict[str, ts.Tenant]) -> set[str]:
    """The tenants whose keys, trail and data `actor` may see."""
    if actor.role == "admin" and actor.tenant == ROOT_TENANT:
        return set(tenants)
    if actor.role == "tenant_admin":
        return ts.subtree(tenants, actor.tenant)
    return {actor.tenant}


def _manage(actor: Caller, tenants: dict[str, ts.Tenant], target: str) -> ts.Tenant:
    if actor.role not in ("admin", "tenant_admin"):
        raise Forbidden(f"role {actor.role!r} may not administer keys or tenants")
    seen = scope(actor, tenants)
    if target not in seen and seen != set(tenants):  # a partner learns nothing of other tenants
        raise Forbidden(f"tenant: {actor.name!r} ({actor.tenant}) may not manage tenant {target!r}")
    return ts.get(tenants, target)


def _grantable(actor: Caller, owner: ts.Tenant, role: str) -> None:
    if role == "admin" and actor.role != "admin":
        raise Forbidden("role: only the insurer's admins grant 'admin'")
    if role not in owner.roles:
        raise Forbidden(f"role: tenant {owner.name!r} is allowed {', '.join(owner.roles)}, not {role!r}")


def create_key(url: str, actor: Caller, tenant: str, role: str, name: str, expires_days: float | None = None,
               **options: Any) -> tuple[IssuedKey, Action]:  # fmt: skip
    """A key in `tenant`; `options`: `issue_key`'s rate_per_minute and replace."""
    tenants = ts.load_tenants(url)
    _grantable(actor, _manage(actor, tenants, tenant), role)
    issued = keystore.issue_key(url, name, role, tenant=tenant, expires_days=expires_days, **options)
    target = {"key_id": issued.key_id, "name": name, "role": role, "expires": issued.expires}
    return issued, Action("key.create", tenant, target)


def rotate_key(url: str, actor: Caller, ref: str, grace_s: float) -> tuple[IssuedKey, Action]:
    found = keystore.find_key(url, ref)
    _manage(actor, ts.load_tenants(url), found["tenant"])
    issued = keystore.rotate_key(url, found["key_id"], grace_s)
    target = {"key_id": issued.key_id, "name": issued.name, "role": issued.role, "grace_s": grace_s}
    return issued, Action("key.rotate", issued.tenant, target)


def change_role(url: str, actor: Caller, ref: str, role: str) -> Action:
    """Give key `ref` another role, under the same rules as a new key's."""
    found = keystore.find_key(url, ref)
    owner = _manage(actor, ts.load_tenants(url), found["tenant"])
    _grantable(actor, owner, role)
    keystore.set_role(url, found["key_id"], role)
    target = {"key_id": found["key_id"], "name": found["name"], "from_role": found["role"], "role": role}
    return Action("key.role", found["tenant"], target)


def revoke_key(url: str, actor: Caller, ref: str) -> Action:
    found = keystore.find_key(url, ref)
    _manage(actor, ts.load_tenants(url), found["tenant"])
    keystore.revoke_key(url, found["key_id"])
    target = {"key_id": found["key_id"], "name": found["name"], "role": found["role"]}
    return Action("key.revoke", found["tenant"], target)


def create_tenant(url: str, actor: Caller, name: str, roles: list[str], parent: str | None = None,
                  kind: str = "broker", **limits: Any) -> tuple[ts.Tenant, Action]:  # fmt: skip
    """A tenant under `parent` (default: the actor's own tenant)."""
    tenants = ts.load_tenants(url)
    parent = parent or actor.tenant
    _manage(actor, tenants, parent)
    try:
        new = ts.new_tenant(tenants, name, roles, parent, kind, **limits)
    except PermissionError as exc:
        raise Forbidden(str(exc)) from exc
    ts.add_tenant(url, new)
    return new, Action("tenant.create", name, new.public())


def change_tenant(url: str, actor: Caller, name: str, rate_per_minute: int | None = None,
                  daily_quota: int | None = None, pin: str | None = None, roles: list[str] | None = None,
                  ) -> tuple[ts.Tenant, Action]:  # fmt: skip
    """Set a tenant's limits, pin and (when given) roles; a tenant admin may do so for the
    tenants under its own. A role taken away must be held by none of the tenant's keys."""
    tenants = ts.load_tenants(url)
    before = _manage(actor, tenants, name)
    if actor.role != "admin" and name == actor.tenant:
        raise Forbidden(f"tenant: {actor.tenant!r}'s own limits are set by the tenant above it")
    if roles is not None:
        held = [k["name"] for k in keystore.list_keys(url, {name}) if k["role"] not in roles]
        if held:
            raise ValueError(
                f"roles: keys {', '.join(held)} hold a role taken away; revoke or change them first"
            )
    try:
        changed = ts.change(url, name, rate_per_minute, daily_quota, pin, roles)
    except PermissionError as exc:
        raise Forbidden(str(exc)) from exc
    target = {"rate_per_minute": rate_per_minute, "daily_quota": daily_quota, "pin": pin}
    if roles is not None:
        target.update(from_roles=list(before.roles), roles=list(changed.roles))
    return changed, Action("tenant.change", name, target)


def audit_scope(actor: Caller, tenants: dict[str, ts.Tenant], tenant: str | None) -> set[str] | None:
    """The tenants whose trail `actor` reads: `tenant` and those under it (default: the actor's
    scope); None means every record, the insurer's view including calls with no tenant."""
    seen = scope(actor, tenants)
    if tenant is None:
        return None if seen == set(tenants) else seen
    if tenant not in seen:
        raise Forbidden(f"tenant: {actor.name!r} ({actor.tenant}) may not read tenant {tenant!r}'s trail")
    return ts.subtree(tenants, ts.get(tenants, tenant).name)
