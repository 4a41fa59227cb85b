"""Two service replicas on two ports sharing a throwaway PostgreSQL server: the shared stores
(`stores.url`) and the audit trail (`security.audit_url`) in it. What one replica acknowledged or
changed, the other sees (docs/deployment.md)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from itertools import cycle

import httpx
import pytest

from features.ops.keys import create_key, revoke_key
from features.ops.outcomes import ClaimFeedbackStore
from tests.integration.test_claims_service import _claims
from tests.integration.test_robustness import _burst, kill_tree
from tests.servers import start_server, stop

pytestmark = pytest.mark.postgres


def _ccrisk(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccrisk", *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip


@pytest.fixture(scope="module")
def shared(trained, postgres, tmp_path_factory) -> dict:
    """The environment of a replica: stores and audit trail in PostgreSQL, one worker each."""
    folder = tmp_path_factory.mktemp("replicas")
    env = {
        **trained.env(),
        "CCRISK_STORES__URL": postgres.create_database("stores"),
        "CCRISK_SECURITY__AUDIT_URL": postgres.create_database("audit"),
        "CCRISK_SECURITY__AUDIT_ANCHOR_FILE": str(folder / "audit.anchor.jsonl"),  # this trail's own
        "CCRISK_SERVING__WORKERS": "1",
    }
    return {"env": env, "url": env["CCRISK_STORES__URL"], "folder": folder}


def test_a_database_behind_the_schema_is_refused_with_the_command_that_fixes_it(shared):
    done = _ccrisk(["serve", "--port", "1"], shared["env"])
    assert done.returncode == 3
    assert "ccrisk db upgrade" in done.stdout and "revision none" in " ".join(done.stdout.split())


@pytest.fixture(scope="module")
def replicas(shared, tmp_path_factory):
    done = _ccrisk(["db", "upgrade"], shared["env"])
    assert done.returncode == 0, done.stdout + done.stderr
    key = create_key(shared["url"], "replica-admin", "admin")
    logs = tmp_path_factory.mktemp("replica-logs")
    a, a_base = start_server(shared["env"], logs / "a.log")
    b, b_base = start_server(shared["env"], logs / "b.log")
    headers = {"Authorization": f"Bearer {key}"}
    clients = [httpx.Client(base_url=base, headers=headers, timeout=60) for base in (a_base, b_base)]
    try:
        yield {"a": clients[0], "b": clients[1], "key": key, "procs": (a, b), **shared}
    finally:
        for c in clients:
            c.close()
        stop(a)
        stop(b)


def test_kb_feedback_for_a_search_the_other_replica_answered_is_accepted(replicas):
    found = replicas["a"].post(
        "/v1/kb/search", json={"query": "how long is the grace period if I miss a payment"}
    )
    assert found.status_code == 200, found.text
    body = found.json()
    verdict = {
        "query_id": body["query_id"],
        "article_id": body["answers"][0]["article_id"],
        "feedback": "helpful",
    }
    fb = replicas["b"].post("/v1/kb/feedback", json=verdict)
    assert fb.status_code == 200, fb.text
    assert fb.json()["stored"] is True


def _reviewed(client: httpx.Client) -> int:
    rows = client.get("/v1/ui/hit_rate", params={"days": 1}).json()["rows"]
    return sum(r["reviewed"] for r in rows)


def test_an_outcome_given_through_the_other_replica_counts_in_the_hit_rate(replicas):
    claim = {**_claims(1, start=321)[0], "claim_id": "REPLICA-1"}
    before = _reviewed(replicas["b"])
    assert replicas["a"].post("/v1/claims/score", json={"claim": claim}).status_code == 200
    outcome = {"claim_id": "REPLICA-1", "outcome": "confirmed_fraud", "investigator": "r"}
    fb = replicas["b"].post("/v1/claims/feedback", json=outcome)
    assert fb.status_code == 200, fb.text
    deadline = time.monotonic() + 5  # the prediction log is written off the response path
    while _reviewed(replicas["b"]) != before + 1:
        assert time.monotonic() < deadline, "the outcome never joined the claim A scored"
        time.sleep(0.1)
    assert _reviewed(replicas["a"]) == before + 1


def _accepted(client: httpx.Client, key: str) -> bool:
    r = client.post("/v1/kb/search", json={"query": "windscreen"}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code in (200, 401), r.text
    return r.status_code == 200


def _within_a_second(condition) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < 1.0, "not honoured within a second"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_key_created_or_revoked_is_honoured_by_both_replicas_within_a_second(replicas):
    a, b = replicas["a"], replicas["b"]
    key = create_key(replicas["url"], "replica-temp", "agent_assist")
    _within_a_second(lambda: _accepted(a, key) and _accepted(b, key))
    revoke_key(replicas["url"], "replica-temp")
    _within_a_second(lambda: not _accepted(a, key) and not _accepted(b, key))


def test_concurrent_audited_traffic_on_both_replicas_leaves_one_chain_that_verifies(replicas):
    claims = _claims(40, start=400)
    targets = cycle([replicas["a"], replicas["b"]])
    statuses: list[int] = []

    def send(client: httpx.Client, part: list[dict]) -> None:
        for claim in part:
            statuses.append(client.post("/v1/claims/score", json={"claim": claim}).status_code)

    threads = [threading.Thread(target=send, args=(next(targets), claims[i::8])) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses.count(200) == len(claims)
    done = _ccrisk(["audit", "verify"], replicas["env"])
    assert done.returncode == 0, done.stdout + done.stderr


def test_kill_9_of_one_replica_mid_burst_loses_no_acknowledged_record(replicas):
    acked: list[str] = []
    stop_at = time.monotonic() + 20
    bases = [str(replicas["a"].base_url), str(replicas["b"].base_url)]
    threads = [threading.Thread(target=_burst, args=(bases[w % 2], replicas["key"], acked, stop_at, w))
               for w in range(6)]  # fmt: skip
    for t in threads:
        t.start()
    while len(acked) < 150 and time.monotonic() < stop_at:
        time.sleep(0.02)
    kill_tree(replicas["procs"][0].pid)  # replica A, with requests in flight
    for t in threads:
        t.join()
    stored = set(ClaimFeedbackStore(replicas["url"]).frame()["claim_id"])
    lost = [c for c in acked if c not in stored]
    assert len(acked) >= 150 and lost == []
    assert replicas["b"].get("/readyz").status_code == 200  # the other replica goes on serving
