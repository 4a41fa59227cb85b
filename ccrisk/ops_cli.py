"""`ccrisk audit …`, `ccrisk report hit-rate`, `ccrisk monitor drift`: the platform's audit and
monitoring commands (keys and tenants: ccrisk/access_cli.py)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ccrisk.common import console, load_cli_settings, user_errors

audit_app = typer.Typer(help="The hash-chained audit trail.", no_args_is_help=True)
report_app = typer.Typer(help="Reports on served traffic and investigators' outcomes.", no_args_is_help=True)
monitor_app = typer.Typer(help="Watch served models against training and thresholds.", no_args_is_help=True)


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


@audit_app.command("export")
def audit_export(
    tenant: Annotated[
        Optional[str], typer.Option(help="this tenant and those under it (default: all)")
    ] = None,
    since: Annotated[
        Optional[str], typer.Option(help="records from this ISO 8601 date or time (UTC)")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv | jsonl")] = "csv",
    out: Annotated[Optional[Path], typer.Option(help="write here (default: standard output)")] = None,
) -> None:
    """Write a tenant's trail (every call and admin action: who, on whom, what) as CSV or JSON Lines."""
    from features.ops import audit_export as export
    from features.ops.audit import open_audit
    from features.ops.tenants import get, load_tenants, subtree

    settings = load_cli_settings()
    with user_errors():
        tenants = load_tenants(settings.stores_url)
        scope = subtree(tenants, get(tenants, tenant).name) if tenant else None
        text = export.write(open_audit(settings).rows(export.parse_since(since), scope), fmt)
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text)
        console.print(f"wrote {text.count(chr(10)) - (fmt == 'csv')} records to {out}")


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


@monitor_app.command("run")
def monitor_run(
    window: Annotated[str, typer.Option(help="served traffic this recent: 1d, 12h, 30m")] = "1d",
) -> None:
    """Watch every served model (drift, confidence, languages, answers, feedback) against the
    thresholds in `monitoring:`; write an HTML report, log it to MLflow, set the server's gauges,
    post alerts to `monitoring.alert_webhook`. Exit 1 when a threshold is crossed (for cron, Airflow)."""
    from ccrisk.ops.watch import post_alerts, record, watch_all

    settings = load_cli_settings()
    with user_errors():
        seconds = parse_window(window)
    watch = watch_all(settings, seconds)
    summary = record(settings, watch, seconds)
    table = Table("model", "statistic", "value", "threshold", "rows", "note")
    for s in watch.statistics:
        value = "-" if s.value is None else f"{s.value:.3f}"
        mark = "[red]crossed[/] " if s.crossed else ""
        limit = (
            "-"
            if s.threshold is None
            else f"{mark}{'<=' if s.direction == 'above' else '>='} {s.threshold:g}"
        )
        table.add_row(
            s.model, s.name, value, limit, str(s.rows), s.note if s.judged else f"{s.note} (too few rows)"
        )
    console.print(table)
    console.print(f"report: {summary['html']} (MLflow run {summary['mlflow_run']})")
    alerts, hook = watch.alerts, settings.monitoring.alert_webhook
    if alerts and hook:
        try:
            post_alerts(hook, summary, alerts)
            console.print(f"alerts posted to {hook.split('?')[0]}")
        except Exception as exc:  # the exit status still says a threshold was crossed
            console.print(f"[red]error:[/] the alert webhook failed: {exc}")
    if alerts:
        console.print(f"[red]{len(alerts)} threshold(s) crossed[/]")
        raise typer.Exit(1)


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
