"""`ccrisk bento build`, `ccrisk bento container`: the deployable image of the service."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Optional

import typer

from ccrisk.common import console, load_cli_settings, user_errors

bento_app = typer.Typer(help="A deployable Bento of the service and its champions.", no_args_is_help=True)
REPO = Path(__file__).resolve().parents[1]
BASE_IMAGE = "python:3.11-slim"  # BentoML's base for python_version 3.11


@bento_app.command("build")
def bento_build(
    version: Annotated[Optional[str], typer.Option(help="the Bento's version (default: generated)")] = None,
) -> None:
    """Build the Bento `ccrisk`: the service, the registry's champions, the claim spec, the rules
    and the settings; it serves with no MLflow store (`bentoml serve ccrisk:latest`)."""
    from ccrisk.ops.bento import build

    settings = load_cli_settings()
    with user_errors():
        bento = build(settings, REPO, version)
    console.print(f"[green]built {bento.tag}[/]: `bentoml serve {bento.tag}` serves it from any folder")
    print(bento.tag)


def docker_problem() -> str | None:
    """Why `bentoml containerize` cannot run here, or None."""
    if shutil.which("docker") is None:
        return "no docker command on this machine"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return "no Docker daemon answers (`docker info` fails): start one, or build where one runs"
    image = subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True, timeout=30)
    pulled = (
        image.returncode == 0 or subprocess.run(["docker", "pull", BASE_IMAGE], timeout=600).returncode == 0
    )
    return (
        None if pulled else f"the base image {BASE_IMAGE} is not here and cannot be pulled: `docker load` it"
    )


@bento_app.command("container")
def bento_container(
    tag: Annotated[str, typer.Option(help="the Bento to containerize")] = "ccrisk:latest",
) -> None:
    """`bentoml containerize` the Bento where a Docker daemon and the base image are available;
    where they are not, say so and exit 3 (the Bento itself serves with `bentoml serve`)."""
    problem = docker_problem()
    if problem:
        console.print(f"[red]cannot build a container image:[/] {problem}. The Bento {tag} still serves "
                      f"with `bentoml serve {tag}`.")  # fmt: skip
        raise typer.Exit(3)
    load_cli_settings()
    raise typer.Exit(subprocess.run(["bentoml", "containerize", tag, "-t", tag]).returncode)
