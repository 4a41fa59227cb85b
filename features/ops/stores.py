"""The shared stores behind one SQLAlchemy URL (`stores.url`): tenants, API keys, the prediction log,
claims outcomes, KB searches and KB feedback. SQLite (`<state_dir>/stores.sqlite`) is the embedded
default; PostgreSQL (`postgresql+psycopg://…`) lets replicas share them. The audit trail has a URL
of its own (`security.audit_url`), so that its database can have other administrators.

The schema is Alembic's (`features/ops/migrations/`, `ccrisk db upgrade`). An embedded SQLite file
is brought to the latest revision when it is opened; any other database must already be there,
or opening it fails with the command that gets it there.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from features.ops.files import touch_private
from features.ops.writelock import WriteLock, no_lock

metadata = sa.MetaData()
ROOT_TENANT = "insurer"  # the tenant of the insurer's own keys (made by migration s0002)
TENANT = sa.String(64)
api_key = sa.Table(
    "api_key",
    metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("rate_per_minute", sa.Integer),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("key_id", sa.String(32)),  # the public handle of a key (admin routes, the trail)
    sa.Column("tenant", TENANT, nullable=False, server_default=ROOT_TENANT),
    sa.Column("expires", sa.Float),  # epoch seconds; None: never
    sa.Column("previous_sha256", sa.String(64)),  # the key before the last rotation ...
    sa.Column("previous_until", sa.Float),  # ... accepted until then (the grace period)
    sa.Index("api_key_key_id", "key_id", unique=True),
)
tenant = sa.Table(
    "tenant",
    metadata,
    sa.Column("name", TENANT, primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("parent", TENANT),  # None only for the root tenant
    sa.Column("roles", sa.Text, nullable=False),  # comma-separated: the roles its keys may have
    sa.Column("rate_per_minute", sa.Integer),  # all its keys together, per worker process
    sa.Column("daily_quota", sa.Integer),  # calls per UTC day, all its keys and workers together
    sa.Column("pin", sa.String(16)),  # "challenger": its claims are scored by the challenger
    sa.Column("created", sa.Float, nullable=False),
)
tenant_usage = sa.Table(  # calls per tenant and UTC day, kept only for tenants with a daily quota
    "tenant_usage",
    metadata,
    sa.Column("tenant", TENANT, primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
)
prediction = sa.Table(
    "prediction",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("variant", sa.Text, nullable=False),
    sa.Column("entity_id", sa.Text),
    sa.Column("band", sa.Text),
    sa.Column("label", sa.Text),
    sa.Column("score", sa.Float),
    sa.Column("inputs", sa.Text, nullable=False),
    sa.Column("tenant", TENANT),
    sa.Index("prediction_model_ts", "model", "ts"),
    sa.Index("prediction_entity", "entity_id"),
)
prediction_block = sa.Table(  # a large batch's rows, compressed (features/ops/blocks.py)
    "prediction_block",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.Column("tenant", TENANT),
    sa.Index("prediction_block_model_ts", "model", "ts"),
)
claim_feedback = sa.Table(
    "claim_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("claim_id", sa.Text, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("investigator", sa.Text, nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("tenant", TENANT),
)
kb_search = sa.Table(
    "kb_search",
    metadata,
    sa.Column("query_id", sa.Text, primary_key=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("query_masked", sa.Text, nullable=False),
    sa.Column("article_ids", sa.Text, nullable=False),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("kb_version", sa.Text, nullable=False),
    sa.Column("tenant", TENANT),
    sa.Column("confident", sa.Boolean),  # False: no confident answer (monitoring's no-answer rate)
)
kb_feedback = sa.Table(
    "kb_feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("query_id", sa.Text, sa.ForeignKey("kb_search.query_id"), nullable=False),
    sa.Column("article_id", sa.Text, nullable=False),
    sa.Column("verdict", sa.Text, nullable=False),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("tenant", TENANT),
)
_SQLITE_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON")


class SchemaBehind(RuntimeError):
    """The database is not at the schema this code expects."""


@dataclass
class Database:
    url: str
    engine: sa.Engine
    writer: Callable[[], AbstractContextManager[None]]  # one writer at a time to a SQLite file

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction: committed (and on SQLite synced) when the block ends."""
        with self.writer(), self.engine.connect().execution_options(writes=True) as conn, conn.begin():
            yield conn

    def safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)


_OPEN: dict[tuple[int, str], Database] = {}
_OPENING = threading.Lock()


def open_database(url: str) -> Database:
    """The stores' database at `url`, one engine per process; an embedded SQLite file is
    migrated to the latest schema, any other database is checked to be there already."""
    key = (os.getpid(), url)  # a forked process must not share the parent's connections
    with _OPENING:
        if key not in _OPEN:
            db = connect(url)
            from features.ops import migrate  # Alembic, only when a database is opened

            if db.is_sqlite:
                with db.writer():  # workers start together: one migrates, the others find it done
                    migrate.upgrade(db.engine, "stores")
            else:
                migrate.check_current(db.engine, "stores", "stores.url")
            _OPEN[key] = db
        return _OPEN[key]


def connect(url: str) -> Database:
    """The database at `url` as it is: no migration, no check (`ccrisk db upgrade` uses it)."""
    engine = sa.create_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    writer = no_lock
    if engine.dialect.name == "sqlite":
        database = engine.url.database
        if database and database != ":memory:":
            os.makedirs(os.path.dirname(os.path.abspath(database)), exist_ok=True)
            touch_private(database)
            writer = WriteLock(database).hold
        _sqlite_pragmas(engine)
    return Database(url, engine, writer)


def _sqlite_pragmas(engine: sa.Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # transactions start in the "begin" hook below
        cur = dbapi_conn.cursor()
        for pragma in _SQLITE_PRAGMAS:
            cur.execute(pragma)
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # a writer takes the write lock up front; a reader never waits for one
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writes") else "BEGIN")
