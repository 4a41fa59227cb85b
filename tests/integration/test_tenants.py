"""Tenants through the real server: a broker's delegated admin manages keys in its own tenant only,
keys expire and rotate with a grace period, every admin action is in the chained trail (and in the
tenant's export), a tenant's daily quota answers 429, and its data stays its own."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from features.ops import delegation
from features.ops.audit import open_audit
from features.ops.keys import issue_key
from tests.integration.test_platform import cli, client, sample_claims, settings_of


def _honoured(c: httpx.Client, method: str, path: str, status: int, what: str, within: float = 2.0,
              **kwargs) -> httpx.Response:  # fmt: skip
    """The answer once it has `status` (keys and tenants reach every worker within a second)."""
    since = time.monotonic()
    while (r := c.request(method, path, **kwargs)).status_code != status:
        assert time.monotonic() - since < within, f"{what}: {r.status_code} {r.text[:300]}"
        time.sleep(0.1)
    return r


@pytest.fixture(scope="module")
def broker(server, trained) -> dict:
    """Tenants broker-north (claims and its own admins) and employer-south (agents), made with the
    CLI, and the broker's admin key."""
    for args in (["broker-north", "--roles", "claims_system,tenant_admin"],
                 ["employer-south", "--roles", "agent_assist", "--kind", "employer"]):  # fmt: skip
        done = cli(trained, "tenants", "create", *args)
        assert done.returncode == 0, done.stdout + done.stderr
    done = cli(
        trained, "keys", "create", "--tenant", "broker-north", "--role", "tenant_admin", "--name", "nb-admin"
    )
    assert done.returncode == 0 and "nb-admin" in done.stdout, done.stdout + done.stderr
    admin = client(server, done.stdout.strip().splitlines()[-1])
    _honoured(admin, "GET", "/v1/admin/keys", 200, "a new tenant admin key")
    return {"admin": admin}


def test_a_broker_admin_gets_403_outside_its_tenant_and_rights(broker):
    admin = broker["admin"]
    other = admin.post(
        "/v1/admin/keys", json={"tenant": "employer-south", "role": "agent_assist", "name": "x1"}
    )
    assert other.status_code == 403 and "may not manage tenant 'employer-south'" in other.json()["detail"]
    role = admin.post("/v1/admin/keys", json={"tenant": "broker-north", "role": "agent_assist", "name": "x2"})
    assert role.status_code == 403 and "not 'agent_assist'" in role.json()["detail"]
    grant = admin.post("/v1/admin/keys", json={"tenant": "broker-north", "role": "admin", "name": "x3"})
    assert grant.status_code == 403
    trail = admin.get("/v1/admin/audit", params={"tenant": "employer-south"})
    assert trail.status_code == 403 and "may not read tenant 'employer-south'" in trail.json()["detail"]
    assert admin.post("/v1/claims/score", json={}).status_code == 403  # its role calls no model
    assert admin.get("/v1/admin/monitoring").status_code == 403
    bad = admin.post("/v1/admin/keys", json={"tenant": "broker-north", "role": "claims_system"})
    assert bad.status_code == 422 and bad.json()["detail"].startswith("name:")


def test_a_broker_admin_creates_rotates_and_revokes_its_own_keys(server, broker, spec):
    admin, claim = broker["admin"], sample_claims(spec, 1, "TN")[0]
    made = admin.post(
        "/v1/admin/keys", json={"tenant": "broker-north", "role": "claims_system", "name": "nb-core"}
    )
    assert made.status_code == 201, made.text
    answer = made.json()
    assert answer["key"].startswith("ccrisk_") and answer["tenant"] == "broker-north"
    core = client(server, answer["key"])
    scored = _honoured(core, "POST", "/v1/claims/score", 200, "the new key", json={"claim": claim})
    assert scored.json()["claim_id"] == "TN-0"
    rotated = admin.post(f"/v1/admin/keys/{answer['key_id']}/rotate")
    assert rotated.status_code == 200 and rotated.json()["key"] != answer["key"]
    assert core.post("/v1/claims/score", json={"claim": claim}).status_code == 200  # in its grace period
    new = client(server, rotated.json()["key"])
    _honoured(new, "POST", "/v1/claims/score", 200, "the rotated key", json={"claim": claim})
    listed = admin.get("/v1/admin/keys").json()["keys"]
    assert {k["tenant"] for k in listed} == {"broker-north"} and "key" not in listed[0]
    assert admin.delete(f"/v1/admin/keys/{answer['key_id']}").status_code == 200
    _honoured(new, "POST", "/v1/claims/score", 401, "the revoked key", json={"claim": claim})
    assert admin.delete("/v1/admin/keys/0000000000000000").status_code == 404


def test_an_expired_key_gets_401_and_a_rotated_one_fails_after_its_grace(server, broker, trained):
    url = settings_of(trained).stores_url
    brief = issue_key(url, "nb-brief", "claims_system", tenant="broker-north", expires_days=1 / 86400)
    time.sleep(2)  # past its expiry, and read by every worker
    r = client(server, brief.secret).post("/v1/claims/score", json={})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "expired at" in r.json()["detail"] and "ask your administrator" in r.json()["detail"]
    kept = issue_key(url, "nb-kept", "claims_system", tenant="broker-north")
    done = cli(trained, "keys", "rotate", "nb-kept", "--grace-hours", str(10 / 3600))
    assert done.returncode == 0, done.stdout + done.stderr
    old = client(server, kept.secret)
    assert old.post("/v1/claims/score", json={}).status_code == 400  # still accepted: the body is refused
    r = _honoured(old, "POST", "/v1/claims/score", 401, "the old secret after its grace", within=15, json={})
    assert "expired at" in r.json()["detail"]
    new = client(server, done.stdout.strip().splitlines()[-2])
    assert new.post("/v1/claims/score", json={}).status_code == 400


