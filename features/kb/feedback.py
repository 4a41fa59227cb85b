"""Durable record of KB searches and agents' feedback on the answers (for later training).

SQLite in WAL mode with `synchronous=FULL`: a feedback row is acknowledged only after its
transaction is committed and synced, so an acknowledged write survives a killed server. Query
texts are PII-masked before they are stored. Shared by the service (writes) and training (reads).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from pathlib import Path

from features.ops.files import touch_private
from features.ops.writelock import WriteLock
from features.pii import mask_pii

SCHEMA = """
CREATE TABLE IF NOT EXISTS kb_search (
  query_id TEXT PRIMARY KEY, ts REAL NOT NULL, query_masked TEXT NOT NULL,
  article_ids TEXT NOT NULL, model_version TEXT NOT NULL, kb_version TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kb_feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL REFERENCES kb_search(query_id),
  article_id TEXT NOT NULL, verdict TEXT NOT NULL, ts REAL NOT NULL);
"""
VERDICTS = ("helpful", "dismissed")


class UnknownQuery(KeyError):
    """Feedback for a query id this store never handed out."""


class NotAnAnswer(LookupError):
    """Feedback naming an article that was not among the query's answers."""


class FeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        touch_private(self.path)
        self._writer = WriteLock(self.path)
        with self._writer.hold(), self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:  # one connection per thread; several worker processes share the file
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def record_search(self, query: str, article_ids: list[str], model_version: str, kb_version: str) -> str:
        """Store a served search (query masked); returns the query id feedback refers to."""
        query_id = uuid.uuid4().hex
        row = (query_id, time.time(), mask_pii(query), json.dumps(article_ids), model_version, kb_version)
        with self._writer.hold():
            self._conn().execute("INSERT INTO kb_search VALUES (?, ?, ?, ?, ?, ?)", row)
        return query_id

    def record_feedback(self, query_id: str, article_id: str, verdict: str) -> int:
        """Commit one feedback row; returns its id once it is on disk."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")
        conn = self._conn()
        with self._writer.hold():
            return self._insert_feedback(conn, query_id, article_id, verdict)

    def _insert_feedback(self, conn: sqlite3.Connection, query_id: str, article_id: str, verdict: str) -> int:
        conn.execute("BEGIN IMMEDIATE")
        try:
            row = conn.execute("SELECT article_ids FROM kb_search WHERE query_id = ?", (query_id,)).fetchone()
            if row is None:
                raise UnknownQuery(query_id)
            if article_id not in json.loads(row[0]):
                raise NotAnAnswer(f"article_id: {article_id!r} was not among the answers to query {query_id}")
            cur = conn.execute(
                "INSERT INTO kb_feedback (query_id, article_id, verdict, ts) VALUES (?, ?, ?, ?)",
                (query_id, article_id, verdict, time.time()),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return int(cur.lastrowid)

    def feedback_rows(self) -> list[dict]:
        """Every feedback row joined with its (masked) query, oldest first."""
        cur = self._conn().execute(
            "SELECT f.id, f.query_id, s.query_masked, f.article_id, f.verdict, f.ts, s.model_version "
            "FROM kb_feedback f JOIN kb_search s USING (query_id) ORDER BY f.id"
        )
        cols = [c[0] for c in cur.description]
        return [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
