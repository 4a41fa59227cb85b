"""Every real development claim (when ../shared/datasets is here) decodes through the batch
endpoint's msgspec path (features/claims/wire.py) to the columns pydantic validates."""

import json

import polars as pl

from features.claims.wire import BatchDecoder
from tests.conftest import REAL_CLAIMS, require_real
from tests.unit.test_claim_wire import assert_same, by_pydantic


def test_real_claims_decode_to_the_columns_pydantic_gives(spec):
    frame = pl.read_csv(require_real(REAL_CLAIMS))
    rows = frame.select(list(spec.columns)).to_dicts()
    raw = json.dumps({"claims": rows, "explain": "none"}).encode()
    decoded = BatchDecoder(spec).decode(raw)
    assert decoded is not None and len(decoded[0]) == frame.height
    assert_same(decoded, by_pydantic(spec, raw))
