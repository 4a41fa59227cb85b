"""Schemas through Alembic (features/ops/migrations/): databases made by earlier versions are
adopted with their rows, the files they used are imported once, and a database's revision is
read per branch (stores, audit)."""

from __future__ import annotations

import json
import sqlite3

import sqlalchemy as sa

from features.kb.feedback import FeedbackStore
from features.ops import migrate
from features.ops.audit import AuditEntry, AuditLog
from features.ops.keys import KeyRing, hash_key
from features.ops.outcomes import ClaimFeedbackStore, PredictionLog
from features.ops.stores import open_database
from features.ops.tenants import load_tenants

# The tables as earlier versions created them on start (before migrations existed).
OLD_FEEDBACK = """
CREATE TABLE kb_search (query_id TEXT PRIMARY KEY, ts REAL NOT NULL, query_masked TEXT NOT NULL,
  article_ids TEXT NOT NULL, model_version TEXT NOT NULL, kb_version TEXT NOT NULL);
CREATE TABLE kb_feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL
  REFERENCES kb_search(query_id), article_id TEXT NOT NULL, verdict TEXT NOT NULL, ts REAL NOT NULL);
CREATE TABLE claim_feedback (id INTEGER PRIMARY KEY AUTOINCREMENT, claim_id TEXT NOT NULL,
  outcome TEXT NOT NULL, investigator TEXT NOT NULL, ts REAL NOT NULL);
INSERT INTO kb_search VALUES ('q1', 1.0, 'my <PERSON> claim', '["a1", "a2"]', '3', 'kb-1');
INSERT INTO kb_feedback (query_id, article_id, verdict, ts) VALUES ('q1', 'a2', 'helpful', 2.0);
INSERT INTO claim_feedback (claim_id, outcome, investigator, ts) VALUES ('C7', 'confirmed_fraud', 'inv', 3.0);
"""
OLD_PREDICTIONS = """
CREATE TABLE prediction (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, model TEXT NOT NULL,
  model_version TEXT NOT NULL, variant TEXT NOT NULL, entity_id TEXT, band TEXT, label TEXT,
  score REAL, inputs TEXT NOT NULL);
CREATE TABLE prediction_block (id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL,
  model TEXT NOT NULL, row_count INTEGER NOT NULL, data BLOB NOT NULL);
INSERT INTO prediction (ts, model, model_version, variant, entity_id, band, score, inputs)
  VALUES (4.0, 'ccrisk-fraud', '2', 'champion', 'C7', 'high', 0.9, '{"Make": "Honda"}');
"""


def _old_state(state):
    state.mkdir()
    sqlite3.connect(state / "feedback.sqlite").executescript(OLD_FEEDBACK)
    sqlite3.connect(state / "predictions.sqlite").executescript(OLD_PREDICTIONS)
    key = {"name": "claims-core", "role": "claims_system", "sha256": hash_key("old-key"), "created": 5.0}
    (state / "api_keys.json").write_text(json.dumps({"keys": [key]}))


def test_the_files_of_earlier_versions_are_imported_once(tmp_path):
    state = tmp_path / "state"
    _old_state(state)
    url = f"sqlite:///{state / 'stores.sqlite'}"
    done = migrate.import_legacy(open_database(url), state)
    assert [line.rsplit("/", 1)[1] for line in done] == [
        "predictions.sqlite: prediction (1 rows)", "predictions.sqlite: prediction_block (0 rows)",
        "feedback.sqlite: claim_feedback (1 rows)", "feedback.sqlite: kb_search (1 rows)",
        "feedback.sqlite: kb_feedback (1 rows)", "api_keys.json: api_key (1 keys)",
    ]  # fmt: skip
    assert sorted(p.name for p in state.iterdir() if p.suffix == ".imported") == [
        "api_keys.json.imported", "feedback.sqlite.imported", "predictions.sqlite.imported"
    ]  # fmt: skip
    assert KeyRing(url, env_value="").lookup("old-key").name == "claims-core"
    assert ClaimFeedbackStore(url).latest()["claim_id"].tolist() == ["C7"]
    assert [r["verdict"] for r in FeedbackStore(url).feedback_rows()] == ["helpful"]
    assert PredictionLog(url).frame("ccrisk-fraud")["entity_id"].tolist() == ["C7"]
    assert ClaimFeedbackStore(url).record("C8", "legitimate", "inv") == 2  # ids go on after the copied
    assert migrate.import_legacy(open_database(url), state) == []  # nothing left to import


def test_a_database_made_before_migrations_is_adopted_with_its_rows(tmp_path):
    path = tmp_path / "feedback.sqlite"
    sqlite3.connect(path).executescript(OLD_FEEDBACK)
    url = f"sqlite:///{path}"
    db = open_database(url)
    assert migrate.current(db.engine, "stores") == migrate.head("stores")
    assert ClaimFeedbackStore(url).latest()["claim_id"].tolist() == ["C7"]
    assert {"api_key", "prediction", "prediction_block"} <= set(sa.inspect(db.engine).get_table_names())


def test_an_audit_trail_from_before_the_request_id_gets_the_column_and_still_verifies(tmp_path):
    path = tmp_path / "audit.sqlite"
    log = AuditLog(f"sqlite:///{path}")
    log.append(AuditEntry("c", "admin", "/v1/x", 200, "", 1.0))
    with sqlite3.connect(path) as conn:  # as a trail written before the column existed
        conn.execute("ALTER TABLE audit_record DROP COLUMN request_id")
        conn.execute("DELETE FROM alembic_version")
    reopened = AuditLog(f"sqlite:///{path}", log.seal)
    assert reopened.rows()[0]["request_id"] == "" and reopened.verify() == []
    assert migrate.current(reopened.engine, "audit") == migrate.head("audit")


def test_one_database_may_hold_both_branches(tmp_path):
    url = f"sqlite:///{tmp_path / 'one.sqlite'}"
    db = open_database(url)
    AuditLog(url)
    assert migrate.current(db.engine, "stores") == migrate.head("stores")
    assert migrate.current(db.engine, "audit") == migrate.head("audit")


def test_a_database_at_s0001_gets_tenants_and_its_keys_join_the_insurer(tmp_path):
    path = tmp_path / "stores.sqlite"
    with sqlite3.connect(path) as conn:  # every table as revision s0001 made it, one key in it
        conn.executescript(OLD_FEEDBACK + OLD_PREDICTIONS)
        conn.executescript(
            "CREATE TABLE api_key (name VARCHAR(128) PRIMARY KEY, role VARCHAR(32) NOT NULL,"
            " sha256 VARCHAR(64) NOT NULL UNIQUE, rate_per_minute INTEGER, created FLOAT NOT NULL);"
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY);"
            "INSERT INTO alembic_version VALUES ('s0001');"
        )
        conn.execute(
            "INSERT INTO api_key VALUES ('claims-core', 'claims_system', ?, NULL, 5.0)", (hash_key("k"),)
        )
    url = f"sqlite:///{path}"
    db = open_database(url)
    assert migrate.current(db.engine, "stores") == migrate.head("stores") == "s0002"
    caller = KeyRing(url, env_value="").lookup("k")
    assert (caller.name, caller.tenant, len(caller.key_id)) == ("claims-core", "insurer", 16)
    assert "claims_system" in load_tenants(url)["insurer"].roles
    assert PredictionLog(url).frame("ccrisk-fraud")["tenant"].tolist() == [None]
