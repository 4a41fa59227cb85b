"""`ccrisk score claims|messages`: batch scoring of a table of any size with the champions, on
this machine (`--engine local`) or on Spark (`--engine spark`), into Parquet."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Literal, Optional

import typer

from ccrisk.common import console, load_cli_settings, user_errors

score_app = typer.Typer(
    help="Batch scoring of tables with the champions, into Parquet.", no_args_is_help=True
)
Engine = Annotated[
    Literal["local", "spark"],
    typer.Option(help="local: this process, batch by batch; spark: mlflow.pyfunc.spark_udf on Spark"),
]
Master = Annotated[str, typer.Option(help="Spark master URL (--engine spark)")]
Input = Annotated[
    Path, typer.Option("--input", help="CSV (.csv, .csv.gz) or Parquet file, or a folder of them")
]
Output = Annotated[
    Path, typer.Option("--output", help="Parquet: a file (local) or a folder of parts (spark)")
]


@score_app.command("claims")
def score_claims(
    input: Input,
    output: Output,
    engine: Engine = "local",
    master: Master = "local[2]",
    line: Annotated[
        Optional[str], typer.Option(help="line of business: its family or spec name (default: the first)")
    ] = None,
) -> None:
    """Fraud probability, risk band (after the rules' escalations), top reasons, rules hit and model
    version for every claim (one column per claim field, as the line's claim spec names them; its
    identifier column becomes claim_id)."""
    from features.claims.lines import claim_lines
    from features.claims.rules import RuleBook

    settings = load_cli_settings()
    started = time.perf_counter()
    with user_errors():
        _exists(input)
        from ccrisk.batch.tables import champion

        lines = claim_lines(settings)
        chosen = [x for x in lines if line in (x.family, x.name)] if line else lines[:1]
        if not chosen:
            raise ValueError(f"--line {line}: not a line of mlflow.yaml; known: {[x.name for x in lines]}")
        model = champion(settings, chosen[0].family)
        spec = chosen[0].spec
        rules = RuleBook(chosen[0].rules, spec)
        shares = settings.model(chosen[0].family).capacity
        capacity = shares.model_dump_json(exclude_none=True) if shares else ""
        n = settings.serving.reason_count
        if engine == "spark":
            from ccrisk.batch import spark

            rows = spark.score_claims(spark.session(master), input, output, model, spec, rules, n, capacity)
        else:
            from ccrisk.batch import local

            rows = local.score_claims(input, output, model, spec, rules, n, capacity=capacity)
    _done(rows, "claims", model.name, model.version, output, started)


@score_app.command("messages")
def score_messages(
    input: Input, output: Output, engine: Engine = "local", master: Master = "local[2]"
) -> None:
    """Each text model's label and probability for every message (a `text` column; `message_id`
    kept when present); the text itself is not written."""
    settings = load_cli_settings()
    started = time.perf_counter()
    with user_errors():
        _exists(input)
        from ccrisk.batch.tables import champion

        models = [champion(settings, family) for family in settings.families("text")]
        if engine == "spark":
            from ccrisk.batch import spark

            rows = spark.score_messages(spark.session(master), input, output, models)
        else:
            from ccrisk.batch import local

            rows = local.score_messages(input, output, models)
    versions = ", ".join(f"{m.name} v{m.version}" for m in models)
    _done(rows, "messages", versions, "", output, started)


def _exists(path: Path) -> None:
    if not path.exists():
        raise FileNotFoundError(f"--input {path} does not exist")


def _done(rows: int, what: str, name: str, version: str, output: Path, started: float) -> None:
    seconds = time.perf_counter() - started
    by = f"{name} v{version}" if version else name
    console.print(f"[green]{rows:,} {what} scored[/] with {by} in {seconds:.1f}s -> {output}")
