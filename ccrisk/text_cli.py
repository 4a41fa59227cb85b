"""Contact-text training commands: `train text`, `train text-finetune-trial`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ccrisk.common import Overrides, console, load_cli_settings, print_decision, user_errors


def train_text(
    task: Annotated[str, typer.Option(help="complaint | complaint_topic | intent")],
    data: Annotated[
        Optional[Path], typer.Option(help="CSV in the task's format (default: the config's data.path)")
    ] = None,
    sample: Annotated[
        bool, typer.Option(help="train on the project's sample messages (data_samples/)")
    ] = False,
    config: Annotated[Optional[Path], typer.Option(help="pipeline config YAML")] = None,
    set_: Overrides = None,
) -> None:
    """Train a contact-text model (cross-validated), log it to MLflow, register it, apply the gate."""
    from training.text.config import load_text_config
    from training.text.pipeline import train_text as run

    settings = load_cli_settings()
    with user_errors():
        cfg = load_text_config(task, config, list(set_ or []), sample=sample)
        result = run(data, cfg, settings)
    table = Table(title=f"{settings.model(task).registered_name} v{result.version} (run {result.run_id[:8]})")
    table.add_column("cross-validated metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(key, f"{value:.4f}")
    console.print(table)
    print_decision(result)


def text_finetune_trial(
    task: Annotated[str, typer.Option(help="complaint | complaint_topic | intent")],
    data: Annotated[Optional[Path], typer.Option(help="CSV in the task's format")] = None,
    sample: Annotated[bool, typer.Option(help="use the project's sample messages")] = False,
    folds: Annotated[int, typer.Option(min=1, help="CV folds to run (each fine-tunes once)")] = 1,
    epochs: Annotated[int, typer.Option(min=1, help="fine-tuning epochs")] = 3,
    lr: Annotated[float, typer.Option(help="encoder learning rate")] = 5e-5,
    blend: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="weight of the tuned softmax in the `blend` variant")
    ] = 0.25,
    device: Annotated[str, typer.Option(help="auto (a CUDA GPU when torch sees one) | cpu | cuda")] = "auto",
    set_: Overrides = None,
) -> None:
    """Measure fine-tuning the encoder against the frozen one on the same CV folds (an MLflow
    run; registers nothing). The topic task needs a GPU in practice (hours a fold on 2 cores)."""
    from training.text.config import load_text_config
    from training.text.finetune import run_trial

    settings = load_cli_settings()
    with user_errors():
        cfg = load_text_config(task, None, list(set_ or []), sample=sample)
        results = run_trial(data, cfg, settings, folds, epochs, lr, blend=blend, device=device)
    table = Table("fold metric", "value")
    for key, value in results.items():
        table.add_row(key, f"{value:.4f}")
    console.print(table)
