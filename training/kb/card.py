"""The knowledge-base model's card (training/model_card.py): the hybrid's test-query metrics with
intervals, and the metrics per question length."""

from __future__ import annotations

import numpy as np

from features.registry import GateDecision
from training.kb.build import Queries
from training.model_card import ModelCard, bootstrap, length_groups

CARD_METRICS = ("ndcg_at_10", "mrr_at_10", "recall_at_1", "recall_at_5")
LENGTH_EDGES = (5, 10)  # words


def kb_card(
    name: str,
    version: str,
    run_id: str,
    lineage: dict[str, str],
    test: Queries,
    per_query: list[dict[str, float]],
    decision: GateDecision,
    seed: int,
) -> ModelCard:
    limits = []
    if not per_query:
        limits.append("No evaluation queries: nothing measured; train it with --queries to get metrics.")
        return ModelCard(name, version, "kb", run_id, lineage, [], decision, {}, limits)
    table = np.asarray([[r[k] for k in CARD_METRICS] for r in per_query])
    mean = lambda t: dict(zip(CARD_METRICS, t.mean(axis=0), strict=True))  # noqa: E731
    metrics = bootstrap(mean, (table,), CARD_METRICS, seed)
    lengths = np.asarray([len(q.split()) for q, _ in test])
    buckets = length_groups(lengths, LENGTH_EDGES)
    rows = [
        {
            "group": g,
            "questions": int((buckets == g).sum()),
            "ndcg_at_10": float(table[buckets == g, 0].mean()),
            "recall_at_5": float(table[buckets == g, 3].mean()),
        }
        for g in dict.fromkeys(sorted(buckets, key=lambda b: lengths[buckets == b].min()))
    ]
    if len(per_query) < 200:
        limits.append(f"Measured on {len(per_query)} questions only: the intervals are wide.")
    return ModelCard(
        name,
        version,
        "kb",
        run_id,
        lineage,
        metrics,
        decision,
        {"question length": rows},
        limits,
        "the held-out test questions (hybrid retrieval)",
    )
