"""API keys, roles, rate limits, the hash-chained audit trail, outcome stores, hit rates, drift."""

from __future__ import annotations

import json
import math
import re
import sqlite3

import numpy as np
import pandas as pd
import pytest

from ccrisk.ops.monitor import psi
from features.ops import keys
from features.ops.audit import CANONICAL_MAX_BYTES, AuditEntry, AuditLog, request_sha256
from features.ops.hitrate import hit_rates, wilson
from features.ops.keys import KeyRing, create_key, hash_key, list_keys, revoke_key
from features.ops.outcomes import BackgroundWriter, ClaimFeedbackStore, PredictionLog
from features.ops.seal import Seal, load_key
from serving.platform.authorise import allowed
from serving.platform.limits import RateLimiter


def _db(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'stores.sqlite'}"


def test_keys_are_stored_as_hashes_and_revocation_is_seen_without_restart(tmp_path, monkeypatch):
    url = _db(tmp_path)
    key = create_key(url, "claims-core", "claims_system")
    stored = (tmp_path / "stores.sqlite").read_bytes() + (tmp_path / "stores.sqlite-wal").read_bytes()
    assert key.encode() not in stored and hash_key(key).encode() in stored
    ring = KeyRing(url, env_value="")
    assert ring.lookup(key).role == "claims_system" and ring.lookup("nope") is None
    revoke_key(url, "claims-core")
    assert ring.lookup(key).role == "claims_system"  # read again only after RELOAD_S
    monkeypatch.setattr(keys, "RELOAD_S", 0.0)
    assert ring.lookup(key) is None
    assert list_keys(url) == []


def test_key_errors_name_the_fix(tmp_path):
    path = _db(tmp_path)
    with pytest.raises(ValueError, match="role: 'root' is not one of"):
        create_key(path, "x", "root")
    create_key(path, "x", "admin")
    with pytest.raises(ValueError, match="revoke it first"):
        create_key(path, "x", "admin")
    with pytest.raises(KeyError, match="no key with id or name 'y'"):
        revoke_key(path, "y")
    with pytest.raises(ValueError, match="must be name:role:sha256hex"):
        KeyRing(path, env_value="broken-entry")


def test_keys_from_the_environment(tmp_path):
    digest = hash_key("secret-key")
    ring = KeyRing(_db(tmp_path), env_value=f"bot:agent_assist:{digest}")
    assert ring.lookup("secret-key").name == "bot"


@pytest.mark.parametrize(
    ("role", "path", "ok"),
    [
        ("claims_system", "/v1/claims/score", True),
        ("claims_system", "/v1/kb/search", False),
        ("agent_assist", "/v1/kb/feedback", True),
        ("agent_assist", "/v1/contact/analyze", True),
        ("agent_assist", "/v1/claims/score", False),
        ("data_scientist", "/v1/admin/monitoring", True),
        ("data_scientist", "/v1/admin/reload_rules", False),
        ("admin", "/v1/admin/reload_rules", True),
    ],
)
def test_role_table(role, path, ok):
    assert allowed(role, path) is ok


