"""Hash-chained audit trail of every call to the service and every production change.

Each record carries the keyed hash (HMAC) of the one before it, so `verify()` finds an edited,
deleted, inserted or reordered record and names it, and nobody without the key can re-hash an
edit. A head row (last sequence number and hash) and signed checkpoints in an anchor file outside
the store (features/ops/seal.py) catch records cut off the end and an emptied trail.
Default store: SQLite in WAL mode with `synchronous=FULL`
(a record is on disk before the response leaves); any SQLAlchemy URL (e.g.
`postgresql+psycopg://…`) switches the backend. Appends from several worker processes are
serialised by the database: `BEGIN IMMEDIATE` on SQLite, a table lock on other backends. The
schema is Alembic's (branch "audit" of `features/ops/migrations/`, `ccrisk db upgrade`).
No raw request is stored: only its SHA-256 and an outcome summary (scores, bands, labels).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import sqlite3
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from features.ops.files import touch_private
from features.ops.seal import Seal, load_key
from features.ops.writelock import WriteLock, no_lock

logger = logging.getLogger(__name__)

GENESIS = "0" * 64
_meta = sa.MetaData()
records = sa.Table(
    "audit_record",
    _meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("caller", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("endpoint", sa.String(128), nullable=False),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    sa.Column("request_sha256", sa.String(64), nullable=False),
    sa.Column("request_hash_kind", sa.String(16), nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("request_id", sa.String(128), nullable=False, server_default=""),
    sa.Column("tenant", sa.String(64), nullable=False, server_default=""),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
head = sa.Table(
    "audit_head",
    _meta,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
alias_state = sa.Table(  # the version each alias was last recorded at: one record per move
    "audit_alias_state",
    _meta,
    sa.Column("model", sa.String(128), primary_key=True),
    sa.Column("alias", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), nullable=False),
)
# Statements built once: values go in as parameters, so SQLAlchemy reuses the compiled SQL
# (building `.values(**row)` per call cost ~1 ms of CPU per audited request).
_READ_HEAD = sa.select(head.c.seq, head.c.hash).where(head.c.id == 1)
_INSERT_RECORD = records.insert()
_MOVE_HEAD = head.update().where(head.c.id == 1)
_START_HEAD = head.insert()
_COLUMNS = tuple(records.c.keys())
_SQL_INSERT = f"INSERT INTO audit_record ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SQL_READ_HEAD = "SELECT seq, hash FROM audit_head WHERE id = 1"
_SQL_MOVE_HEAD = "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1"
_SQL_START_HEAD = "INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)"
_PRAGMAS = ("PRAGMA busy_timeout=30000", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL")
HASHED = ("seq", "ts", "caller", "role", "endpoint", "status", "model", "model_version",
          "request_sha256", "request_hash_kind", "outcome", "latency_ms")  # fmt: skip
OPTIONAL = ("request_id", "tenant")  # hashed when set (added after the first records)


@dataclass
class AuditEntry:
    caller: str
    role: str
    endpoint: str
    status: int
    request_sha256: str
    latency_ms: float
    model: str = ""
    model_version: str = ""
    outcome: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    request_hash_kind: str = "canonical"
    request_id: str = ""  # the X-Request-ID the caller sent or the gateway gave the call
    tenant: str = ""  # the caller's tenant; for an admin action, the tenant acted on


CANONICAL_MAX_BYTES = 256 * 1024  # re-serialising an 8 MB batch costs ~0.3 s: hash such bodies as sent


def request_sha256(body: bytes) -> tuple[str, str]:
    """(SHA-256, kind): of the canonical JSON (sorted keys, no spaces) for bodies up to
    CANONICAL_MAX_BYTES that parse ("canonical"), else of the bytes as received ("raw")."""
    if len(body) <= CANONICAL_MAX_BYTES:
        # RecursionError: a body nested thousands deep (it is still recorded, by its bytes)
        with contextlib.suppress(ValueError, UnicodeDecodeError, RecursionError):
            canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
            return hashlib.sha256(canonical).hexdigest(), "canonical"
    return hashlib.sha256(body).hexdigest(), "raw"


def _chained(entries: list[AuditEntry], seq: int, prev: str, seal: Seal) -> list[dict[str, Any]]:
    """The entries as stored rows, numbered from `seq` + 1 and hash-chained from `prev`."""
    rows = []
    for entry in entries:
        seq += 1
        row = {
            **entry.__dict__,
            "seq": seq,
            "ts": round(entry.ts, 6),
            "latency_ms": round(entry.latency_ms, 3),
            "outcome": json.dumps(entry.outcome, sort_keys=True, separators=(",", ":")),
        }
        row["prev_hash"], row["hash"] = prev, seal.record_hash(prev, payload(row))
        prev = row["hash"]
        rows.append(row)
    return rows


def payload(row: dict[str, Any]) -> str:
    """The hashed fields of a record. The request id and the tenant are hashed when the record
    has them: records written before they existed keep the hashes they were written with."""
    keys = (*HASHED, *(k for k in OPTIONAL if row.get(k)))
    return json.dumps({k: row[k] for k in keys}, sort_keys=True, separators=(",", ":"))


def unkeyed_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """The hash of records written before the chain was keyed (trusted up to `ccrisk audit adopt`)."""
    return hashlib.sha256((prev_hash + "\n" + payload(row)).encode()).hexdigest()


def _sqlite_pragmas(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let the "begin" hook below start transactions
        cur = dbapi_conn.cursor()
        for pragma in _PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the head


def open_audit(settings: Any) -> AuditLog:
    """The trail of `settings` with its key and anchor (mlflow.yaml `security`)."""
    return AuditLog(settings.audit_url, Seal(load_key(settings.audit_key_path), settings.audit_anchor_path))


class AuditLog:
    def __init__(self, url: str, seal: Seal | None = None):
        self.url = url
        self.seal = seal or Seal.ephemeral()
        self.engine = sa.create_engine(url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._writer = no_lock
        self._file: str | None = None  # a SQLite file: appends go through sqlite3 directly
        self._local = threading.local()
        if self.is_sqlite:
            _sqlite_pragmas(self.engine)
            database = self.engine.url.database
            if database and database != ":memory:":
                touch_private(database)
                self._writer = WriteLock(database).hold
                self._file = database
        # Every worker opens the trail as it starts. On a new SQLite file, two switching it to WAL
        # and creating the tables at the same moment failed one at once with "database is locked"
        # (and that worker then served without its endpoints), so this is done one at a time.
        from features.ops import migrate  # Alembic, only when a trail is opened

        with self._writer():
            if self.is_sqlite:  # embedded: brought to the latest schema here; any other: must be there
                migrate.upgrade(self.engine, "audit")
            else:
                migrate.check_current(self.engine, "audit", "security.audit_url")
            if not self.seal.has_anchor() and self.count() == 0:
                self.seal.checkpoint(0, GENESIS)  # a new trail: the anchor starts with it

    def append(self, entry: AuditEntry) -> int:
        """Commit one record (chained to the last); returns its sequence number."""
        return self.append_many([entry])[0]

    def append_many(self, entries: list[AuditEntry]) -> list[int]:
        """Commit records in one transaction, chained in order (all or none); their sequence
        numbers. One commit (one fsync) for the group: see AuditWriter."""
        if not entries:
            return []
        if self._file is not None:
            return self._append_sqlite(entries)
        with self._writer(), self.engine.begin() as conn:
            if not self.is_sqlite:
                conn.exec_driver_sql("LOCK TABLE audit_head IN EXCLUSIVE MODE")
            last = conn.execute(_READ_HEAD).first()
            rows = _chained(entries, *((last.seq, last.hash) if last else (0, GENESIS)), self.seal)
            conn.execute(_INSERT_RECORD, rows)
            if last:
                conn.execute(_MOVE_HEAD, {"seq": rows[-1]["seq"], "hash": rows[-1]["hash"]})
            else:
                conn.execute(_START_HEAD, {"id": 1, "seq": rows[-1]["seq"], "hash": rows[-1]["hash"]})
            self.seal.checkpoint(rows[-1]["seq"], rows[-1]["hash"])  # under the lock: in order
        return [r["seq"] for r in rows]

    def _append_sqlite(self, entries: list[AuditEntry]) -> list[int]:
        """append_many on a SQLite file through the sqlite3 driver itself: the same statements
        and transaction, ~0.1 ms of CPU a commit against ~0.6 ms through SQLAlchemy's engine."""
        conn = self._sqlite_connection()
        with self._writer():
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute(_SQL_READ_HEAD).fetchone()
                rows = _chained(entries, *(last or (0, GENESIS)), self.seal)
                conn.executemany(_SQL_INSERT, [tuple(r[c] for c in _COLUMNS) for r in rows])
                conn.execute(_SQL_MOVE_HEAD if last else _SQL_START_HEAD, (rows[-1]["seq"], rows[-1]["hash"]))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            self.seal.checkpoint(rows[-1]["seq"], rows[-1]["hash"])
        return [r["seq"] for r in rows]

    def _sqlite_connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:  # one per thread (the audit writer's, in a server), kept open
            conn = sqlite3.connect(self._file, isolation_level=None, timeout=30)
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            self._local.conn = conn
        return conn

    def rows(
        self, since: float | None = None, tenants: set[str] | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Records in order (from `since`, of `tenants` only when given); with `limit`, the latest."""
        query = sa.select(records).order_by(records.c.seq.desc() if limit else records.c.seq)
        if since is not None:
            query = query.where(records.c.ts >= since)
        if tenants is not None:
            query = query.where(records.c.tenant.in_(sorted(tenants)))
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def note_alias(self, entry: AuditEntry, alias: str, version: str | None) -> bool:
        """Record a move of `entry.model`@`alias` to `version` once, however many processes see
        it (the CLI that made it, every worker's poller): False when it was already recorded."""
        key = (alias_state.c.model == entry.model) & (alias_state.c.alias == alias)
        with self._writer(), self.engine.begin() as conn:  # BEGIN IMMEDIATE on SQLite
            row = conn.execute(sa.select(alias_state.c.version).where(key)).first()
            if row is not None and row.version == (version or ""):
                return False
            if row is None:
                conn.execute(
                    alias_state.insert().values(model=entry.model, alias=alias, version=version or "")
                )
            else:
                conn.execute(alias_state.update().where(key).values(version=version or ""))
        self.append(entry)
        return True

    def head(self) -> tuple[int, str] | None:
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(head.c.seq, head.c.hash)).first()
        return (last.seq, last.hash) if last else None

    def verify(self) -> list[str]:
        """Problems found, each naming the record; an empty list means the chain is intact."""
        from features.ops.audit_verify import verify

        return verify(self)

    def adopt(self) -> int:
        """Anchor a trail written before the chain was keyed: its records up to now are trusted
        as they stand (checked by their unkeyed hashes), every later one by its keyed hash.
        Once only; returns the last sequence number adopted."""
        points, _ = self.seal.read()
        if points:
            raise ValueError(f"{self.seal.anchor} already holds checkpoints: this trail is anchored")
        last = self.head()
        seq, top = last if last else (0, GENESIS)
        self.seal.checkpoint(seq, top, adopted=True)
        return seq

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(records)).scalar_one()


