"""Learning the KB's query adapter (`features/kb/adapter.py`) from question -> article pairs.

The loss is a softmax over articles: each query's relevant articles against the `candidates`
articles its frozen embedding ranks highest (the hard negatives the retriever has to beat), an
article scored by its best chunk as the retriever does, plus `reg` times the squared size of W.
L-BFGS minimises it over all queries at once, so the result does not depend on batch order or
a learning rate. The training queries of the fusion get cross-fitted vectors (`learn`):
an adapter that has seen a query's answer would make the dense score look more reliable to the
fusion than it is on new queries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold

from features.kb.adapter import QueryAdapter
from features.kb.index import KBIndex
from training.kb.build import Negatives
from training.kb.config import AdapterConfig

logger = logging.getLogger(__name__)
Queries = list[tuple[str, set[str]]]
NO_PAIRS = "query adapter: no query points at an article of this KB; check the query file"


@dataclass
class Problem:
    """Per query: the chunks of its candidate articles (padded), each chunk's article slot and
    which slots are relevant. Built once from the frozen query vectors."""

    chunks: np.ndarray  # (queries, width) chunk rows of the index; padding repeats chunk 0
    slots: np.ndarray  # (queries, width) the chunk's article slot within the query's candidates
    valid: np.ndarray  # (queries, width) False for padding
    relevant: np.ndarray  # (queries, slots) True where the slot's article answers the query

    def take(self, rows: np.ndarray) -> Problem:
        return Problem(self.chunks[rows], self.slots[rows], self.valid[rows], self.relevant[rows])


@dataclass
class Pairs:
    """The queries that point at an article of the KB (`keep`: their positions among the caller's
    queries), their frozen vectors and their problem. A query's candidates depend on its own
    vector only, so one Problem serves the full fit and every fold."""

    keep: np.ndarray
    qvecs: np.ndarray
    problem: Problem


def prepare(
    index: KBIndex, queries: Queries, qvecs: np.ndarray, candidates: int, negatives: Negatives | None = None
) -> Pairs:
    known = {a.id for a in index.articles}
    keep = np.array([i for i, (_, rel) in enumerate(queries) if rel & known], dtype=np.int64)
    if not len(keep):
        raise ValueError(NO_PAIRS)
    kept = np.asarray(qvecs, dtype=np.float32)[keep]
    return Pairs(keep, kept, problem(index, [queries[i] for i in keep], kept, candidates, negatives))


def problem(
    index: KBIndex, queries: Queries, qvecs: np.ndarray, candidates: int, negatives: Negatives | None = None
) -> Problem:
    """Each query's relevant articles first, then the articles agents dismissed for it (known
    negatives), then the frozen vector's top `candidates` articles."""
    by_id = {a.id: i for i, a in enumerate(index.articles)}
    per_query = []
    for s in range(0, len(queries), 256):
        scores = index.article_max(qvecs[s : s + 256] @ index.embeddings.T)
        k = min(candidates, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        for row, (q, rel) in zip(top, queries[s : s + 256], strict=True):
            relevant = [by_id[r] for r in rel if r in by_id]
            dismissed = [by_id[r] for r in sorted((negatives or {}).get(q, ())) if r in by_id]
            per_query.append((list(dict.fromkeys([*relevant, *dismissed, *row.tolist()])), set(relevant)))
    width = max(int(index.chunk_counts[arts].sum()) for arts, _ in per_query)
    slots_n = max(len(arts) for arts, _ in per_query)
    p = Problem(
        chunks=np.zeros((len(queries), width), np.int64),
        slots=np.zeros((len(queries), width), np.int64),
        valid=np.zeros((len(queries), width), bool),
        relevant=np.zeros((len(queries), slots_n), bool),
    )
    for i, (arts, relevant) in enumerate(per_query):
        rows = [np.arange(index.chunk_starts[a], index.chunk_starts[a] + index.chunk_counts[a]) for a in arts]
        n = sum(len(r) for r in rows)
        p.chunks[i, :n] = np.concatenate(rows)
        p.slots[i, :n] = np.repeat(np.arange(len(arts)), [len(r) for r in rows])
        p.valid[i, :n] = True
        p.relevant[i, : len(arts)] = [a in relevant for a in arts]
    return p


def fit(index: KBIndex, queries: Queries, qvecs: np.ndarray, cfg: AdapterConfig) -> QueryAdapter:
    """An adapter learned from `queries` (with their frozen vectors `qvecs`); queries that point
    at no article of the KB have nothing to teach and are left out."""
    pairs = prepare(index, queries, qvecs, cfg.candidates)
    return _fit(index, pairs, np.arange(len(pairs.keep)), cfg)


def learn(
    index: KBIndex,
    queries: Queries,
    qvecs: np.ndarray,
    cfg: AdapterConfig,
    seed: int,
    negatives: Negatives | None = None,
) -> tuple[QueryAdapter, np.ndarray]:
    """The adapter fitted on every query, and each query's vector adapted by an adapter fitted on
    the other folds' queries; the candidates are found once for all the fits. A query's
    `negatives` join its candidates; a query without a relevant article is only adapted."""
    pairs = prepare(index, queries, qvecs, cfg.candidates, negatives)
    full = _fit(index, pairs, np.arange(len(pairs.keep)), cfg)
    return full, _crossed(index, pairs, qvecs, cfg, seed)


def _crossed(index: KBIndex, pairs: Pairs, qvecs: np.ndarray, cfg: AdapterConfig, seed: int) -> np.ndarray:
    out = np.empty_like(qvecs, dtype=np.float32)
    for tr, te in KFold(cfg.folds, shuffle=True, random_state=seed).split(qvecs):
        out[te] = _fit(index, pairs, np.flatnonzero(np.isin(pairs.keep, tr)), cfg).apply(qvecs[te])
    return out


def _fit(index: KBIndex, pairs: Pairs, rows: np.ndarray, cfg: AdapterConfig) -> QueryAdapter:
    """L-BFGS on the loss of `rows` of `pairs`."""
    import torch

    if not len(rows):
        raise ValueError(NO_PAIRS)
    start = time.monotonic()
    p = pairs.problem.take(rows)
    emb = torch.from_numpy(np.ascontiguousarray(index.embeddings, dtype=np.float32))
    q0 = torch.from_numpy(pairs.qvecs[rows])
    blocks, n = _blocks(p, cfg.batch), len(rows)
    w = torch.zeros(q0.shape[1], q0.shape[1], requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=cfg.iterations, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        penalty = cfg.reg * (w**2).sum()
        penalty.backward()
        total = penalty.detach()
        for block, chunks, slots, invalid, irrelevant in blocks:
            q = q0[block] + q0[block] @ w
            q = q / q.norm(dim=1, keepdim=True)
            scores = cfg.scale * torch.einsum("nd,nld->nl", q, emb[chunks]).masked_fill(invalid, -1e4)
            art = torch.full(irrelevant.shape, -1e4).scatter_reduce(1, slots, scores, reduce="amax")
            loss = torch.logsumexp(art, 1) - torch.logsumexp(art.masked_fill(irrelevant, -1e4), 1)
            (loss.sum() / n).backward()
            total = total + loss.sum().detach() / n
        return total

    final = float(opt.step(closure))
    logger.info(
        "query adapter: %d queries, %d chunks each, loss %.4f, |W| %.3f, %.1f s",
        n,
        p.chunks.shape[1],
        final,
        float(w.detach().norm()),
        time.monotonic() - start,
    )
    return QueryAdapter(w.detach().numpy().astype(np.float32), queries=n, reg=cfg.reg)


def _blocks(p: Problem, batch: int) -> list[tuple]:
    """Queries in blocks of `batch`, sorted by how many candidate chunks they have, each block
    cut to its own widest row: most queries have far fewer chunks than the widest one."""
    import torch

    widths = p.valid.sum(axis=1)
    order = np.argsort(widths, kind="stable")
    out = []
    for s in range(0, len(order), batch):
        rows = order[s : s + batch]
        width, slots = int(widths[rows].max()), int(p.slots[rows].max()) + 1
        out.append(
            tuple(
                torch.from_numpy(np.ascontiguousarray(a))
                for a in (
                    rows,
                    p.chunks[rows, :width],
                    p.slots[rows, :width],
                    ~p.valid[rows, :width],
                    ~p.relevant[rows, :slots],
                )
            )
        )
    return out
