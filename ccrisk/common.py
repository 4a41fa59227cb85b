"""What every `ccrisk` command shares: the console, settings loading and error handling."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Annotated, Optional

import typer
from rich.console import Console

console = Console(soft_wrap=True)
# The `--set a.b=value` option of every command that runs a config-driven pipeline.
Overrides = Annotated[Optional[list[str]], typer.Option("--set", help="override a config key: a.b=value")]


def load_cli_settings():
    """Settings from mlflow.yaml, with the environment (offline switches, URIs) prepared."""
    from features.settings import load_settings, prepare_environment

    settings = load_settings()
    prepare_environment(settings)
    return settings


def champion_version(settings, family: str):
    """The registry's champion version of a family (an MlflowClient ModelVersion); a ValueError
    that says how to get one when there is none."""
    from features.registry import alias_version

    name = settings.model(family).registered_name
    mv = alias_version(name, settings.aliases.champion)
    if mv is None:
        raise ValueError(
            f"{name} has no @{settings.aliases.champion} in {settings.resolved_tracking_uri()}: train one "
            f"first (`ccrisk ensure-champion` trains every missing one on the sample data), or point "
            f"MLFLOW_TRACKING_URI at the store that holds it"
        )
    return mv


@contextmanager
def user_errors():
    """Input problems (bad data, spec or config) end with their message, not a traceback."""
    from pydantic import ValidationError

    try:
        yield
    except (FileNotFoundError, ValueError, KeyError, PermissionError, ValidationError) as exc:
        console.print(f"[red]error:[/] {exc}")
        raise typer.Exit(2) from exc


def print_decision(result) -> None:
    colour = "green" if result.decision.alias == "champion" else "yellow"
    console.print(f"[{colour}]@{result.decision.alias}[/]: {result.decision.reason}")
    console.print(f"trained in {result.seconds:.1f}s")