class AuditWriter:
    """Group commit: one thread per process appends the records waiting at that moment in one
    transaction, and each caller's future resolves only once its record is committed.

    Under concurrent requests a commit (an fsync, and the file lock the worker processes share)
    then serves several records instead of one; a lone request pays what `append` costs. A
    failed commit fails every record of its group, so no caller is told a record is stored
    when it is not."""

    def __init__(self, log: AuditLog, max_group: int = 64):
        self.log = log
        self.max_group = max_group
        self._queue: queue.SimpleQueue[tuple[AuditEntry, Future[int]]] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def submit(self, entry: AuditEntry) -> Future[int]:
        """A future of the record's sequence number (or of the error that kept it out)."""
        done: Future[int] = Future()
        self._queue.put((entry, done))
        return done

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < self.max_group:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # Running: a caller that goes away from now on can no longer cancel its future
            # (its record is written all the same); one cancelled before is skipped when settling.
            waiting = [done.set_running_or_notify_cancel() for _, done in group]
            try:
                seqs = self.log.append_many([entry for entry, _ in group])
            except Exception as exc:  # each waiting request answers 503 (see serving/platform/gateway.py)
                logger.exception("audit commit of %d record(s) failed", len(group))
                for (_, done), wait in zip(group, waiting, strict=True):
                    if wait:
                        done.set_exception(exc)
                continue
            for (_, done), wait, seq in zip(group, waiting, seqs, strict=True):
                if wait:
                    done.set_result(seq)
