"""The batch endpoint's columnar result: its JSON must be the bytes pydantic gives for BatchScore."""

import json

import pytest

from features.claims.api import BatchScore, ModelRef, RuleHit
from features.claims.scorer import Reason
from serving.domain.scored import ScoredClaims, scatter

CHAMPION = ModelRef(name="ccrisk-fraud", version="3", run_id="r3", rules_version="2026.11.1+abcd1234")
CHALLENGER = ModelRef(name="ccrisk-fraud", version="4", run_id="r4", rules_version="2026.11.1+abcd1234")
LATE = RuleHit(
    id="VC-001", description="claim soon after the start", severity="high", escalate="high", review=True
)
NO_POLICE = RuleHit(id="VC-004", description="no police report, no witness", severity="medium")
REASON = Reason("Fault", "Fault", "Policy Holder", 0.731204, 'Fault is "Policy Holder" (é, "quoted")')


def _batch(variant: str, ref: ModelRef, ids: list) -> ScoredClaims:
    n = len(ids)
    return ScoredClaims(
        claim_ids=ids,
        probability=[0.0, 0.1234567890123, 1.0, 3e-9][:n],
        bands=["low", "medium", "high", "low"][:n],
        reasons=[[], [REASON], [REASON, REASON], []][:n],
        hits=[[], [LATE], [LATE, NO_POLICE], []][:n],
        models=[ref] * n,
        variants=[variant] * n,
        model_bands=["low", "low", "high", "low"][:n],
        raised_by=[None, "VC-001", None, None][:n],
        review=[False, True, True, False][:n],
    )


def test_json_is_the_bytes_pydantic_dumps():
    batch = _batch("champion", CHAMPION, ["C-1", None, "C-3", "ünï"])
    assert batch.to_json() == batch.to_model().model_dump_json().encode()
    back = BatchScore.model_validate_json(batch.to_json())  # and it is a valid response
    assert back.count == 4 and back.results[2].rules_hit == [LATE, NO_POLICE]
    assert back.results[1].reasons[0].text == REASON.text


def test_scatter_puts_each_part_back_at_its_request_positions():
    champion = _batch("champion", CHAMPION, ["A", "C"])
    challenger = _batch("challenger", CHALLENGER, ["B", "D"])
    merged = scatter(4, [([0, 2], champion), ([1, 3], challenger)])
    assert merged.claim_ids == ["A", "B", "C", "D"]
    assert merged.variants == ["champion", "challenger", "champion", "challenger"]
    assert [r.model.version for r in merged.results] == ["3", "4", "3", "4"]
    assert json.loads(merged.to_json()) == json.loads(merged.to_model().model_dump_json())
    only = _batch("champion", CHAMPION, ["A", "B"])
    assert scatter(2, [([0, 1], only)]) is only  # the usual case copies nothing


def test_a_column_of_the_wrong_length_is_refused():
    batch = _batch("champion", CHAMPION, ["A", "B"])
    batch.bands = ["low"]
    with pytest.raises(ValueError, match="zip"):
        batch.to_json()