def test_rate_limiter_allows_a_burst_then_says_when_to_retry(monkeypatch):
    now = [100.0]
    monkeypatch.setattr("serving.platform.gateway.time.monotonic", lambda: now[0])
    limiter = RateLimiter(per_minute=60, burst=3)
    assert [limiter.take("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("k")
    assert wait == pytest.approx(1.0)
    assert limiter.take("other") == 0.0  # buckets are per key
    now[0] += 1.0
    assert limiter.take("k") == 0.0
    assert limiter.take("slow", per_minute=6) == 0.0  # a key's own limit: burst min(3, 6)


def test_canonical_request_hash_ignores_key_order_and_spacing():
    assert request_sha256(b'{"a": 1, "b": [1, 2]}') == request_sha256(b'{"b":[1,2],"a":1}')
    assert request_sha256(b'{"a": 1}')[1] == "canonical"
    assert request_sha256(b"not json")[1] == "raw" and request_sha256(b"not json") != request_sha256(
        b"not json!"
    )
    big = b'{"q": "' + b"a" * CANONICAL_MAX_BYTES + b'"}'
    assert request_sha256(big)[1] == "raw"  # large batches are hashed as sent


def _log_with(tmp_path, n: int) -> AuditLog:
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite'}")
    for i in range(n):
        log.append(AuditEntry("c", "admin", "/v1/claims/score", 200, f"{i:064d}", 1.0, "m", "1", {"i": i}))
    return log


def _sql(tmp_path, statement: str) -> None:
    with sqlite3.connect(tmp_path / "audit.sqlite") as conn:
        conn.execute(statement)


def test_an_intact_chain_verifies(tmp_path):
    log = _log_with(tmp_path, 5)
    assert log.verify() == [] and log.count() == 5


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        ("UPDATE audit_record SET outcome = '{\"i\":99}' WHERE seq = 3", "record 3: its content was edited"),
        ("DELETE FROM audit_record WHERE seq = 2", r"records 2\.\.2 are missing \(deleted\) before record 3"),
        ("DELETE FROM audit_record WHERE seq = 5", r"records 5\.\.5 are missing \(deleted from the end\)"),
        (
            "UPDATE audit_record SET prev_hash = "
            "(SELECT prev_hash FROM audit_record WHERE seq = 2) WHERE seq = 4",
            "record 4: does not follow record 3",
        ),
    ],
)
def test_tampering_is_found_and_named(tmp_path, tamper, message):
    log = _log_with(tmp_path, 5)
    _sql(tmp_path, tamper)
    problems = log.verify()
    assert any(re.search(message, p) for p in problems), problems


def test_reordered_records_are_found(tmp_path):
    log = _log_with(tmp_path, 4)
    _sql(tmp_path, "UPDATE audit_record SET seq = -2 WHERE seq = 2")
    _sql(tmp_path, "UPDATE audit_record SET seq = 2 WHERE seq = 3")
    _sql(tmp_path, "UPDATE audit_record SET seq = 3 WHERE seq = -2")
    assert any("record 2" in p for p in log.verify())


def test_claim_feedback_store_and_prediction_log(tmp_path):
    store = ClaimFeedbackStore(_db(tmp_path))
    first = store.record("C1", "legitimate", "inv")
    store.record("C1", "confirmed_fraud", "inv")
    assert first == 1 and store.latest().set_index("claim_id").loc["C1", "outcome"] == "confirmed_fraud"
    with pytest.raises(ValueError, match="outcome: 'maybe' is not one of"):
        store.record("C2", "maybe", "inv")
    log = PredictionLog(_db(tmp_path))
    writer = BackgroundWriter(log, prepare=lambda rows: [{**r, "band": r["band"].upper()} for r in rows])
    writer.submit([{"ts": 1.0, "model": "m", "model_version": "1", "variant": "champion", "band": "high",
                    "score": 0.9, "entity_id": "C1", "inputs": {"x": 1}}])  # fmt: skip
    writer.flush()
    frame = log.frame("m")
    assert frame["band"].tolist() == ["HIGH"] and json.loads(frame["inputs"][0]) == {"x": 1}


def test_prediction_log_inputs_read_back_as_json_text(tmp_path):
    """Inputs are stored as JSON text that json.loads reads back: unicode kept, None as null, NaN
    as NaN (as json.dumps wrote it before the encoder changed)."""
    log = PredictionLog(_db(tmp_path))
    inputs = {"Make": "Škoda 東京", "Age": None, "Deductible": float("nan"), "Days": 3, "Price": 1.5}
    log.write([{"ts": 1.0, "model": "m", "model_version": "1", "variant": "champion", "inputs": inputs}])
    stored = log.frame("m")["inputs"][0]
    assert isinstance(stored, str)
    back = json.loads(stored)
    assert math.isnan(back.pop("Deductible"))
    assert back == {k: v for k, v in inputs.items() if k != "Deductible"}


def test_hit_rates_per_version_and_band():
    preds = pd.DataFrame(
        {
            "entity_id": ["a", "b", "c", "d", "e"],
            "model_version": ["1", "1", "1", "1", "2"],
            "band": ["high", "high", "medium", "low", "high"],
        }
    )
    feedback = pd.DataFrame(
        {"claim_id": ["a", "b", "e"], "outcome": ["confirmed_fraud", "legitimate", "confirmed_fraud"]}
    )
    table = hit_rates(preds, feedback).set_index(["model_version", "band"])
    high = table.loc[("1", "high")]
    assert (high.scored, high.reviewed, high.confirmed, high.hit_rate) == (2, 2, 1, 0.5)
    assert table.loc[("2", "high")].hit_rate == 1.0 and bool(table.loc[("1", "low")].alert) is False
    assert 0 < high.ci_low < 0.5 < high.ci_high < 1
    assert wilson(0, 0)[0] != wilson(0, 0)[0]  # NaN when nothing was scored