def test_every_admin_action_is_in_the_tenants_trail_and_the_chain_verifies(server, broker, trained, tmp_path):
    admin = broker["admin"]
    sub = admin.post("/v1/admin/tenants", json={"name": "north-branch", "roles": ["claims_system"]})
    assert sub.status_code == 201 and sub.json()["parent"] == "broker-north"
    made = admin.post(
        "/v1/admin/keys", json={"tenant": "north-branch", "role": "claims_system", "name": "nbr"}
    )
    assert made.status_code == 201
    assert admin.delete(f"/v1/admin/keys/{made.json()['key_id']}").status_code == 200
    records = admin.get("/v1/admin/audit", params={"limit": 1000}).json()["records"]
    assert {r["tenant"] for r in records} <= {"broker-north", "north-branch"}
    actions = [(r["outcome"].get("action"), r["caller"], r["status"]) for r in records]
    for expected in [("tenant.create", "nb-admin", 201), ("key.create", "nb-admin", 201),
                     ("key.revoke", "nb-admin", 200), ("key.create", "nb-admin", 403),
                     ("audit.read", "nb-admin", 403)]:  # fmt: skip
        assert expected in actions, actions
    refused = [r for r in records if r["outcome"].get("action") == "key.create" and r["status"] == 403]
    assert any("may not manage tenant 'employer-south'" in r["outcome"]["refused"] for r in refused)
    revoked = next(r for r in records if r["outcome"].get("action") == "key.revoke")
    assert revoked["tenant"] == "north-branch" and revoked["outcome"]["target"]["name"] == "nbr"
    assert cli(trained, "audit", "verify").returncode == 0
    out = tmp_path / "north.jsonl"
    done = cli(trained, "audit", "export", "--tenant", "broker-north", "--format", "jsonl", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    exported = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["tenant"] for r in exported} <= {"broker-north", "north-branch"}
    assert any(r["endpoint"] == "cli:tenant.create" and r["tenant"] == "broker-north" for r in exported)
    assert {r["seq"] for r in records} <= {r["seq"] for r in exported}
    assert open_audit(settings_of(trained)).verify() == []


def test_a_tenants_daily_quota_answers_429_with_retry_after(server, trained):
    url = settings_of(trained).stores_url
    delegation.create_tenant(url, delegation.operator(), "quota-east", ["agent_assist"], daily_quota=3)
    agent = client(server, issue_key(url, "qe-agent", "agent_assist", tenant="quota-east").secret)
    statuses = [
        _honoured(agent, "POST", "/v1/kb/search", 400, "a new tenant's key", json={"query": ""}).status_code
    ]
    statuses += [agent.post("/v1/kb/search", json={"query": ""}).status_code for _ in range(3)]
    assert statuses == [400, 400, 400, 429]
    r = agent.post("/v1/kb/search", json={"query": "x"})
    assert r.status_code == 429 and "used its 3 calls for today" in r.json()["detail"]
    assert 0 < int(r.headers["retry-after"]) <= 86400


def test_a_tenants_searches_and_feedback_stay_its_own(server, broker, trained, api_keys):
    url = settings_of(trained).stores_url
    south = client(server, issue_key(url, "es-agent", "agent_assist", tenant="employer-south").secret)
    found = _honoured(south, "POST", "/v1/kb/search", 200, "an employer's agent", json={"query": "lost card"})
    query_id, article = found.json()["query_id"], found.json()["answers"][0]["article_id"]
    insurer = client(server, api_keys["agent_assist"])
    other = insurer.post(
        "/v1/kb/feedback", json={"query_id": query_id, "article_id": article, "feedback": "helpful"}
    )
    assert other.status_code == 404  # another tenant's query id is unknown to it
    own = south.post(
        "/v1/kb/feedback", json={"query_id": query_id, "article_id": article, "feedback": "helpful"}
    )
    assert own.status_code == 200
    rows = open_audit(settings_of(trained)).rows(tenants={"employer-south"})
    assert {r["endpoint"] for r in rows} >= {"/v1/kb/search", "/v1/kb/feedback"}


def test_a_broker_admin_changes_a_keys_role_within_its_tenants_roles(broker):
    admin = broker["admin"]
    made = admin.post(
        "/v1/admin/keys", json={"tenant": "broker-north", "role": "claims_system", "name": "nb-flex"}
    )
    key_id = made.json()["key_id"]
    changed = admin.patch(f"/v1/admin/keys/{key_id}", json={"role": "tenant_admin"})
    assert changed.status_code == 200 and changed.json()["role"] == "tenant_admin"
    refused = admin.patch(f"/v1/admin/keys/{key_id}", json={"role": "agent_assist"})
    assert refused.status_code == 403 and "not 'agent_assist'" in refused.json()["detail"]
    listed = {k["key_id"]: k["role"] for k in admin.get("/v1/admin/keys").json()["keys"]}
    assert listed[key_id] == "tenant_admin"
    records = admin.get("/v1/admin/audit", params={"limit": 20}).json()["records"]
    role_change = next(r for r in records if r["outcome"].get("action") == "key.role" and r["status"] == 200)
    target = {"key_id": key_id, "name": "nb-flex", "from_role": "claims_system", "role": "tenant_admin"}
    assert role_change["outcome"]["target"] == target
