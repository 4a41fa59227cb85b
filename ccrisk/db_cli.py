"""`ccrisk db upgrade`, `ccrisk db current`: the schemas of the shared stores (`stores.url`) and of
the audit trail (`security.audit_url`), as Alembic migrations."""

from __future__ import annotations

import typer

from ccrisk.common import console, load_cli_settings, user_errors
from ccrisk.preflight import import_legacy_files

db_app = typer.Typer(help="The databases' schemas (stores.url, security.audit_url).", no_args_is_help=True)
BRANCHES = (("stores", "stores_url"), ("audit", "audit_url"))  # Alembic branch, Settings property


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the shared stores' and the audit trail's databases to the latest schema (before
    serving against new PostgreSQL databases, and after upgrading ccrisk), then import the files
    of earlier versions into the stores."""
    from features.ops import migrate
    from features.ops.stores import connect

    settings = load_cli_settings()
    with user_errors():
        for branch, url in BRANCHES:
            db = connect(getattr(settings, url))  # a SQLite file: WAL, 0600, one writer at a time
            with db.writer():
                revision = migrate.upgrade(db.engine, branch)
            console.print(f"[green]{branch}: {db.safe_url()} is at schema revision {revision}[/]")
        import_legacy_files(settings)


@db_app.command("current")
def db_current() -> None:
    """Each database's schema revision and the latest one; exit 1 when one is behind."""
    import sqlalchemy as sa

    from features.ops import migrate

    settings = load_cli_settings()
    behind = False
    for branch, url in BRANCHES:
        engine = sa.create_engine(getattr(settings, url))
        at, latest = migrate.current(engine, branch), migrate.head(branch)
        where = engine.url.render_as_string(hide_password=True)
        console.print(f"{branch}: {where} at revision {at or 'none'} (latest {latest})")
        behind |= at != latest
    if behind:
        raise typer.Exit(1)
