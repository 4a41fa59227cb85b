"""The claims batch endpoint's input: BentoML's typed request (its OpenAPI schema is the one
BentoML derives from `claims: list[Claim]` and `explain`) with a faster way in for the body.

BentoML validates a JSON body with `model_validate_json` into one pydantic `Claim` per claim.
This input first gives the body to `features.claims.wire.BatchDecoder` (msgspec, straight to
columns); only a body that decoder refuses goes the pydantic way, which coerces what pydantic's
lax mode accepts and answers 400 for the rest, word for word as before. The endpoint therefore
receives either a `ClaimBatch` (fast way) or a list of `Claim` objects (pydantic way).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import bentoml
from pydantic import BaseModel, Field, create_model

from features.claims.api import Explain
from features.claims.wire import BatchDecoder


class _ColumnarInput(bentoml.IODescriptor):
    """Base of the generated input model; `wire_decoder` is set on the generated class."""

    wire_decoder: ClassVar[BatchDecoder]

    @classmethod
    async def from_http_request(cls, request: Any, serde: Any) -> bentoml.IODescriptor:
        if getattr(serde, "media_type", None) == "application/json":
            decoded = cls.wire_decoder.decode(await request.body())  # Starlette keeps the body for a retry
            if decoded is not None:
                batch, explain = decoded
                return cls.model_construct(claims=batch, explain=explain)
        return await super().from_http_request(request, serde)


def claims_batch_input(
    claim: type[BaseModel], decoder: BatchDecoder, max_claims: int
) -> type[bentoml.IODescriptor]:
    """The input spec for `@bentoml.api(input_spec=...)`: the fields BentoML would derive from
    `claims: Annotated[list[Claim], Field(min_length=1)], explain: Explain = "flagged"`, with
    `max_claims` declared as the list's maxItems (the service answers 413 over it)."""
    model = create_model(
        "Input",  # BentoML names the OpenAPI component <endpoint>__Input, as for a derived spec
        __base__=_ColumnarInput,
        claims=(  # type: ignore[valid-type]
            Annotated[list[claim], Field(min_length=1, json_schema_extra={"maxItems": max_claims})],
            Field(),
        ),
        explain=(Explain, "flagged"),
    )
    model.wire_decoder = decoder
    return model
