"""The audit chain is keyed and anchored outside its store (features/ops/seal.py): each of the
tamperings that passed an unkeyed, self-anchored chain is found and named."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat

import pytest

from features.ops.audit import GENESIS, AuditEntry, AuditLog, payload
from features.ops.seal import Seal, load_key


def _trail(tmp_path, n: int = 12) -> AuditLog:
    seal = Seal(load_key(tmp_path / "audit.key"), tmp_path / "audit.anchor.jsonl")
    log = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite'}", seal)
    for i in range(n):
        log.append(AuditEntry("c", "admin", "/v1/claims/score", 200, f"{i:064d}", 1.0, "m", "1", {"i": i}))
    return log


def _sql(tmp_path, *statements: str) -> None:
    with sqlite3.connect(tmp_path / "audit.sqlite") as conn:
        for statement in statements:
            conn.execute(statement)


def test_an_untouched_trail_verifies_and_its_secrets_are_private(tmp_path):
    assert _trail(tmp_path).verify() == []
    for name in ("audit.key", "audit.anchor.jsonl"):
        assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600


def test_records_cut_off_the_end_with_the_head_rewound_are_found(tmp_path):
    log = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_record WHERE seq > 7",
         "UPDATE audit_head SET seq = 7, hash = (SELECT hash FROM audit_record WHERE seq = 7)")  # fmt: skip
    assert log.verify() == ["records 8..12 are missing (deleted from the end; the anchor holds record 12)"]


def test_records_cut_off_the_end_with_the_head_row_deleted_are_found(tmp_path):
    log = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_record WHERE seq > 7", "DELETE FROM audit_head")
    problems = log.verify()
    assert "the chain head row is missing while 7 records exist (deleted)" in problems
    assert "records 8..12 are missing (deleted from the end; the anchor holds record 12)" in problems


def test_an_emptied_trail_is_found(tmp_path):
    log = _trail(tmp_path)
    _sql(tmp_path, "DELETE FROM audit_record", "DELETE FROM audit_head")
    assert log.verify() == ["the trail is empty, but its anchor holds record 12: records 1..12 were deleted"]


def test_an_edit_rehashed_without_the_key_is_found(tmp_path):
    """Record 1 edited, then every hash and the head recomputed as an unkeyed chain would be."""
    log = _trail(tmp_path)
    rows = log.rows()
    rows[0]["outcome"] = '{"i":999}'
    prev = GENESIS
    with sqlite3.connect(tmp_path / "audit.sqlite") as conn:
        for row in rows:
            row["prev_hash"] = prev
            row["hash"] = prev = hashlib.sha256((prev + "\n" + payload(row)).encode()).hexdigest()
            conn.execute("UPDATE audit_record SET outcome = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                         (row["outcome"], row["prev_hash"], row["hash"], row["seq"]))  # fmt: skip
        conn.execute("UPDATE audit_head SET hash = ?", (prev,))
    problems = log.verify()
    assert problems[0] == "record 1: its content was edited after it was written (its keyed hash fails)"
    assert "record 1: differs from the hash the anchor signed for it (replaced)" in problems


def test_a_missing_or_forged_anchor_is_found(tmp_path):
    log = _trail(tmp_path, 3)
    anchor = tmp_path / "audit.anchor.jsonl"
    lines = anchor.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"seq": 99}
    anchor.write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    assert log.verify() == [f"anchor line {len(lines) + 1}: its signature does not hold (forged or edited)"]
    anchor.unlink()
    assert log.verify()[0].startswith(f"the anchor file {anchor} is missing while the trail holds records")


def test_a_trail_from_before_the_key_verifies_once_adopted(tmp_path):
    old = AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite'}")  # records chained without this key
    old.seal.record_hash = lambda prev, text: hashlib.sha256((prev + "\n" + text).encode()).hexdigest()
    for i in range(3):
        old.append(AuditEntry("c", "admin", "/v1/x", 200, "0" * 64, 1.0, outcome={"i": i}))
    log = _trail(tmp_path, 0)
    assert "written before the chain was keyed" in log.verify()[0]
    assert log.adopt() == 3
    log.append(AuditEntry("c", "admin", "/v1/x", 200, "0" * 64, 1.0))
    assert log.verify() == []
    with pytest.raises(ValueError, match="already holds checkpoints"):
        log.adopt()


def test_the_key_can_come_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CCRISK_AUDIT_KEY", "ab" * 32)
    assert load_key(tmp_path / "unused.key") == bytes.fromhex("ab" * 32)
    assert not (tmp_path / "unused.key").exists()
    monkeypatch.setenv("CCRISK_AUDIT_KEY", "not hex")
    with pytest.raises(ValueError, match="must be hex"):
        load_key(tmp_path / "unused.key")
