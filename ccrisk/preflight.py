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
        ring = KeyRing(settings.keys_path)
    except ValueError as exc:
        console.print(f"[red]cannot serve:[/] {exc}")
        raise typer.Exit(3) from exc
    if not len(ring):
        console.print(
            "[yellow]no API keys yet: /v1 calls get 401; `ccrisk keys create --role admin --name me`[/]"
        )


def open_stores(settings) -> None:
    """Create the audit trail, prediction log and feedback stores (tables, WAL mode) now: the
    workers then find them ready, and a path or URL that cannot be opened is named here."""
    from features.kb.feedback import FeedbackStore
    from features.ops.audit import AuditLog
    from features.ops.outcomes import ClaimFeedbackStore, PredictionLog

    stores: list[tuple[str, object, type]] = [
        # the audit URL may hold a password: named by its setting, not printed
        ("the audit trail (security.audit_url)", settings.audit_url, AuditLog),
        (f"the prediction log {settings.predictions_path}", settings.predictions_path, PredictionLog),
        (f"the feedback store {settings.feedback_path}", settings.feedback_path, ClaimFeedbackStore),
        (f"the KB feedback store {settings.feedback_path}", settings.feedback_path, FeedbackStore),
    ]
    for what, where, store in stores:
        try:
            store(where)
        except Exception as exc:
            console.print(f"[red]cannot serve:[/] {what} cannot be opened: {exc}")
            console.print("fix state_dir or security.audit_url in mlflow.yaml, or the folder's permissions")
            raise typer.Exit(3) from exc
