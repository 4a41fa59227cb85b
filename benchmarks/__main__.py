"""`python -m benchmarks` (what `make bench` runs): quality on the real data and serving speed
side by side, JSON under benchmarks/results/. Not part of the installed package."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.console import Console

app = typer.Typer(add_completion=False)


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="short smoke run (2 s per point, fewer sizes)")] = False,
    only: Annotated[
        Optional[list[str]],
        typer.Option(
            help="measure only this family (fraud, text, kb, batch or screens; repeat for more): the others"
            " get sample models, the JSON is bench-FAMILY.json and the generated docs are left as they are"
        ),
    ] = None,
) -> None:
    """Quality on the real data and serving speed side by side; JSON under benchmarks/results/."""
    import logging

    from benchmarks.run import FAMILIES, run_bench

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console()
    try:
        out = run_bench(quick, console, only or FAMILIES)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--only") from exc
    console.print(f"wrote {out}")


if __name__ == "__main__":
    app()
