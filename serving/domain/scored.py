"""A scored batch of claims kept as columns: what `BatchScore` holds, without one pydantic
object per claim.

A 10,000-claim batch built 10,000 `ClaimScore` objects (`model_construct`, ~12 us each) and
BentoML then dumped them back to JSON; the batch endpoint now encodes these columns straight to
the same bytes (`to_json`, held to `BatchScore.model_dump_json` by tests/unit/test_scored.py).
`results` still builds the pydantic objects, for the single-claim endpoint and the shadow sink.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

from pydantic_core import to_json

from features.claims.api import BatchScore, ClaimScore, ModelRef, ReasonOut, RuleHit

if TYPE_CHECKING:  # the service module imports this one, and must not load LightGBM or pandas
    from features.claims.scorer import Reason


@dataclass
class ScoredClaims:
    """Row i of every column answers claim i of the request."""

    claim_ids: list[str | None]
    probability: list[float]
    bands: list[str]
    reasons: list[list[Reason]]
    hits: list[list[RuleHit]]
    models: list[ModelRef]
    variants: list[str]
    model_bands: list[str]  # before the rules' escalations (`bands` is after them)
    raised_by: list[str | None]
    review: list[bool]

    @property
    def count(self) -> int:
        return len(self.claim_ids)

    @property
    def results(self) -> list[ClaimScore]:
        return [
            ClaimScore.model_construct(
                claim_id=c,
                fraud_probability=p,
                risk_band=b,
                model_risk_band=mb,
                band_raised_by=rb,
                manual_review=mr,
                reasons=[ReasonOut.model_construct(**r.__dict__) for r in rs],
                rules_hit=hs,
                model=m,
                variant=v,
            )
            for c, p, b, rs, hs, m, v, mb, rb, mr in self._rows()
        ]

    def to_model(self) -> BatchScore:
        return BatchScore.model_construct(count=self.count, results=self.results)

    def to_json(self) -> bytes:
        """The bytes `self.to_model().model_dump_json()` gives, at a fraction of the cost."""
        # Every row of a variant shares one ModelRef, every firing of a rule one RuleHit: dump each once.
        models = {id(m): m for m in self.models}
        models = {key: m.model_dump() for key, m in models.items()}
        hits = {id(h): h for row in self.hits for h in row}
        hits = {key: h.model_dump() for key, h in hits.items()}
        results = [
            {
                "claim_id": c,
                "fraud_probability": p,
                "risk_band": b,
                "model_risk_band": mb,
                "band_raised_by": rb,
                "manual_review": mr,
                "reasons": [r.__dict__ for r in rs],  # Reason's fields are ReasonOut's, in order
                "rules_hit": [hits[id(h)] for h in hs],
                "model": models[id(m)],
                "variant": v,
            }
            for c, p, b, rs, hs, m, v, mb, rb, mr in self._rows()
        ]
        return to_json({"count": len(results), "results": results})

    def _rows(self):
        return zip(
            self.claim_ids,
            self.probability,
            self.bands,
            self.reasons,
            self.hits,
            self.models,
            self.variants,
            self.model_bands,
            self.raised_by,
            self.review,
            strict=True,
        )


def scatter(n: int, parts: list[tuple[list[int], ScoredClaims]]) -> ScoredClaims:
    """One batch of `n` rows from parts scored separately (split mode: champion and challenger
    rows interleave); `parts` pairs each part with the request positions of its rows."""
    if len(parts) == 1:  # every row from one variant: its positions are 0..n-1 in order
        return parts[0][1]
    columns: dict[str, list] = {f.name: [None] * n for f in fields(ScoredClaims)}
    for positions, part in parts:
        for name, column in columns.items():
            for i, value in zip(positions, getattr(part, name), strict=True):
                column[i] = value
    return ScoredClaims(**columns)
