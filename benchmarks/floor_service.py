"""The framework's floor for one claim: `bentoml serve benchmarks.floor_service:Floor`.

Same request type (the claim model built from the configured spec), same response type, the same
number of worker processes and the same BentoML options (serving/platform/runtime.py) as the ccrisk
service, but no model, rules, auth, audit or prediction log: every request gets one constant
answer. What this endpoint serves at a given concurrency is what BentoML, pydantic and the
loopback client alone allow on this machine, the limit any model behind the framework stays
under (as raw `Booster.predict` is for the batch path).

Like serving/service.py, this module reads the settings and the spec when imported: BentoML needs
the request type when the class is defined.
"""

from __future__ import annotations

import bentoml

from features.claims.api import ClaimScore, ModelRef, ReasonOut, claim_model
from features.claims.spec import load_spec
from features.settings import load_settings, prepare_environment
from serving.platform.runtime import service_options
from serving.platform.timeout import install_lean_timeout

_SETTINGS = load_settings()
prepare_environment(_SETTINGS)
Claim = claim_model(load_spec(_SETTINGS.claim_spec_source))
_REASON = ReasonOut(feature="Fault", label="fault", value="Policy Holder", contribution=0.5, text="constant")
_ANSWER = ClaimScore(
    claim_id=None,
    fraud_probability=0.05,
    risk_band="low",
    model_risk_band="low",
    reasons=[_REASON] * 3,
    rules_hit=[],
    model=ModelRef(name="floor", version="0", run_id="none", rules_version="none"),
    variant="champion",
)


@bentoml.service(name="floor", **service_options(_SETTINGS))
class Floor:
    """A constant answer behind the same request validation as /v1/claims/score."""

    def __init__(self) -> None:
        install_lean_timeout()  # as ccrisk's workers do

    @bentoml.api(route="/v1/claims/score")
    async def claims_score(self, claim: Claim) -> ClaimScore:  # type: ignore[valid-type]
        return _ANSWER.model_copy(update={"claim_id": claim.claim_id})  # on the event loop, as ccrisk
