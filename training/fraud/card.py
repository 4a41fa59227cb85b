"""The fraud model's card (training/model_card.py): test-part metrics with intervals, and the
per-group metrics of the spec's protected columns."""

from __future__ import annotations

import numpy as np

from features.claims.spec import ClaimSpec
from features.registry import GateDecision
from training.data import Lineage
from training.fraud import evaluate
from training.fraud.fairness import FairnessReport
from training.model_card import Metric, ModelCard, bootstrap

CARD_METRICS = ("roc_auc", "pr_auc", "brier", "recall_at_top_5pct", "precision_at_recall_80")


def fraud_card(
    name: str,
    version: str,
    run_id: str,
    lineage: Lineage,
    spec: ClaimSpec,
    y: np.ndarray,
    p: np.ndarray,
    fair: FairnessReport,
    decision: GateDecision,
    seed: int,
) -> ModelCard:
    metrics: list[Metric] = bootstrap(evaluate.fraud_metrics, (y, p), CARD_METRICS, seed)
    source = {**lineage.as_params(), "spec": f"{spec.name} v{spec.version} ({spec.fingerprint()[:12]})"}
    limits = list(fair.warnings)
    if "data_samples" in lineage.path:
        limits.append(
            "Trained on the project's generated sample table, not real claims: a demonstration only."
        )
    if lineage.rows < 5000:
        limits.append(f"Trained on {lineage.rows} claims: its intervals are wide; retrain on more history.")
    return ModelCard(
        name,
        version,
        "claims",
        run_id,
        {k: str(v) for k, v in source.items()},
        metrics,
        decision,
        {f"protected column {col}": rows for col, rows in fair.groups.items()},
        limits,
    )
