"""Validated claims as columns: what scoring, the business rules and the prediction log read.

The batch endpoint decodes its JSON body straight into these columns (`features.claims.wire`);
every other caller builds them from validated `claim_model` objects (`from_models`). Either way
column i of `columns` holds the spec column's value for claim i, exactly as pydantic validated it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from features.claims.api import claim_columns

if TYPE_CHECKING:  # the service module imports this one, and BentoML's supervisor must not load Polars
    import polars as pl


@dataclass(frozen=True)
class ClaimBatch:
    """Claims in request order: their ids and one list per spec column (spec order)."""

    ids: list[str | None]
    columns: dict[str, list[Any]]

    @classmethod
    def from_models(cls, claims: Sequence[BaseModel]) -> ClaimBatch:
        """From validated `claim_model` objects (the single-claim endpoint, the pydantic way of the
        batch endpoint, tests); a ClaimBatch is returned as it is."""
        if isinstance(claims, ClaimBatch):
            return claims
        if not claims:
            return cls([], {})
        return cls([c.claim_id for c in claims], claim_columns(list(claims)))

    def __len__(self) -> int:
        return len(self.ids)

    def rows(self) -> list[dict[str, Any]]:
        """One dict of spec columns per claim (what `claim_inputs` gives for a model)."""
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]

    @cached_property
    def as_sent(self) -> pl.DataFrame | None:
        """The columns as one Polars frame, each value with its own type (as the prediction log
        keeps it), or None when a column mixes types (a category sent as text and as a number)."""
        import polars as pl

        try:
            return pl.DataFrame(self.columns, strict=True)
        except (TypeError, OverflowError, pl.exceptions.PolarsError):
            return None

    def frame(self, text_columns: Iterable[str] = ()) -> pl.DataFrame:
        """The frame the scorer reads: `text_columns` (open categories, which JSON may send as
        text or as numbers) as text. Built from `as_sent` when there is one (the prediction log
        then reuses it), else by converting each value."""
        import polars as pl

        text = [c for c in text_columns if c in self.columns]
        sent = self.as_sent
        if sent is None:
            return pl.DataFrame(self.columns, schema_overrides=dict.fromkeys(text, pl.Utf8), strict=False)
        return sent.with_columns(pl.col(c).cast(pl.Utf8) for c in text) if text else sent

    def without(self, names: Sequence[str]) -> ClaimBatch:
        """The claims without the columns `names` (free text and ids, kept out of the prediction log)."""
        gone = set(names) & set(self.columns)
        if not gone:
            return self
        return ClaimBatch(self.ids, {n: c for n, c in self.columns.items() if n not in gone})

    def take(self, positions: Sequence[int]) -> ClaimBatch:
        """The claims at `positions`, in that order (split mode scores two parts)."""
        return ClaimBatch(
            [self.ids[i] for i in positions],
            {name: [column[i] for i in positions] for name, column in self.columns.items()},
        )
