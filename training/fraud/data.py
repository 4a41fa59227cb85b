"""The labelled claims table a fraud run trains on, validated against its spec."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import polars as pl

from features.claims.checks import validate
from features.claims.spec import ClaimSpec
from features.ops.outcomes import ClaimFeedbackStore, PredictionLog
from features.settings import Settings
from training.data import Lineage, read_table, sha256_of

logger = logging.getLogger(__name__)


def load_claims(path: Path, spec: ClaimSpec) -> tuple[pl.DataFrame, Lineage]:
    """Read and validate a labelled claims table against its spec."""
    frame = validate(read_table(path), spec, require_target=True)
    lineage = Lineage(str(Path(path).resolve()), sha256_of(Path(path)), frame.height)
    logger.info("loaded %d claims from %s (sha256 %s)", frame.height, path, lineage.sha256[:12])
    return frame, lineage


def feedback_rows(settings: Settings, spec: ClaimSpec, model_name: str) -> pl.DataFrame:
    """Served claims whose latest outcome is confirmed_fraud (1) or legitimate (0)."""
    preds = PredictionLog(settings.stores_url).frame(model_name)
    outcomes = ClaimFeedbackStore(settings.stores_url).latest()
    outcomes = outcomes[outcomes["outcome"].isin(["confirmed_fraud", "legitimate"])]
    latest = preds.dropna(subset=["entity_id"]).drop_duplicates("entity_id", keep="last")
    joined = latest.merge(outcomes, left_on="entity_id", right_on="claim_id")
    if joined.empty:
        return pl.DataFrame()
    rows = pd.DataFrame([json.loads(s) for s in joined["inputs"]])
    rows[spec.target] = (joined["outcome"] == "confirmed_fraud").astype(int).to_numpy()
    logger.info("feedback: %d labelled served claims (%d confirmed)", len(rows), int(rows[spec.target].sum()))
    return pl.from_pandas(rows)
