"""`ccrisk` command line: train, serve, inspect the registry, make sample data.

The entry point configures logging and the environment once; the pipelines live in `training/`
and the service in `serving/` (imported lazily so `ccrisk --help` stays fast).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.logging import RichHandler
from rich.table import Table

from ccrisk.access_cli import keys_app, tenants_app
from ccrisk.bento_cli import bento_app
from ccrisk.common import Overrides, console, load_cli_settings, print_decision, user_errors
from ccrisk.db_cli import db_app
from ccrisk.kb_cli import evaluate_app, kb_app, train_kb, train_kb_encoder
from ccrisk.ops_cli import audit_app, monitor_app, report_app
from ccrisk.preflight import check_keys, open_stores
from ccrisk.release_cli import compare, promote, retrain, rollback
from ccrisk.score_cli import score_app
from ccrisk.spec_cli import spec_app
from ccrisk.text_cli import text_finetune_trial, train_text

app = typer.Typer(help="ccrisk: claims fraud scoring and contact-center ML.", no_args_is_help=True)
train_app = typer.Typer(help="Train a model family (logs to MLflow, registers, gates).", no_args_is_help=True)
data_app = typer.Typer(help="Generate the project's synthetic sample data.", no_args_is_help=True)
models_app = typer.Typer(help="Inspect the model registry.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(data_app, name="data")
app.add_typer(models_app, name="models")
app.add_typer(kb_app, name="kb")
app.add_typer(evaluate_app, name="evaluate")
app.add_typer(keys_app, name="keys")
app.add_typer(tenants_app, name="tenants")
app.add_typer(audit_app, name="audit")
app.add_typer(report_app, name="report")
app.add_typer(monitor_app, name="monitor")
app.add_typer(bento_app, name="bento")
app.add_typer(score_app, name="score")
app.add_typer(db_app, name="db")
app.add_typer(spec_app, name="spec")
app.command("compare")(compare)
app.command("promote")(promote)
app.command("rollback")(rollback)
app.command("retrain")(retrain)
train_app.command("text")(train_text)
train_app.command("text-finetune-trial")(text_finetune_trial)
train_app.command("kb")(train_kb)
train_app.command("kb-encoder")(train_kb_encoder)
logger = logging.getLogger("ccrisk")
SAMPLE_CLAIMS = Path("data_samples/claims_sample.csv")
SAMPLE_MESSAGES = Path("data_samples/contact_messages.csv")
SAMPLE_HEALTH = Path("data_samples/health_claims_sample.csv")


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=console, show_path=False)],
    )
    for noisy in ("alembic", "mlflow.store", "urllib3", "git"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@train_app.command("fraud")
def train_fraud(
    data: Annotated[Path, typer.Option(help="claims CSV/Parquet with the spec's columns and target")],
    spec: Annotated[Optional[str], typer.Option(help="spec name or YAML path (overrides config)")] = None,
    rules: Annotated[
        Optional[Path], typer.Option(help="rules YAML (default: <spec>.rules.yaml beside the spec, if any)")
    ] = None,
    config: Annotated[Optional[Path], typer.Option(help="pipeline config YAML")] = None,
    split: Annotated[
        Optional[str], typer.Option(help="stratified | time (on the spec's time column)")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="random seed for split and models")] = None,
    trials: Annotated[Optional[int], typer.Option(help="Optuna trials (0 = no search)")] = None,
    with_feedback: Annotated[
        bool, typer.Option(help="add served claims with investigators' outcomes as labelled rows")
    ] = False,
    set_: Overrides = None,
) -> None:
    """Train the claims fraud model, log it to MLflow, register it and apply the gate."""
    from training.config import default_config_path, load_config
    from training.fraud.config import FraudTrainConfig
    from training.fraud.pipeline import train_fraud as run

    settings = load_cli_settings()
    overrides = list(set_ or []) + (["with_feedback=true"] if with_feedback else [])
    options = (
        ("spec", spec),
        ("rules", rules),
        ("split.method", split),
        ("seed", seed),
        ("tuning.trials", trials),
    )
    for key, value in options:
        if value is not None:
            overrides.append(f"{key}={value}")
    with user_errors():
        cfg = load_config(FraudTrainConfig, config or default_config_path("fraud"), overrides)
        result = run(data, cfg, settings)
    _print_result(result, result.registered_name)


def _print_result(result, name: str) -> None:
    table = Table(title=f"{name} v{result.version} (run {result.run_id[:8]})")
    table.add_column("test metric")
    table.add_column("value", justify="right")
    for key in ("roc_auc", "pr_auc", "brier", "precision_at_recall_95", "recall_at_top_5pct", "cv_auc_mean"):
        table.add_row(key, f"{result.metrics[key]:.4f}")
    console.print(table)
    for warning in result.fairness_warnings:
        console.print(f"[yellow]fairness warning:[/] {warning}")
    print_decision(result)


@data_app.command("synth-claims")
def synth_claims(
    out: Annotated[Path, typer.Option(help="CSV to write")] = SAMPLE_CLAIMS,
    rows: Annotated[int, typer.Option(min=50, help="number of claims")] = 1500,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
) -> None:
    """Write seeded synthetic claims (the project's own fraud signal) in the vehicle_claims schema."""
    from features.claims.spec import load_spec
    from training.fraud.synthetic import generate_claims

    df = generate_claims(load_spec("vehicle_claims"), rows, seed)
    _write_sample(df, out, f"claims ({df['FraudFound_P'].mean():.1%} fraud)")


@data_app.command("synth-health")
def synth_health(
    out: Annotated[Path, typer.Option(help="CSV to write")] = SAMPLE_HEALTH,
    rows: Annotated[int, typer.Option(min=50, help="number of claims")] = 1500,
    seed: Annotated[int, typer.Option(help="random seed")] = 13,
) -> None:
    """Write seeded synthetic health-insurance claims (the health_claims line), with our own fraud signal."""
    from training.fraud.synthetic_health import generate_health_claims

    df = generate_health_claims(rows, seed)
    _write_sample(df, out, f"health claims ({df['is_fraud'].mean():.1%} fraud)")


@data_app.command("synth-messages")
def synth_messages(
    out: Annotated[Path, typer.Option(help="CSV to write")] = SAMPLE_MESSAGES,
    rows: Annotated[int, typer.Option(min=50, help="number of messages")] = 480,
    seed: Annotated[int, typer.Option(help="random seed")] = 11,
) -> None:
    """Write the project's seeded sample customer messages (complaint, topic and intent labels)."""
    from training.text.synthetic import generate_messages

    df = generate_messages(rows, seed)
    _write_sample(df, out, f"messages ({df['complaint'].mean():.0%} complaints)")


def _write_sample(df, out: Path, what: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    console.print(f"wrote {len(df)} {what} to {out}")


@models_app.command("list")
def models_list() -> None:
    """Registered versions of every model family, with aliases and gate outcome."""
    from mlflow import MlflowClient

    settings = load_cli_settings()
    client = MlflowClient()
    table = Table("model", "version", "aliases", "gate", "run")
    for family in settings.models.values():
        versions = client.search_model_versions(f"name='{family.registered_name}'")
        if not versions:
            continue
        aliases: dict[str, list[str]] = {}
        for alias, version in client.get_registered_model(family.registered_name).aliases.items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in versions:
            held = ",".join(aliases.get(str(mv.version), []))
            table.add_row(mv.name, str(mv.version), held, mv.tags.get("gate.decision", ""), mv.run_id[:8])
    console.print(table)


@app.command("ensure-champion")
def ensure_champion(
    data: Annotated[Path, typer.Option(help="claims to train on when there is no champion")] = SAMPLE_CLAIMS,
) -> None:
    """Train, on the sample data, every served model family that has no champion yet."""
    from features.registry import alias_version

    settings = load_cli_settings()
    for family in settings.families():
        name = settings.model(family).registered_name
        current = alias_version(name, settings.aliases.champion)
        if current is not None:
            console.print(
                f"{name}@{settings.aliases.champion} is version {current.version}; nothing to train"
            )
            continue
        console.print(f"no {name}@{settings.aliases.champion}: training on the sample data")
        kind = settings.model(family).kind
        if kind == "claims":
            default = family == settings.families("claims")[0]
            table = settings.sample_data_of(family) or (data if default else None)
            if table is None:
                console.print(f"[red]models.{family}.sample_data is not set: nothing to train {name} on[/]")
                raise typer.Exit(2)
            train_fraud(data=table, spec=settings.spec_source(family))
        elif kind == "kb":
            train_kb()
        else:
            train_text(task=family, sample=True)


@app.command("serve")
def serve(
    port: Annotated[Optional[int], typer.Option(help="port (default from mlflow.yaml, 3000)")] = None,
    host: Annotated[Optional[str], typer.Option(help="bind address (default 127.0.0.1)")] = None,
) -> None:
    """Run the BentoML service (loads the registry's champion models at start-up)."""
    from features.claims.lines import claim_lines
    from serving.lifecycle.loader import ChampionUnavailable, check_champions

    settings = load_cli_settings()
    try:
        lines = {line.family: line.spec for line in claim_lines(settings)}
        check_champions(settings, lines)  # fail fast, before forking
    except ChampionUnavailable as exc:
        console.print(f"[red]cannot serve:[/] {exc}")
        raise typer.Exit(3) from exc
    open_stores(settings)
    check_keys(settings)
    cmd = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "serving.service:CCRisk",
        "--host",
        host or settings.serving.host,
        "--port",
        str(port or settings.serving.port),
    ]
    console.print(
        f"serving on http://{host or settings.serving.host}:{port or settings.serving.port} (API docs at /)"
    )
    env = os.environ.copy()
    sys.stdout.flush()
    sys.stderr.flush()
    # Become the server (same pid, signals reach it directly): the models the check above
    # loaded are released with this process image instead of being held by an idle parent
    # (~340 MB measured with every champion loaded).
    os.execve(sys.executable, cmd, env)


if __name__ == "__main__":
    app()