def test_psi_is_small_for_the_same_distribution_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 5000)
    assert psi(ref, rng.normal(0, 1, 5000)) < 0.02
    assert psi(ref, rng.normal(1, 1, 5000)) > 0.25


def _sealed(folder) -> Seal:
    return Seal(load_key(folder / "audit.key"), folder / "audit.anchor.jsonl")


def _append_many(url: str, n: int, folder) -> None:
    log = AuditLog(url, _sealed(folder))
    for i in range(n):
        log.append(AuditEntry("proc", "admin", "/v1/x", 200, "0" * 64, 1.0, outcome={"i": i}))


def test_audit_appends_from_several_processes_and_threads_keep_one_chain(tmp_path):
    import multiprocessing
    import threading

    url = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    AuditLog(url, _sealed(tmp_path))
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(url, 40, tmp_path)) for _ in range(2)]
    threads = [threading.Thread(target=_append_many, args=(url, 40, tmp_path)) for _ in range(3)]
    for worker in (*procs, *threads):
        worker.start()
    for worker in (*procs, *threads):
        worker.join(timeout=120)
    assert [p.exitcode for p in procs] == [0, 0]
    log = AuditLog(url, _sealed(tmp_path))
    assert log.count() == 200 and log.verify() == []
    assert (tmp_path / "audit.sqlite.lock").exists()  # writers queued on the file lock


def _try_lock(path: str, queue) -> None:
    import fcntl
    import os

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        queue.put("acquired")
    except BlockingIOError:
        queue.put("blocked")
    finally:
        os.close(fd)


def test_write_lock_excludes_another_process_until_released(tmp_path):
    import multiprocessing

    from features.ops.writelock import WriteLock

    lock = WriteLock(tmp_path / "x.sqlite")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    with lock.hold():
        child = ctx.Process(target=_try_lock, args=(str(lock.path), results))
        child.start()
        child.join(timeout=60)
    assert results.get(timeout=10) == "blocked"
    child = ctx.Process(target=_try_lock, args=(str(lock.path), results))
    child.start()
    child.join(timeout=60)
    assert results.get(timeout=10) == "acquired"


def test_prediction_log_stores_only_masked_text_whether_masked_before_or_on_the_writer(tmp_path):
    from features.contact.api import ContactAnalysis, ContactBatch, ContactMessage
    from features.settings import load_settings
    from serving.domain.records import PredictionRecorder, masked_texts
    from tests.conftest import write_settings

    settings = load_settings(write_settings(tmp_path))
    recorder = PredictionRecorder(settings)
    messages = [ContactMessage(text="I'm Jane Morgan, jane.morgan@example.com. Where is my refund?")]
    scores = {"label": "refund", "probability": 0.9, "top3": [{"label": "refund", "probability": 0.9}]}
    analysis = ContactAnalysis.model_validate({
        "complaint": {"probability": 0.7, "band": "high", "key_phrases": []},
        "topic": scores, "intent": {**scores, "low_confidence": False}, "truncated": False,
        "models": [{"task": "complaint", "name": "ccrisk-complaint", "version": "1", "run_id": "r"}],
    })  # fmt: skip
    batch = ContactBatch(count=1, results=[analysis])
    recorder.contact(messages, batch, masked_texts([m.text for m in messages]))
    recorder.contact(messages, batch)  # masked on the writer thread
    recorder.writer.flush()
    logged = [json.loads(i) for i in recorder.writer.log.frame("ccrisk-complaint")["inputs"]]
    assert len(logged) == 2
    for inputs in logged:
        assert set(inputs) == {"text", "channel"}
        assert "Jane" not in inputs["text"] and "example.com" not in inputs["text"]
        assert "[PERSON]" in inputs["text"] and "[EMAIL]" in inputs["text"]
