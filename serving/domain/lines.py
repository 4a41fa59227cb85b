"""Each line of business's claims endpoints: `/v1/claims/<spec>/score` and `/score_batch`, typed by
that line's spec, added to the service class before BentoML reads it (serving/service.py).

The endpoints are generated because their request types are: one `Claim` model per spec. They
answer exactly as `/v1/claims/score` and `/score_batch` do, with that line's champion, rules and bands.
"""

from __future__ import annotations

from typing import Any

import bentoml
from pydantic import BaseModel
from starlette.responses import Response

from features.claims.api import BatchScore, ClaimScore, Explain, claim_model
from features.claims.batch import ClaimBatch
from features.claims.lines import Line
from features.claims.wire import BatchDecoder
from features.settings import Settings
from serving.domain.batch_input import claims_batch_input


def line_endpoints(line: Line, settings: Settings, claim: type[BaseModel] | None = None) -> dict[str, Any]:
    """{method name: BentoML API} for the line; `claim`: its request model when one exists (the
    default line's `Claim`), else one is built, named after the line for the OpenAPI document."""
    claim = claim or claim_model(line.spec, name=f"Claim_{line.slug}")
    batch_input = claims_batch_input(claim, BatchDecoder(line.spec), settings.serving.max_batch_claims)
    name = line.name

    def score(self, claim) -> ClaimScore:
        return self._score([claim], line=name).results[0]

    def score_batch(self, claims: ClaimBatch | list, explain: Explain = "flagged") -> BatchScore:
        return Response(self._score(claims, explain, line=name).to_json(), media_type="application/json")

    score.__annotations__ = {"claim": claim, "return": ClaimScore}
    score.__doc__ = f"Score one {name} claim with that line's champion, rules and bands."
    score_batch.__annotations__ = {"claims": ClaimBatch | list, "explain": Explain, "return": BatchScore}
    score_batch.__doc__ = (
        f"Score a batch of {name} claims (up to serving.max_batch_claims), in request order."
    )
    for fn, verb in ((score, "score"), (score_batch, "score_batch")):
        fn.__name__ = fn.__qualname__ = f"claims_{line.slug}_{verb}"
    return {
        score.__name__: bentoml.api(route=f"/v1/claims/{name}/score")(score),
        score_batch.__name__: bentoml.api(route=f"/v1/claims/{name}/score_batch", input_spec=batch_input)(
            score_batch
        ),
    }
