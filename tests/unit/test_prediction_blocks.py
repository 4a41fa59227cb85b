"""Prediction-log blocks (features/ops/blocks.py): a large batch logged as one compressed block
reads back exactly as the same predictions logged row by row."""

from __future__ import annotations

import json
import math

import pandas as pd
import polars as pl
import pytest

from features.claims.api import ModelRef, claim_inputs, claim_model
from features.claims.spec import load_spec
from features.ops.blocks import Block, encode
from features.ops.outcomes import BackgroundWriter, PredictionLog
from serving.domain.records import BLOCK_MIN, PredictionRecorder, _row
from serving.domain.scored import ScoredClaims
from tests.conftest import ROOT, write_settings

CHAMPION = ModelRef(name="ccrisk-fraud", version="3", run_id="r3", rules_version="v1")
CHALLENGER = ModelRef(name="ccrisk-fraud", version="4", run_id="r4", rules_version="v1")


@pytest.fixture(scope="module")
def claims():
    spec = load_spec()
    Claim = claim_model(spec)
    frame = pl.read_csv(ROOT / "data_samples" / "claims_sample.csv")
    rows = frame.head(150).select([c for c in spec.columns if c in frame.columns]).to_dicts()
    # some claims without an id, as a claims system may send them
    return [Claim(claim_id=None if i % 7 == 0 else f"C-{i}", **r) for i, r in enumerate(rows)]


def _scored(claims: list) -> ScoredClaims:
    """Every third claim answered by the challenger (split mode): versions and variants per row."""
    n = len(claims)
    models = [CHALLENGER if i % 3 == 0 else CHAMPION for i in range(n)]
    return ScoredClaims(
        claim_ids=[c.claim_id for c in claims],
        probability=[(i + 0.5) / n for i in range(n)],
        bands=[("low", "medium", "high")[i % 3] for i in range(n)],
        reasons=[[] for _ in claims],
        hits=[[] for _ in claims],
        models=models,
        variants=["challenger" if m is CHALLENGER else "champion" for m in models],
        model_bands=[("low", "medium", "high")[i % 3] for i in range(n)],
        raised_by=[None] * n,
        review=[False] * n,
    )


def _as_rows(ts: float, claims: list, batch: ScoredClaims) -> list[dict]:
    """The rows the recorder writes for a small batch."""
    return [
        _row(ts, m, v, b, p, claim_inputs(c), i)
        for c, i, p, b, m, v in zip(
            claims, batch.claim_ids, batch.probability, batch.bands, batch.models, batch.variants,
            strict=True,
        )
    ]  # fmt: skip


def _settings(tmp_path):
    from features.settings import load_settings

    return load_settings(write_settings(tmp_path))


def test_a_large_batch_is_one_block_that_reads_back_as_the_rows_would(tmp_path, claims):
    batch = _scored(claims)
    recorder = PredictionRecorder(_settings(tmp_path))
    recorder.claims(claims, batch)
    recorder.writer.flush()
    log = recorder.writer.log
    stored = _one(log, "SELECT COUNT(*), SUM(row_count) FROM prediction_block")
    assert stored == (1, len(claims)) and len(claims) >= BLOCK_MIN
    assert _one(log, "SELECT COUNT(*) FROM prediction") == (0,)

    from_block = log.frame("ccrisk-fraud")
    by_rows = PredictionLog(f"sqlite:///{tmp_path / 'rows.sqlite'}")
    by_rows.write(_as_rows(from_block["ts"][0], claims, batch))
    expected = by_rows.frame("ccrisk-fraud")
    assert from_block.equals(expected)
    assert log.frame("ccrisk-fraud", with_inputs=False).equals(expected.drop(columns="inputs"))
    assert json.loads(from_block["inputs"][5]) == claim_inputs(claims[5])
    assert pd.isna(from_block["entity_id"][0]) and from_block["model_version"][0] == "4"


def _one(log: PredictionLog, sql: str) -> tuple:
    with log.db.engine.connect() as conn:
        return tuple(conn.exec_driver_sql(sql).one())


def test_a_small_batch_stays_rows(tmp_path, claims):
    recorder = PredictionRecorder(_settings(tmp_path))
    few = claims[: BLOCK_MIN - 1]
    recorder.claims(few, _scored(few))
    recorder.writer.flush()
    log = recorder.writer.log
    assert _one(log, "SELECT COUNT(*) FROM prediction") == (len(few),)
    assert _one(log, "SELECT COUNT(*) FROM prediction_block") == (0,)


def _block(ts: float, inputs: dict[str, list]) -> Block:
    n = len(next(iter(inputs.values())))
    outputs = {"model_version": ["1"] * n, "variant": ["champion"] * n, "band": ["low"] * n,
               "label": ["low"] * n, "score": [0.25] * n}  # fmt: skip
    outputs["entity_id"] = [f"E{ts}-{i}" for i in range(n)]
    return Block(ts=ts, model="m", outputs=outputs, inputs=inputs)


def test_a_column_that_mixes_text_and_numbers_is_logged_as_rows_keeping_each_value(tmp_path):
    """Polars would turn 7 into '7' in a text column: such a block goes to the row table."""
    block = _block(2.0, {"Make": ["Honda", 7, "Škoda"], "Age": [30, None, 41]})
    assert encode(block) is None
    log = PredictionLog(f"sqlite:///{tmp_path / 'p.sqlite'}")
    log.write([], [block])
    assert _one(log, "SELECT COUNT(*) FROM prediction_block") == (0,)
    assert [json.loads(s) for s in log.frame("m")["inputs"]] == [
        {"Make": "Honda", "Age": 30}, {"Make": 7, "Age": None}, {"Make": "Škoda", "Age": 41}
    ]  # fmt: skip


def test_block_values_read_back_as_json_text_with_unicode_null_and_nan(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'p.sqlite'}")
    inputs = {"Make": ["Škoda 東京", None], "Deductible": [float("nan"), 400.0], "Days": [3, 4]}
    log.write([], [_block(1.0, inputs)])
    first, second = (json.loads(s) for s in log.frame("m")["inputs"])
    assert math.isnan(first.pop("Deductible"))
    assert first == {"Make": "Škoda 東京", "Days": 3}
    assert second == {"Make": None, "Deductible": 400.0, "Days": 4}


def test_rows_and_blocks_come_back_in_time_order_and_since_applies_to_both(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'p.sqlite'}")
    row = {"model": "m", "model_version": "1", "variant": "champion", "band": "high", "label": "high",
           "score": 0.9, "inputs": {"Days": 1}}  # fmt: skip
    writer = BackgroundWriter(log, linger_s=0.0)
    writer.submit(_block(3.0, {"Days": [5, 6]}))
    writer.submit([{**row, "ts": 4.0, "entity_id": "R4"}, {**row, "ts": 1.0, "entity_id": "R1"}])
    writer.submit(_block(2.0, {"Days": [7]}))
    writer.flush()
    assert log.frame("m")["entity_id"].tolist() == ["R1", "E2.0-0", "E3.0-0", "E3.0-1", "R4"]
    assert log.frame("m", since=2.5, with_inputs=False)["entity_id"].tolist() == ["E3.0-0", "E3.0-1", "R4"]
    assert log.frame("other").empty
