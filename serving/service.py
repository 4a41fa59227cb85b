"""The ccrisk HTTP service (BentoML): `bentoml serve serving.service:CCRisk`.

Endpoints are typed with pydantic models; the claim request model is built from the claim spec
named in mlflow.yaml (`serving.claim_spec`), which is why this entry module reads the settings
and the spec when it is imported: BentoML needs the types when the class is defined.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Annotated, Literal

import bentoml
from bentoml.exceptions import BentoMLException, InvalidArgument
from pydantic import Field

from features.claims.api import BatchScore, ClaimScore, claim_model
from features.claims.spec import load_spec
from features.settings import load_settings, prepare_environment
from serving.fraud import FraudService, TooManyClaims

logger = logging.getLogger(__name__)

_SETTINGS = load_settings()
prepare_environment(_SETTINGS)
_SPEC = load_spec(_SETTINGS.serving.claim_spec)
Claim = claim_model(_SPEC)


class PayloadTooLarge(BentoMLException):
    """413: a batch over serving.max_batch_claims."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


@bentoml.service(name="ccrisk", traffic={"timeout": 60}, workers=_SETTINGS.serving.workers)
class CCRisk:
    """Claims fraud scoring (more model families join as they are built)."""

    def __init__(self) -> None:
        self.fraud = FraudService(_SETTINGS, _SPEC)

    @bentoml.api(route="/v1/claims/score")
    def claims_score(self, claim: Claim) -> ClaimScore:  # type: ignore[valid-type]
        """Score one claim: calibrated fraud probability, risk band, top reasons, rules hit."""
        return self._score([claim]).results[0]

    @bentoml.api(route="/v1/claims/score_batch")
    def claims_score_batch(
        self,
        claims: Annotated[list[Claim], Field(min_length=1)],  # type: ignore[valid-type]
        explain: Annotated[
            Literal["all", "flagged", "none"],
            Field(description="which claims get reasons: all, flagged (medium/high band) or none"),
        ] = "flagged",
    ) -> BatchScore:
        """Score a batch of claims (up to serving.max_batch_claims), in request order.

        Reasons (TreeSHAP) cost far more than scores, so by default only flagged claims
        (medium or high band) get them; send "explain": "all" to explain every claim."""
        return self._score(claims, explain)

    @bentoml.api(route="/v1/admin/reload_rules")
    def reload_rules(self) -> dict[str, str]:
        """Reload the business-rules file now (it is also reloaded when it changes)."""
        self.fraud.rules.reload()
        return {"rules_version": self.fraud.rules.version}

    def _score(self, claims: list, explain: str = "all") -> BatchScore:
        try:
            return self.fraud.score(claims, explain)
        except TooManyClaims as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc
