"""`ccrisk db upgrade`, `ccrisk db current`: the shared stores' schema (Alembic migrations)."""

from __future__ import annotations

import typer

from ccrisk.common import console, load_cli_settings, user_errors
from ccrisk.preflight import import_legacy_files

db_app = typer.Typer(
    help="The shared stores' database (stores.url): schema migrations.", no_args_is_help=True
)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the shared stores' database to the latest schema (before serving against a new
    PostgreSQL database, and after upgrading ccrisk), then import the files of earlier versions."""
    from features.ops import migrate
    from features.ops.stores import connect

    settings = load_cli_settings()
    with user_errors():
        db = connect(settings.stores_url)
        with db.writer():
            revision = migrate.upgrade(db)
        import_legacy_files(settings)
    console.print(f"[green]the shared stores ({db.safe_url()}) are at schema revision {revision}[/]")


@db_app.command("current")
def db_current() -> None:
    """The schema revision of the shared stores' database, and the latest one."""
    from features.ops import migrate
    from features.ops.stores import connect

    settings = load_cli_settings()
    db = connect(settings.stores_url)
    at, latest = migrate.current(db), migrate.head()
    console.print(f"{db.safe_url()}: revision {at or 'none'} (latest {latest})")
    if at != latest:
        raise typer.Exit(1)
