"""`ccrisk keys …`, `ccrisk audit verify`, `ccrisk report hit-rate`, `ccrisk monitor drift`:
the platform's access, audit and monitoring commands."""

from __future__ import annotations

import re
import time
from typing import Annotated, Optional

import typer
from rich.table import Table

from ccrisk.common import console, load_cli_settings, user_errors

keys_app = typer.Typer(help="API keys with roles (stored only as hashes).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
report_app = typer.Typer(help="Reports on served traffic and investigators' outcomes.", no_args_is_help=True)
monitor_app = typer.Typer(help="Drift of served inputs and scores against training.", no_args_is_help=True)


@keys_app.command("create")
def keys_create(
    role: Annotated[str, typer.Option(help="claims_system | agent_assist | data_scientist | admin")],
    name: Annotated[str, typer.Option(help="who holds the key (shown in the audit trail)")],
    replace: Annotated[bool, typer.Option(help="replace an existing key of that name")] = False,
    rate_limit: Annotated[
        Optional[int],
        typer.Option(help="this key's requests per minute (default: security.rate_limit_per_minute)"),
    ] = None,
) -> None:
    """Create a key and print it once; only its SHA-256 is stored."""
    from features.ops.keys import create_key

    settings = load_cli_settings()
    with user_errors():
        key = create_key(settings.stores_url, name, role, replace=replace, rate_per_minute=rate_limit)
    console.print(f"API key for [bold]{name}[/] ({role}); store it now, it is not shown again:")
    print(key)


@keys_app.command("revoke")
def keys_revoke(name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Revoke a key; a running server stops accepting it at its next request."""
    from features.ops.keys import revoke_key

    settings = load_cli_settings()
    with user_errors():
        revoke_key(settings.stores_url, name)
    console.print(f"revoked {name}")


@keys_app.command("list")
def keys_list() -> None:
    """Names, roles and creation times (never the keys)."""
    from features.ops.keys import list_keys

    settings = load_cli_settings()
    table = Table("name", "role", "created")
    for k in list_keys(settings.stores_url):
        table.add_row(
            k["name"], k["role"], time.strftime("%Y-%m-%d %H:%M", time.localtime(k.get("created", 0)))
        )
    console.print(table)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walk the hash chain; exit 1 and name the records when one was edited, deleted or reordered."""
    from features.ops.audit import open_audit

    settings = load_cli_settings()
    log = open_audit(settings)
    problems = log.verify()
    for p in problems:
        console.print(f"[red]{p}[/]")
    if problems:
        raise typer.Exit(1)
    console.print(f"[green]audit trail intact[/]: {log.count()} records")


@audit_app.command("adopt")
def audit_adopt() -> None:
    """Once, after upgrading: anchor a trail written before its chain was keyed. Its records so
    far are trusted as they stand; every later one is checked by its keyed hash."""
    from features.ops.audit import open_audit

    log = open_audit(load_cli_settings())
    try:
        seq = log.adopt()
    except ValueError as exc:
        console.print(f"[red]{exc}[/]")
        raise typer.Exit(1) from exc
    console.print(f"anchored: records 1..{seq} adopted; run `ccrisk audit verify` any time")


def parse_window(text: str) -> float:
    """'7d', '12h', '30m' -> seconds."""
    match = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if not match:
        raise ValueError(f"window: {text!r} is not like 7d, 12h or 30m")
    return int(match.group(1)) * {"d": 86400, "h": 3600, "m": 60}[match.group(2)]


@report_app.command("hit-rate")
def report_hit_rate(
    model: Annotated[str, typer.Option(help="registered model name")] = "ccrisk-fraud",
    window: Annotated[Optional[str], typer.Option(help="only predictions this recent, e.g. 30d")] = None,
) -> None:
    """Alert hit rate per band and model version: confirmed fraud ÷ alerted claims (95 % Wilson
    interval), plus the rate among reviewed claims."""
    from features.ops.hitrate import HitRates

    settings = load_cli_settings()
    with user_errors():
        table = HitRates(settings).table(model, parse_window(window) if window else None)
    if table.empty:
        console.print(f"no served predictions of {model} in {settings.stores_url}")
        raise typer.Exit(1)
    lows, highs = table.pop("ci_low"), table.pop("ci_high")
    table["95% CI"] = [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(lows, highs, strict=True)]
    out = Table(*[c.replace("_", " ") for c in table.columns])
    for row in table.itertuples(index=False):
        out.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    console.print(out)


@monitor_app.command("drift")
def monitor_drift(
    model: Annotated[str, typer.Option(help="registered model name, e.g. ccrisk-fraud")] = "ccrisk-fraud",
    window: Annotated[str, typer.Option(help="served traffic this recent: 7d, 12h, 30m")] = "7d",
) -> None:
    """Compare served inputs and scores with the champion's training reference (Evidently for
    features, PSI for scores); write HTML + JSON under <state>/monitoring/<model>/."""
    from ccrisk.ops.monitor import drift_report

    settings = load_cli_settings()
    with user_errors():
        summary = drift_report(settings, model, parse_window(window))
    colour = "red" if summary["drift_detected"] else "green"
    console.print(f"[{colour}]drift detected: {summary['drift_detected']}[/] ({summary['rows']} served rows)")
    for name, value in summary["flags"].items():
        console.print(f"  [red]flag[/] {name}: {value}")
    console.print(f"report: {summary['html']}")
