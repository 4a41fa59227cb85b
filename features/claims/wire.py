"""A claims batch request body decoded straight into `ClaimBatch` columns (msgspec).

pydantic validates a 10,000-claim body into 10,000 `Claim` objects, which the service then
turns into columns and frees: ~80-130 ms, against ~100 ms for the model itself. msgspec decodes
the same body into structs that are read back as columns in ~25 ms.

The structs mirror `features.claims.api.claim_model` field for field (types, category values,
bounds, the id's length, unknown keys refused), but msgspec is strict where pydantic is lax: it
refuses `30.0` or `"30"` for an integer, `true` for an open category, a JSON extension such as
`NaN`, an unknown top-level key. So a body it refuses is no error here: `decode` returns None and
the caller validates that body with pydantic, which coerces what its lax mode accepts and words
the 400. Whatever msgspec accepts, pydantic accepts too, with the same values and types (held by
tests/unit/test_claim_wire.py, and on the real claims by tests/data/test_claim_wire_real.py).
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Any, Literal

import msgspec
from msgspec.structs import astuple

from features.claims.api import CLAIM_ID_MAX_LENGTH, EXPLAIN_MODES, field_type, text_codes
from features.claims.batch import ClaimBatch
from features.claims.spec import ClaimSpec, ColumnSpec

logger = logging.getLogger(__name__)


def _column_type(cs: ColumnSpec) -> Any:
    """The request model's type of one spec column with its bounds as msgspec constraints."""
    kind = field_type(cs)
    bounds = {k: v for k, v in (("ge", cs.min), ("le", cs.max)) if v is not None}
    if cs.is_categorical or not bounds:
        return kind
    if kind is int:  # msgspec wants integer bounds; for integer values these are the same
        bounds = {k: math.ceil(v) if k == "ge" else math.floor(v) for k, v in bounds.items()}
    return Annotated[kind, msgspec.Meta(**bounds)]


def claim_struct(spec: ClaimSpec) -> type[msgspec.Struct]:
    """One claim: `claim_id` first, then the spec columns in spec order (the columns' order)."""
    fields: list[tuple] = [
        ("claim_id", Annotated[str, msgspec.Meta(max_length=CLAIM_ID_MAX_LENGTH)] | None, None)
    ]
    rename = {}
    for i, (name, cs) in enumerate(spec.columns.items()):
        field, kind = f"c{i}", _column_type(cs)  # struct fields must be identifiers; JSON keys need not
        rename[field] = name
        fields.append((field, kind) if cs.feature else (field, kind | None, None))
    # gc=False: the structs hold only scalars, so the collector need not track 10,000 of them.
    return msgspec.defstruct(
        "WireClaim", fields, kw_only=True, forbid_unknown_fields=True, gc=False, rename=rename
    )


class BatchDecoder:
    """`{"claims": [...], "explain": ...}` bytes -> (ClaimBatch, explain), or None for pydantic."""

    def __init__(self, spec: ClaimSpec):
        # Dates are checked against their format, and '?' beside numbers is a union msgspec does not
        # bound: such specs take the pydantic way.
        self._decoder = None
        if any(cs.is_temporal or text_codes(cs) for cs in spec.columns.values()):
            return
        claim = claim_struct(spec)
        body = msgspec.defstruct(
            "WireBatch",
            [
                ("claims", Annotated[list[claim], msgspec.Meta(min_length=1)]),
                ("explain", Literal[EXPLAIN_MODES], "flagged"),
            ],
            kw_only=True,
            forbid_unknown_fields=True,
        )
        self._decoder = msgspec.json.Decoder(body)
        self._names = list(spec.columns)

    def decode(self, body: bytes) -> tuple[ClaimBatch, str] | None:
        if self._decoder is None:
            return None
        try:
            request = self._decoder.decode(body)
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            logger.debug("claims body left to pydantic: %s", exc)
            return None
        ids, *columns = zip(*map(astuple, request.claims), strict=True)
        batch = ClaimBatch(list(ids), {n: list(c) for n, c in zip(self._names, columns, strict=True)})
        return batch, request.explain
