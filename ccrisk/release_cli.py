"""`ccrisk compare`, `ccrisk promote`, `ccrisk rollback`, `ccrisk retrain`: champion/challenger
and the learning loop from the CLI."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from ccrisk.common import Overrides, console, load_cli_settings, user_errors
from ccrisk.ops_cli import parse_window


def _family(settings, model: str) -> str:
    for family, m in settings.models.items():
        if model in (family, m.registered_name):
            return family
    known = [m.registered_name for m in settings.models.values()]
    raise ValueError(f"model: {model!r} is not in mlflow.yaml; known: {known}")


def compare(
    model: Annotated[str, typer.Option(help="registered name or family")] = "ccrisk-fraud",
    window: Annotated[Optional[str], typer.Option(help="only traffic this recent, e.g. 7d")] = None,
) -> None:
    """Champion vs challenger on logged traffic: agreement, alert rates, precision where outcomes exist."""
    from ccrisk.ops.release import compare as run
    from features.ops.outcomes import ClaimFeedbackStore, PredictionLog

    settings = load_cli_settings()
    with user_errors():
        name = settings.model(_family(settings, model)).registered_name
        since = time.time() - parse_window(window) if window else None
        preds = PredictionLog(settings.stores_url).frame(name, since, with_inputs=False)
        if preds.empty:
            raise ValueError(
                f"no logged traffic for {name}; serve it with traffic.mode shadow or split first"
            )
        result = run(preds, ClaimFeedbackStore(settings.stores_url).latest())
    console.print_json(json.dumps(result))


def promote(
    model: Annotated[str, typer.Option(help="registered name or family")] = "ccrisk-fraud",
    force: Annotated[
        bool, typer.Option(help="promote even if the gate says no (recorded as forced)")
    ] = False,
) -> None:
    """Challenger -> champion through the gate; recorded in the audit trail; servers follow."""
    from ccrisk.ops.release import promote as run

    settings = load_cli_settings()
    with user_errors():
        move = run(settings, _family(settings, model), force)
    console.print(
        f"[green]{move.model}@champion: v{move.from_version} -> v{move.to_version}[/] ({move.reason})"
    )


def rollback(model: Annotated[str, typer.Option(help="registered name or family")] = "ccrisk-fraud") -> None:
    """Champion -> the version it replaced; recorded in the audit trail; servers follow."""
    from ccrisk.ops.release import rollback as run

    settings = load_cli_settings()
    with user_errors():
        move = run(settings, _family(settings, model))
    console.print(
        f"[yellow]{move.model}@champion: v{move.from_version} -> v{move.to_version}[/] ({move.reason})"
    )


def retrain(
    family: Annotated[
        str, typer.Argument(help="a family of mlflow.yaml (fraud, fraud_health, complaint, kb, ...)")
    ],
    data: Annotated[
        Optional[Path], typer.Option(help="the table (claims, messages) or KB to train on")
    ] = None,
    trials: Annotated[
        Optional[int], typer.Option(help="claims: Optuna trials (MLflow child runs, pruned)")
    ] = None,
    shadow: Annotated[
        Optional[str],
        typer.Option(help="wait this long (30m, 2h) while shadow traffic scores the challenger"),
    ] = None,
    sample: Annotated[bool, typer.Option(help="text: train on the project's sample messages")] = False,
    set_: Overrides = None,
) -> None:
    """Train with feedback -> challenger -> (shadow) -> compare -> promote when the gate passes;
    every step is in the audit trail. Exit 1 when the challenger was kept, not promoted."""
    from ccrisk.ops.retrain import retrain as run

    settings = load_cli_settings()
    with user_errors():
        family = _family(settings, family)
        shadow_s = parse_window(shadow) if shadow else 0.0
        done = run(settings, family, data, trials, shadow_s, list(set_ or []), sample)
    if done.comparison:
        console.print_json(json.dumps(done.comparison))
    colour = "green" if done.promoted else "yellow"
    where = "champion" if done.promoted else "challenger (kept)"
    console.print(f"[{colour}]{done.model} v{done.version} -> @{where}[/]: {done.reason}")
    console.print("steps: " + " -> ".join(done.steps))
    if not done.promoted:
        raise typer.Exit(1)
