"""Claims scoring behind the HTTP endpoints: champion score + reasons + business rules."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl
from pydantic import BaseModel

from features.claims.api import BatchScore, ClaimScore, ModelRef, ReasonOut
from features.claims.rules import RuleBook, default_rules_path
from features.claims.spec import ClaimSpec
from features.settings import Settings
from serving.loader import LoadedModel, check_spec, load_champion

logger = logging.getLogger(__name__)


class TooManyClaims(ValueError):
    """A batch over the configured maximum."""


class FraudService:
    """Holds the champion scorer and the live rule book; turns claims into scored responses."""

    def __init__(self, settings: Settings, api_spec: ClaimSpec):
        self.settings = settings
        self.loaded: LoadedModel = load_champion(settings, "fraud")
        check_spec(self.loaded, api_spec)
        rules_file = settings.serving.rules_file
        path = Path(rules_file) if rules_file else default_rules_path(api_spec.name)
        self.rules = RuleBook(path, api_spec)
        self.max_batch = settings.serving.max_batch_claims
        self.reason_count = settings.serving.reason_count

    def model_ref(self) -> ModelRef:
        m = self.loaded
        return ModelRef(name=m.name, version=m.version, run_id=m.run_id, rules_version=self.rules.version)

    def score(self, claims: list[BaseModel], explain: str = "all") -> BatchScore:
        if not claims:
            raise ValueError("claims: send at least one claim")
        if len(claims) > self.max_batch:
            raise TooManyClaims(
                f"claims: {len(claims)} claims in one batch; the maximum is {self.max_batch}, split the batch"
            )
        self.rules.reload_if_changed()
        rows = [c.model_dump(exclude={"claim_id"}) for c in claims]
        frame = pl.DataFrame(
            rows, schema_overrides=_text_columns(self.loaded.python_model.spec), strict=False
        )
        scorer = self.loaded.python_model
        rules, rule_exprs = self.rules.snapshot()
        a = scorer.assess(frame, self.reason_count, explain, extra=rule_exprs)  # one Polars pass
        hits = self.rules.hits(rules, a.extra)
        ref = self.model_ref()
        # model_construct: these objects are built from our own model outputs, so pydantic's
        # validation would only cost time (0.5 s for a 10,000-claim batch).
        results = [
            ClaimScore.model_construct(
                claim_id=c.claim_id,
                fraud_probability=float(p),
                risk_band=b,
                reasons=[ReasonOut.model_construct(**r.__dict__) for r in rs],
                rules_hit=hs,
                model=ref,
            )
            for c, p, b, rs, hs in zip(claims, a.probability, a.bands, a.reasons, hits, strict=True)
        ]
        return BatchScore.model_construct(count=len(results), results=results)


def _text_columns(spec: ClaimSpec) -> dict[str, pl.DataType]:
    """Categorical columns as text (open vocabularies may mix ints and strings in JSON)."""
    return {c: pl.Utf8 for c, cs in spec.columns.items() if cs.is_categorical and cs.unknown == "missing"}
