"""Alembic migrations of the shared stores (`ccrisk db upgrade`), and the one-time import of the
files that held them before (`api_keys.json`, `predictions.sqlite`, `feedback.sqlite`)."""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from features.ops import stores
from features.ops.stores import Database, SchemaBehind

logger = logging.getLogger(__name__)
SCRIPTS = Path(__file__).resolve().parent / "migrations"
# Files of earlier versions and the tables they held, imported once into the stores' database.
LEGACY = {"predictions.sqlite": ("prediction", "prediction_block"),
          "feedback.sqlite": ("claim_feedback", "kb_search", "kb_feedback")}  # fmt: skip
LEGACY_KEYS = "api_keys.json"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    return config


def head(branch: str) -> str:
    """The latest revision of a branch: "stores" (stores.url) or "audit" (security.audit_url)."""
    return ScriptDirectory.from_config(_config()).get_revision(f"{branch}@head").revision


def current(engine: sa.Engine, branch: str) -> str | None:
    """The branch's revision the database is at (None: not migrated yet)."""
    script = ScriptDirectory.from_config(_config())
    with engine.connect() as conn:
        heads = MigrationContext.configure(conn).get_current_heads()
    ours = [h for h in heads if _on_branch(script, h, branch)]  # one database may hold both branches
    return ours[0] if ours else None


def _on_branch(script: ScriptDirectory, revision: str, branch: str) -> bool:
    return any(branch in r.branch_labels for r in script.iterate_revisions(revision, "base"))


def upgrade(engine: sa.Engine, branch: str) -> str:
    """Bring the database to the branch's latest revision; the revision it is at."""
    config = _config()
    with engine.connect().execution_options(writes=True) as conn, conn.begin():
        config.attributes["connection"] = conn
        command.upgrade(config, f"{branch}@head")
    return current(engine, branch) or ""


def check_current(engine: sa.Engine, branch: str, setting: str) -> None:
    at, latest = current(engine, branch), head(branch)
    if at != latest:
        where = engine.url.render_as_string(hide_password=True)
        raise SchemaBehind(
            f"the {branch} database {where} is at schema revision {at or 'none'}, not {latest}: "
            f"run `ccrisk db upgrade` (with the same {setting}) before serving"
        )


def create_missing(bind: sa.Connection, tables: tuple[sa.Table, ...]) -> None:
    """A first revision's upgrade: the tables a database made before migrations lacks."""
    existing = set(sa.inspect(bind).get_table_names())
    for table in tables:
        if table.name not in existing:
            table.create(bind)


def add_missing_columns(bind: sa.Connection, table: sa.Table, names: tuple[str, ...]) -> None:
    """A later revision's upgrade: the columns `names` of `table`, as it defines them, where the
    database lacks them (a first revision run after they were defined already made them)."""
    from alembic import op

    existing = {c["name"] for c in sa.inspect(bind).get_columns(table.name)}
    for name in names:
        if name not in existing:
            column = table.c[name]
            default = column.server_default.arg if column.server_default is not None else None
            op.add_column(table.name, sa.Column(name, column.type, nullable=column.nullable,
                                                server_default=default))  # fmt: skip


def drop_all(bind: sa.Connection, tables: tuple[sa.Table, ...]) -> None:
    for table in reversed(tables):
        table.drop(bind, checkfirst=True)


def import_legacy(db: Database, state: Path) -> list[str]:
    """Copy what earlier versions kept in files under `state` into empty tables of `db`, then
    rename each file to `*.imported`; what was imported, for the operator."""
    done = []
    for name, tables in LEGACY.items():
        path = state / name
        if path.is_file():
            done += [f"{path}: {t} ({n} rows)" for t, n in _copy_tables(path, tables, db)]
            path.rename(path.with_name(path.name + ".imported"))
    keys = state / LEGACY_KEYS
    if keys.is_file():
        try:
            entries = json.loads(keys.read_text())["keys"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{keys}: not a ccrisk key file ({exc}); fix it or remove it") from exc
        with db.write() as conn:
            taken = {r.name for r in conn.execute(sa.select(stores.api_key.c.name))}
            rows = [_key_row(e) for e in entries if e["name"] not in taken]
            if rows:
                conn.execute(stores.api_key.insert(), rows)
        keys.rename(keys.with_name(keys.name + ".imported"))
        done.append(f"{keys}: api_key ({len(rows)} keys)")
    for line in done:
        logger.info("imported %s", line)
    return done


def _key_row(entry: dict) -> dict:
    row = {k: entry[k] for k in ("name", "role", "sha256")}
    return {**row, "rate_per_minute": entry.get("rate_per_minute"), "created": entry.get("created", 0.0),
            "key_id": secrets.token_hex(8), "tenant": stores.ROOT_TENANT}  # fmt: skip


def _copy_tables(path: Path, tables: tuple[str, ...], db: Database) -> list[tuple[str, int]]:
    source = sqlite3.connect(path)
    try:
        present = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        out = []
        for name in (t for t in tables if t in present):
            table = stores.metadata.tables[name]
            held = {r[1] for r in source.execute(f"PRAGMA table_info({name})")}
            names = [c.name for c in table.c if c.name in held]  # columns added since are left empty
            rows = [
                dict(zip(names, r, strict=True))
                for r in source.execute(f"SELECT {', '.join(names)} FROM {name}")
            ]
            with db.write() as conn:
                if rows and conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() == 0:
                    conn.execute(table.insert(), rows)
                    if "id" in table.c and not db.is_sqlite:  # the serial goes on after the copied ids
                        conn.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                             f"(SELECT MAX(id) FROM {name}))")  # fmt: skip
            out.append((name, len(rows)))
        return out
    finally:
        source.close()
