"""`ccrisk keys …` and `ccrisk tenants …`: API keys, tenants and their limits. The CLI acts as the
insurer's operator; every change is an audit record (features/ops/delegation.py)."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from ccrisk.common import console, load_cli_settings, user_errors

keys_app = typer.Typer(help="API keys with roles and tenants (stored only as hashes).", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants: the insurer and its partners, with limits.", no_args_is_help=True)
ROLE_HELP = "claims_system | agent_assist | data_scientist | admin | tenant_admin"


def _when(epoch: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(epoch)) if epoch else "-"


def _record(settings, action) -> None:
    from features.ops.audit import open_audit
    from features.ops.audit_export import record_action
    from features.ops.delegation import operator

    record_action(open_audit(settings), operator(), action)


def _print_key(issued, what: str) -> None:
    console.print(f"{what} key [bold]{issued.name}[/] (id {issued.key_id}, {issued.tenant}, {issued.role}); "
                  "store it now, it is not shown again:")  # fmt: skip
    print(issued.secret)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help=ROLE_HELP)],
    name: Annotated[str, typer.Option(help="who holds the key (shown in the audit trail)")],
    tenant: Annotated[str, typer.Option(help="the tenant the key belongs to")] = "insurer",
    expires_days: Annotated[Optional[float], typer.Option(help="the key stops working after this")] = None,
    replace: Annotated[bool, typer.Option(help="replace an existing key of that name")] = False,
    rate_limit: Annotated[
        Optional[int],
        typer.Option(help="this key's requests per minute (default: security.rate_limit_per_minute)"),
    ] = None,
) -> None:
    """Create a key and print it once; only its SHA-256 is stored."""
    from features.ops import delegation

    settings = load_cli_settings()
    with user_errors():
        issued, action = delegation.create_key(
            settings.stores_url, delegation.operator(), tenant, role, name, expires_days,
            rate_per_minute=rate_limit, replace=replace,
        )  # fmt: skip
    _record(settings, action)
    _print_key(issued, "API")


@keys_app.command("rotate")
def keys_rotate(
    key: Annotated[str, typer.Argument(help="the key's id or name")],
    grace_hours: Annotated[
        Optional[float],
        typer.Option(help="the old secret works this long (default: security.rotation_grace_s)"),
    ] = None,
) -> None:
    """Give a key a new secret; the old one keeps working through the grace period."""
    from features.ops import delegation

    settings = load_cli_settings()
    grace = settings.security.rotation_grace_s if grace_hours is None else grace_hours * 3600
    with user_errors():
        issued, action = delegation.rotate_key(settings.stores_url, delegation.operator(), key, grace)
    _record(settings, action)
    _print_key(issued, "rotated")
    console.print(f"the old secret works until {_when(time.time() + grace)}")


@keys_app.command("set-role")
def keys_set_role(
    key: Annotated[str, typer.Argument(help="the key's id or name")],
    role: Annotated[str, typer.Argument(help=ROLE_HELP)],
) -> None:
    """Give a key another role its tenant allows (the secret stays the same)."""
    from features.ops import delegation

    settings = load_cli_settings()
    with user_errors():
        action = delegation.change_role(settings.stores_url, delegation.operator(), key, role)
    _record(settings, action)
    console.print(f"{action.target['name']}: {action.target['from_role']} -> {role}")


@keys_app.command("revoke")
def keys_revoke(key: Annotated[str, typer.Argument(help="the key's id or name")]) -> None:
    """Revoke a key; a running server stops accepting it at its next request."""
    from features.ops import delegation

    settings = load_cli_settings()
    with user_errors():
        action = delegation.revoke_key(settings.stores_url, delegation.operator(), key)
    _record(settings, action)
    console.print(f"revoked {action.target['name']} (id {action.target['key_id']})")


@keys_app.command("list")
def keys_list(tenant: Annotated[Optional[str], typer.Option(help="only this tenant's keys")] = None) -> None:
    """Ids, names, tenants, roles, creation and expiry (never the keys)."""
    from features.ops.keys import list_keys

    settings = load_cli_settings()
    table = Table("key id", "name", "tenant", "role", "created", "expires")
    for k in list_keys(settings.stores_url, {tenant} if tenant else None):
        table.add_row(k.get("key_id", "-"), k["name"], k["tenant"], k["role"], _when(k.get("created")),
                      _when(k.get("expires")))  # fmt: skip
    console.print(table)


@tenants_app.command("create")
def tenants_create(
    name: Annotated[str, typer.Argument(help="lower-case name, e.g. broker-north")],
    roles: Annotated[str, typer.Option(help=f"the roles its keys may have, comma-separated: {ROLE_HELP}")],
    parent: Annotated[str, typer.Option(help="the tenant above it")] = "insurer",
    kind: Annotated[str, typer.Option(help="broker | employer | contact_centre | insurer")] = "broker",
    rate_limit: Annotated[Optional[int], typer.Option(help="requests per minute, all its keys")] = None,
    daily_quota: Annotated[Optional[int], typer.Option(help="calls per UTC day, all its keys")] = None,
    pin: Annotated[Optional[str], typer.Option(help="challenger: its claims go to the challenger")] = None,
) -> None:
    """Create a tenant with the roles the insurer allows it (no more than its parent's)."""
    from features.ops import delegation

    settings = load_cli_settings()
    with user_errors():
        tenant, action = delegation.create_tenant(
            settings.stores_url, delegation.operator(), name, roles.split(","), parent, kind,
            rate_per_minute=rate_limit, daily_quota=daily_quota, pin=pin,
        )  # fmt: skip
    _record(settings, action)
    console.print(f"tenant {tenant.name} ({tenant.kind}, under {tenant.parent}): {', '.join(tenant.roles)}")


@tenants_app.command("set")
def tenants_set(
    name: Annotated[str, typer.Argument(help="the tenant")],
    rate_limit: Annotated[Optional[int], typer.Option(help="requests per minute (left out: none)")] = None,
    daily_quota: Annotated[Optional[int], typer.Option(help="calls per UTC day (left out: none)")] = None,
    pin: Annotated[Optional[str], typer.Option(help="challenger (left out: the champion)")] = None,
    roles: Annotated[Optional[str], typer.Option(help="its roles, comma-separated (left out: kept)")] = None,
) -> None:
    """Replace a tenant's limits and pin (what is left out is lifted) and, with --roles, its roles."""
    from features.ops import delegation

    settings = load_cli_settings()
    with user_errors():
        tenant, action = delegation.change_tenant(
            settings.stores_url, delegation.operator(), name, rate_limit, daily_quota, pin,
            roles.split(",") if roles else None,
        )  # fmt: skip
    _record(settings, action)
    rate, quota = tenant.rate_per_minute or "-", tenant.daily_quota or "-"
    console.print(
        f"tenant {name}: rate {rate} /min, quota {quota} /day, pinned to {tenant.pin or 'the champion'}"
    )


@tenants_app.command("list")
def tenants_list() -> None:
    """Tenants, their parents, roles and limits."""
    from features.ops.tenants import load_tenants

    table = Table("tenant", "kind", "parent", "roles", "rate /min", "quota /day", "pin")
    for t in load_tenants(load_cli_settings().stores_url).values():
        table.add_row(t.name, t.kind, t.parent or "-", ",".join(t.roles), str(t.rate_per_minute or "-"),
                      str(t.daily_quota or "-"), t.pin or "-")  # fmt: skip
    console.print(table)
