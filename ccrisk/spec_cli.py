"""`ccrisk spec draft`: a first claim spec for a new claims table, written for a person to review."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from ccrisk.common import console, user_errors

spec_app = typer.Typer(help="Claim specs: describe a claims table so it can be trained and served.",
                       no_args_is_help=True)  # fmt: skip
HEADER = """# Drafted by `ccrisk spec draft` from {data} ({rows} rows). Review before training:
# labels and reasons are the business words in every explanation; check types, levels (ordinal
# columns need their natural order), missing codes and `positive` (the target values meaning fraud).
# Rules: {rules} beside this file is read when it exists (or pass --rules).
"""


@spec_app.command("draft")
def draft(
    data: Annotated[Path, typer.Option(help="the claims table: CSV (.csv, .csv.gz) or Parquet")],
    target: Annotated[str, typer.Option(help="the column saying whether a claim was fraud")],
    out: Annotated[
        Optional[Path], typer.Option(help="spec YAML to write (default: <data name>.yaml)")
    ] = None,
    name: Annotated[Optional[str], typer.Option(help="the spec's name (default: from the file name)")] = None,
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Guess a claim spec from a table: types, levels, missing codes, dates, ids and free text."""
    import yaml

    from features.claims.spec import RULES_SUFFIX
    from training.data import read_table
    from training.fraud.draft import draft_spec

    stem = data.name.split(".")[0]
    out = out or data.with_name(stem + ".yaml")
    with user_errors():
        if out.exists() and not force:
            raise FileExistsError(f"{out} exists; pass --force to overwrite it or --out for another file")
        frame = read_table(data, as_text=True)
        spec = draft_spec(frame, target, name or stem)
        body = yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True)
        out.write_text(HEADER.format(data=data.name, rows=frame.height, rules=out.stem + RULES_SUFFIX) + body)
    kinds = [c["type"] for c in spec["columns"].values()]
    summary = ", ".join(f"{kinds.count(k)} {k}" for k in sorted(set(kinds)))
    console.print(f"wrote {out}: {len(kinds)} columns ({summary}); identifier {spec.get('identifier')}")
