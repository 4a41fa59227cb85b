"""Tenants, delegated administration, key expiry and rotation, daily quotas and the tenant's trail."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from features.ops import delegation, keys
from features.ops import tenants as ts
from features.ops.audit import AuditEntry, AuditLog
from features.ops.audit_export import parse_since, record_action, write
from features.ops.delegation import Forbidden
from features.ops.keys import Caller, KeyRing, issue_key, list_keys
from features.ops.stores import ROOT_TENANT


@pytest.fixture
def url(tmp_path) -> str:
    """Stores with a broker (claims and delegated admin) and an employer (agents only)."""
    url = f"sqlite:///{tmp_path / 'stores.sqlite'}"
    boss = delegation.operator()
    delegation.create_tenant(url, boss, "broker-a", ["claims_system", "tenant_admin"], kind="broker")
    delegation.create_tenant(url, boss, "employer-b", ["agent_assist"], kind="employer")
    return url


def broker_admin() -> Caller:
    return Caller("ann", "tenant_admin", tenant="broker-a", key_id="k1")


def test_the_root_tenant_holds_every_role_and_partners_only_narrower_ones(url):
    known = ts.load_tenants(url)
    assert set(known[ROOT_TENANT].roles) == set(ts.ROLES) and known["broker-a"].parent == ROOT_TENANT
    with pytest.raises(ValueError, match="'admin' stays with the insurer"):
        delegation.create_tenant(url, delegation.operator(), "x", ["admin"])
    with pytest.raises(Forbidden, match="agent_assist not allowed for 'broker-a'"):
        delegation.create_tenant(url, broker_admin(), "sub", ["agent_assist"])
    with pytest.raises(ValueError, match="kind: 'bank' is not one of"):
        delegation.create_tenant(url, delegation.operator(), "y", ["claims_system"], kind="bank")


def test_a_broker_admin_is_refused_outside_its_tenant_and_rights(url):
    ann = broker_admin()
    with pytest.raises(Forbidden, match="may not manage tenant 'employer-b'"):
        delegation.create_key(url, ann, "employer-b", "agent_assist", "x")
    with pytest.raises(Forbidden, match="may not manage tenant 'insurer'"):
        delegation.create_key(url, ann, ROOT_TENANT, "claims_system", "x")
    with pytest.raises(Forbidden, match="is allowed claims_system, tenant_admin, not 'agent_assist'"):
        delegation.create_key(url, ann, "broker-a", "agent_assist", "x")
    with pytest.raises(Forbidden, match="may not read tenant 'employer-b'"):
        delegation.audit_scope(ann, ts.load_tenants(url), "employer-b")
    with pytest.raises(Forbidden, match="may not manage tenant 'nowhere'"):  # says nothing of what exists
        delegation.create_key(url, ann, "nowhere", "claims_system", "x")
    claims = Caller("c", "claims_system", tenant="broker-a")
    with pytest.raises(Forbidden, match="may not administer"):
        delegation.create_key(url, claims, "broker-a", "claims_system", "x")


def test_a_broker_admin_delegates_a_narrower_sub_tenant_and_manages_its_keys(url):
    ann = broker_admin()
    sub, action = delegation.create_tenant(url, ann, "branch-1", ["claims_system"], daily_quota=None)
    assert sub.parent == "broker-a" and action.action == "tenant.create" and action.tenant == "branch-1"
    with pytest.raises(Forbidden, match="own limits are set by the tenant above"):
        delegation.change_tenant(url, ann, "broker-a", daily_quota=5)
    delegation.change_tenant(url, ann, "branch-1", daily_quota=5)
    issued, action = delegation.create_key(url, ann, "branch-1", "claims_system", "branch-1-core", 30)
    assert issued.secret.startswith("ccrisk_") and 29 * 86400 < issued.expires - time.time() <= 30 * 86400
    assert action.target == {"key_id": issued.key_id, "name": "branch-1-core", "role": "claims_system",
                             "expires": issued.expires}  # fmt: skip
    assert {k["name"] for k in list_keys(url, delegation.scope(ann, ts.load_tenants(url)))} == {
        "branch-1-core"
    }
    with pytest.raises(Forbidden, match="may not manage tenant 'broker-a'"):  # it cannot climb back up
        delegation.create_key(
            url, Caller("bo", "tenant_admin", tenant="branch-1"), "broker-a", "claims_system", "y"
        )


def test_expired_and_rotated_keys(url, monkeypatch):
    monkeypatch.setattr(keys, "RELOAD_S", 0.0)
    issued = issue_key(url, "short", "claims_system", tenant="broker-a", expires_days=1)
    ring = KeyRing(url, env_value="")
    caller = ring.lookup(issued.secret)
    assert caller.tenant == "broker-a" and caller.valid_until == pytest.approx(issued.expires)
    rotated, action = delegation.rotate_key(url, delegation.operator(), issued.key_id, grace_s=60)
    assert (
        action.action == "key.rotate" and rotated.key_id == issued.key_id and rotated.secret != issued.secret
    )
    old, new = ring.lookup(issued.secret), ring.lookup(rotated.secret)
    assert old.valid_until == pytest.approx(time.time() + 60, abs=5) and new.valid_until == issued.expires
    delegation.rotate_key(url, delegation.operator(), issued.key_id, grace_s=60)
    assert ring.lookup(issued.secret) is None  # a second rotation retires the first secret at once
    delegation.revoke_key(url, delegation.operator(), "short")
    assert ring.lookup(rotated.secret) is None and list_keys(url, {"broker-a"}) == []


def test_a_daily_quota_counts_every_call_and_renews_at_midnight_utc(url):
    now = 1_800_000_000.0  # 2027-01-15 08:00 UTC
    assert [ts.take_daily(url, "broker-a", 2, now) for _ in range(2)] == [0.0, 0.0]
    wait = ts.take_daily(url, "broker-a", 2, now)
    assert wait == 16 * 3600
    assert ts.take_daily(url, "broker-a", 2, now + wait) == 0.0  # a new day


def test_admin_actions_carry_the_tenant_acted_on_and_the_chain_verifies(tmp_path, url):
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    log.append(AuditEntry("bob", "claims_system", "/v1/claims/score", 200, "", 1.0, tenant="employer-b"))
    _, action = delegation.create_key(url, broker_admin(), "broker-a", "claims_system", "core")
    record_action(log, broker_admin(), action)
    assert log.verify() == []
    mine = log.rows(tenants=ts.subtree(ts.load_tenants(url), "broker-a"))
    assert [(r["caller"], r["endpoint"], r["tenant"]) for r in mine] == [
        ("ann", "cli:key.create", "broker-a")
    ]
    lines = [json.loads(line) for line in write(mine, "jsonl").splitlines()]
    assert lines[0]["outcome"]["target"]["name"] == "core" and lines[0]["time"].endswith("+00:00")
    assert write(mine, "csv").splitlines()[0].startswith("seq,time,tenant,caller")
    with sqlite3.connect(tmp_path / "audit.sqlite") as conn:  # moving a record to another tenant
        conn.execute("UPDATE audit_record SET tenant = 'broker-a' WHERE seq = 1")
    assert any("record 1: its content was edited" in p for p in log.verify())
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since("last week")


def test_a_keys_role_and_a_tenants_roles_change_within_the_same_rules(url):
    ann, boss = broker_admin(), delegation.operator()
    delegation.create_key(url, ann, "broker-a", "claims_system", "flex")
    action = delegation.change_role(url, ann, "flex", "tenant_admin")
    assert (action.action, action.target["from_role"], action.target["role"]) == (
        "key.role",
        "claims_system",
        "tenant_admin",
    )
    with pytest.raises(Forbidden, match="only the insurer's admins grant 'admin'"):
        delegation.change_role(url, ann, "flex", "admin")
    with pytest.raises(ValueError, match="keys flex hold a role taken away"):
        delegation.change_tenant(url, boss, "broker-a", roles=["claims_system"])
    delegation.change_role(url, ann, "flex", "claims_system")
    changed, action = delegation.change_tenant(url, boss, "broker-a", roles=["claims_system"])
    assert changed.roles == ("claims_system",) and action.target["from_roles"] == [
        "claims_system",
        "tenant_admin",
    ]
    with pytest.raises(ValueError, match="root tenant 'insurer' holds every role"):
        delegation.change_tenant(url, boss, ROOT_TENANT, roles=["claims_system"])
