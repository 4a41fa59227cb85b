"""Retrieval metrics: recall@k, MRR@10, nDCG@10 (binary relevance), plus per-query latency."""

from __future__ import annotations

import math
import time

import numpy as np

from features.kb.retriever import KBRetriever
from training.kb.build import Queries

CUTOFFS = (1, 5, 10)


def query_metrics(ranked: list[str], relevant: set[str]) -> dict[str, float]:
    """Metrics of one ranked list of article ids against the set of relevant ids."""
    hits = [1 if a in relevant else 0 for a in ranked[:10]]
    out = {f"recall_at_{k}": sum(hits[:k]) / len(relevant) for k in CUTOFFS}
    first = next((i for i, h in enumerate(hits) if h), None)
    out["mrr_at_10"] = 0.0 if first is None else 1.0 / (first + 1)
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), 10)))
    out["ndcg_at_10"] = dcg / ideal
    return out


def evaluate(
    model: KBRetriever, queries: Queries, method: str = "hybrid", batch: int = 64
) -> dict[str, float]:
    """Mean metrics over `queries`, and the mean in-process seconds per query."""
    return summarise(*per_query(model, queries, method, batch))


def per_query(
    model: KBRetriever, queries: Queries, method: str = "hybrid", batch: int = 64
) -> tuple[list[dict[str, float]], float]:
    """Each query's metrics (in order), and the in-process seconds for all of them."""
    if not queries:
        raise ValueError("no evaluation queries")
    rows, start = [], time.perf_counter()
    for s in range(0, len(queries), batch):
        part = queries[s : s + batch]
        results = model.search_many([q for q, _ in part], top_k=10, method=method, snippets=False)
        for (_, relevant), r in zip(part, results, strict=True):
            rows.append(query_metrics([h.article_id for h in r.hits], relevant))
    return rows, time.perf_counter() - start


def summarise(rows: list[dict[str, float]], seconds: float) -> dict[str, float]:
    """The mean of each metric, the milliseconds per query and the number of queries."""
    metrics = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
    metrics["ms_per_query"] = 1000 * seconds / len(rows)
    metrics["queries"] = float(len(rows))
    return metrics
