"""The batch body decoder (features/claims/wire.py) answers as pydantic does, or not at all.

Whatever msgspec accepts must be what pydantic accepts, with the same values and types in the
same columns; whatever it refuses goes to pydantic (decode returns None), which then coerces or
words the 400. A wrong acceptance would score a claim the API should refuse."""

from __future__ import annotations

import json
import random
from typing import Annotated, Literal

import pytest
from pydantic import Field, ValidationError, create_model

from features.claims.api import Explain, claim_model
from features.claims.batch import ClaimBatch
from features.claims.spec import ClaimSpec
from features.claims.wire import BatchDecoder
from tests.unit.test_rowpath import generated_claims


def request_model(spec):
    """The endpoint's pydantic request (serving/domain/batch_input.py builds the same fields)."""
    claim = claim_model(spec)
    return create_model(
        "Input", claims=(Annotated[list[claim], Field(min_length=1)], ...), explain=(Explain, "flagged")
    )


def by_pydantic(spec, body: bytes) -> tuple[ClaimBatch, str] | None:
    try:
        request = request_model(spec).model_validate_json(body)
    except ValidationError:
        return None
    return ClaimBatch.from_models(request.claims), request.explain


def assert_same(decoded: tuple[ClaimBatch, str], expected: tuple[ClaimBatch, str]) -> None:
    (batch, explain), (want, want_explain) = decoded, expected
    assert explain == want_explain
    assert batch.ids == want.ids
    assert list(batch.columns) == list(want.columns)
    for name, column in want.columns.items():
        got = batch.columns[name]
        assert got == column, name
        assert [type(v) for v in got] == [type(v) for v in column], name  # 30 is not 30.0


def body(claims: list[dict], **top) -> bytes:
    return json.dumps({"claims": claims, **top}).encode()


def test_generated_claims_decode_to_the_columns_pydantic_gives(spec):
    claims = [{"claim_id": f"C-{i}", **c} for i, c in enumerate(generated_claims(spec, 300, seed=11))]
    claims[5].pop("claim_id")  # optional
    claims[6]["claim_id"] = None
    for explain in ({}, {"explain": "none"}, {"explain": "all"}):
        raw = body(claims, **explain)
        decoded = BatchDecoder(spec).decode(raw)
        assert decoded is not None
        assert_same(decoded, by_pydantic(spec, raw))


NUMBERS = ClaimSpec.model_validate(
    {
        "name": "numbers",
        "version": "1",
        "columns": {
            "Amount": {"type": "number", "label": "amount", "min": 0, "max": 1e6},
            "Ratio": {"type": "number", "label": "ratio"},
            "Count": {"type": "integer", "label": "count", "min": 1, "max": 9},
            "Level": {"type": "ordinal", "label": "level", "levels": [1, 2, 3], "missing_codes": ["0"]},
            "Kind": {"type": "nominal", "label": "kind", "levels": ["a", "b"], "unknown": "missing"},
            "Note": {"type": "nominal", "label": "note", "levels": ["x"], "feature": False},
            "Weird key": {"type": "integer", "label": "a key that is no identifier"},
        },
    }
)
GOOD = {"Amount": 10.5, "Ratio": -3, "Count": 1, "Level": 2, "Kind": "zz", "Weird key": 4}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"Ratio": 7},  # an int for a number: a float, as pydantic gives
        {"Ratio": 1e300, "Amount": 0},
        {"Level": "0"},  # a missing code (text) beside integer levels
        {"Kind": 12},  # an open category sent as a number stays a number
        {"Note": "x"},
        {"Note": None},
        {"Count": 9},
        {"claim_id": "é" * 128},
    ],
)
def test_a_value_msgspec_accepts_is_the_value_pydantic_gives(changes):
    raw = body([{**GOOD, **changes}, GOOD])
    decoded = BatchDecoder(NUMBERS).decode(raw)
    assert decoded is not None
    assert_same(decoded, by_pydantic(NUMBERS, raw))


@pytest.mark.parametrize(
    "changes",
    [
        {"Count": 3.0},  # pydantic's lax mode takes 3.0 for an integer: pydantic answers
        {"Count": "3"},
        {"Count": 3e0},
        {"Kind": True},
        {"Ratio": "1.5"},
        {"Count": 10},  # out of bounds: pydantic words the 400
        {"Count": 0},
        {"Level": 4},
        {"Level": "2"},
        {"Amount": -1},
        {"Unknown": 1},
        {"claim_id": "é" * 129},
    ],
)
def test_what_msgspec_refuses_is_left_to_pydantic(changes):
    decoder = BatchDecoder(NUMBERS)
    raw = body([{**GOOD, **changes}])
    assert decoder.decode(raw) is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{}",
        b'{"claims": []}',
        b'{"claims": [], "explain": "none"}',
        b'{"claims": [{"Amount": NaN}]}',
        b'{"claims": [], "explain": "some"}',
        b'{"claims": [], "other": 1}',
        b"\xef\xbb\xbf{}",
        b'{"claims": [{}]} trailing',
        b'{"claims": [{"claim_id": "\\ud800"}]}',  # a lone surrogate: not text pydantic accepts
        b"[1, 2]",
    ],
)
def test_bodies_msgspec_refuses_go_to_pydantic(raw):
    assert BatchDecoder(NUMBERS).decode(raw) is None


