"""`ccrisk serve` checks what every worker will open before it starts them: a problem stops the
start-up once, with its reason, instead of each worker failing (and restarting) on its own."""

from __future__ import annotations

import typer

from ccrisk.common import console


def check_keys(settings) -> None:
    """A broken key file stops the start-up here, not in every worker; no keys is only a warning."""
    from features.ops.keys import KeyRing

    if not settings.security.auth:
        console.print("[yellow]security.auth is off: /v1 endpoints need no API key[/]")
        return
    try:
        ring = KeyRing(settings.stores_url)
    except ValueError as exc:
        console.print(f"[red]cannot serve:[/] {exc}")
        raise typer.Exit(3) from exc
    if not len(ring):
        console.print(
            "[yellow]no API keys yet: /v1 calls get 401; `ccrisk keys create --role admin --name me`[/]"
        )


def open_stores(settings) -> None:
    """Open the audit trail and the shared stores now (an embedded SQLite file is migrated, and
    the files of earlier versions imported): the workers then find them ready, and a URL that
    cannot be opened, or a database behind the schema, is named here with its fix."""
    from features.ops.audit import AuditLog
    from features.ops.stores import SchemaBehind, open_database

    # URLs may hold a password: named by their settings, not printed
    stores = (
        ("the audit trail (security.audit_url)", settings.audit_url, AuditLog),
        ("the shared stores (stores.url)", settings.stores_url, open_database),
    )
    for what, url, opener in stores:
        try:
            opener(url)
        except SchemaBehind as exc:
            console.print(f"[red]cannot serve:[/] {exc}")
            raise typer.Exit(3) from exc
        except Exception as exc:
            console.print(f"[red]cannot serve:[/] {what} cannot be opened: {exc}")
            console.print(
                "fix state_dir, stores.url or security.audit_url in mlflow.yaml, or the folder's permissions"
            )
            raise typer.Exit(3) from exc
    try:
        import_legacy_files(settings)
    except ValueError as exc:
        console.print(f"[red]cannot serve:[/] {exc}")
        raise typer.Exit(3) from exc


def import_legacy_files(settings) -> None:
    """The key file and SQLite files of earlier versions, imported once into the stores."""
    from features.ops.migrate import import_legacy
    from features.ops.stores import open_database

    for line in import_legacy(open_database(settings.stores_url), settings.state_path):
        console.print(f"imported {line}")
