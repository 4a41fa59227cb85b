"""The local engine of `ccrisk score`: the input read in batches, each scored by the champion's
pyfunc in this process and appended to one Parquet file. Memory stays that of one batch."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ccrisk.batch.tables import (
    CLAIM_COLUMNS,
    CLAIM_SCHEMA,
    MESSAGE_ID,
    TEXT,
    Champion,
    batches,
    check_columns,
    claim_schema,
    column_names,
)
from features.claims.rules import RuleBook
from features.claims.spec import ClaimSpec

logger = logging.getLogger(__name__)


def score_claims(
    source: Path, target: Path, model: Champion, spec: ClaimSpec, rules: RuleBook, reason_count: int,
    rows: int = 50_000, capacity: str = "",
) -> int:  # fmt: skip
    """Score every claim of `source` into the Parquet file `target`; the number of claims.
    `capacity`: the line's band shares as JSON (the model's `capacity` param), "" as trained."""
    check_columns(column_names(source), list(spec.columns), "scoring claims", source)
    pyfunc = mlflow.pyfunc.load_model(model.uri)
    params = {"reason_count": reason_count, "explain": "all", **({"capacity": capacity} if capacity else {})}
    done = 0
    with _Sink(target, CLAIM_SCHEMA) as sink:
        for batch in batches(source, claim_schema(spec), rows):
            frame = batch.to_pandas()
            claims = frame[list(spec.columns)]
            out = pyfunc.predict(claims, params=params)
            ids = frame[spec.identifier] if spec.identifier in frame else pd.Series([None] * len(frame))
            acted = rules.act(claims, out["risk_band"].tolist())
            columns = {
                "claim_id": ids.astype("string").tolist(),
                "fraud_probability": out["fraud_probability"].to_numpy(),
                "model_risk_band": out["risk_band"].tolist(),
                "top_reasons": out["top_reasons"].tolist(),
                **acted,
                "model_name": [model.name] * len(frame),
                "model_version": [model.version] * len(frame),
                "rules_version": [rules.version] * len(frame),
            }  # fmt: skip
            sink.write({c: columns[c] for c in CLAIM_COLUMNS})
            done += len(frame)
            logger.info("%d claims scored", done)
    return done


def score_messages(source: Path, target: Path, models: list[Champion], rows: int = 5_000) -> int:
    """Each text model's label and probability for every message of `source` (never its text)."""
    names = column_names(source)
    check_columns(names, [TEXT], "scoring messages", source)
    pyfuncs = [(m, mlflow.pyfunc.load_model(m.uri)) for m in models]
    types = {TEXT: pa.string(), **({MESSAGE_ID: pa.string()} if MESSAGE_ID in names else {})}
    done = 0
    with _Sink(target) as sink:
        for batch in batches(source, types, rows):
            frame = batch.to_pandas()
            texts = frame[[TEXT]].fillna("")
            columns: dict = {MESSAGE_ID: frame[MESSAGE_ID].astype("string").tolist() if MESSAGE_ID in frame
                             else [None] * len(frame)}  # fmt: skip
            for model, pyfunc in pyfuncs:
                out = pyfunc.predict(texts)
                columns[f"{model.family}_label"] = out["label"].tolist()
                columns[f"{model.family}_probability"] = out["probability"].to_numpy()
                columns[f"{model.family}_version"] = [model.version] * len(frame)
            sink.write(columns)
            done += len(frame)
            logger.info("%d messages scored", done)
    return done


class _Sink:
    """One Parquet file, written batch by batch (its schema given, or from the first batch)."""

    def __init__(self, path: Path, schema: pa.Schema | None = None):
        self.path, self.schema, self.writer = path, schema, None

    def __enter__(self) -> _Sink:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, columns: dict) -> None:
        table = pa.table(columns, schema=self.schema)  # a column all null in the first batch keeps its type
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def __exit__(self, *exc) -> None:
        if self.writer is not None:
            self.writer.close()
        elif exc[0] is None:
            raise ValueError(f"nothing to score: the input has no rows ({self.path} not written)")