def test_mutated_claims_are_accepted_only_as_pydantic_accepts_them(spec):
    """Random edits of valid claims (numbers as text or floats, booleans, nulls, out-of-range
    and unknown values, extra and missing keys): each decode is None or equals pydantic's."""
    rng = random.Random(5)
    names = list(spec.columns)
    variants = [None, True, 0, -1, 3, 3.0, 2.5, 1e9, "3", "", "Honda", "Jan", "none", "0", [], {}]
    decoder, accepted, refused = BatchDecoder(spec), 0, 0
    others = generated_claims(spec, 300, seed=13)
    for claim, other in zip(generated_claims(spec, 300, seed=12), others, strict=True):
        edited = dict(claim)
        for _ in range(rng.randint(1, 2)):
            name = rng.choice([*names, "extra_field"])
            edited[name] = rng.choice(variants) if rng.random() < 0.5 else other.get(name)
        if rng.random() < 0.1:
            edited.pop(rng.choice(names))
        raw = body([edited])
        decoded = decoder.decode(raw)
        if decoded is None:
            refused += 1
            continue
        accepted += 1
        expected = by_pydantic(spec, raw)
        assert expected is not None, edited  # msgspec must never accept what pydantic refuses
        assert_same(decoded, expected)
    assert accepted > 50 and refused > 50, (accepted, refused)  # both ways were exercised


def test_claim_batch_rows_take_and_frames():
    model = claim_model(NUMBERS)
    claims = [model.model_validate({**GOOD, "Kind": k, "claim_id": f"C{i}"}) for i, k in enumerate("ab")]
    batch = ClaimBatch.from_models(claims)
    assert batch.rows() == [{k: v for k, v in c.__dict__.items() if k != "claim_id"} for c in claims]
    assert batch.take([1]).ids == ["C1"] and batch.take([1]).rows() == batch.rows()[1:]
    assert len(ClaimBatch.from_models([])) == 0
    assert ClaimBatch.from_models(batch) is batch
    assert batch.frame(["Kind"]).get_column("Kind").to_list() == ["a", "b"]


@pytest.mark.parametrize(
    "kinds",
    [["a", "b"], [12, 13], [None, None], ["a", 7], [7, None], [True, "a"]],
)
def test_the_scoring_frame_is_the_frame_built_with_text_overrides(kinds):
    """`frame` casts the open categories of `as_sent`; that must equal building the frame with
    those columns as text from the values (how it was built before), for every type mix."""
    import polars as pl
    from polars.testing import assert_frame_equal

    batch = ClaimBatch([None] * len(kinds), {"Kind": list(kinds), "Count": [1] * len(kinds)})
    direct = pl.DataFrame(batch.columns, schema_overrides={"Kind": pl.Utf8}, strict=False)
    assert_frame_equal(batch.frame(["Kind"]), direct)
    mixed = len({type(k) for k in kinds if k is not None}) > 1
    assert (batch.as_sent is None) == mixed


def test_the_decoder_refuses_values_outside_a_literal_of_the_shipped_spec(spec):
    claim = dict(generated_claims(spec, 1, seed=3)[0])
    claim["Month"] = "Smarch"
    assert BatchDecoder(spec).decode(body([claim])) is None
    assert by_pydantic(spec, body([claim])) is None


def test_explain_values_are_the_api_s():
    from typing import get_args

    from features.claims.wire import EXPLAIN_MODES

    assert EXPLAIN_MODES == get_args(get_args(Explain)[0]) == get_args(Literal["all", "flagged", "none"])


def _request(raw: bytes):
    from starlette.requests import Request

    async def receive():
        return {"type": "http.request", "body": raw, "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-type", b"application/json")],
    }
    return Request(scope, receive)


def test_the_endpoint_input_takes_the_fast_way_and_falls_back_to_pydantic(spec):
    """serving/domain/batch_input.py: a JSON body the decoder accepts arrives as a ClaimBatch, anything
    else as pydantic's validated list of claims."""
    import asyncio

    from _bentoml_impl.serde import JSONSerde

    from serving.domain.batch_input import claims_batch_input

    spec_input = claims_batch_input(claim_model(spec), BatchDecoder(spec), 10_000)
    claims = generated_claims(spec, 3, seed=21)
    strict = body(claims, explain="none")
    lax = body([{**claims[0], "Age": float(claims[0]["Age"])}, *claims[1:]], explain="none")
    fast = asyncio.run(spec_input.from_http_request(_request(strict), JSONSerde()))
    slow = asyncio.run(spec_input.from_http_request(_request(lax), JSONSerde()))
    assert isinstance(fast.claims, ClaimBatch)
    assert isinstance(slow.claims, list) and fast.explain == slow.explain == "none"
    assert_same(
        (ClaimBatch.from_models(fast.claims), fast.explain), (ClaimBatch.from_models(slow.claims), "none")
    )
    with pytest.raises(ValidationError, match="Age"):
        asyncio.run(spec_input.from_http_request(_request(body([{**claims[0], "Age": 300}])), JSONSerde()))
