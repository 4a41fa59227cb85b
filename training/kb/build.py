"""Building a KB index: chunk -> embed (reusing vectors of unchanged chunks) -> BM25 -> fusion."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from features.contact import encoder
from features.kb.articles import Article, chunk_article, kb_version
from features.kb.index import FEATURES, Fusion, KBIndex, build_bm25, chunk_texts
from training.kb import fusion
from training.kb.config import KBTrainConfig

logger = logging.getLogger(__name__)
Queries = list[tuple[str, set[str]]]  # (query text, relevant article ids)
Negatives = dict[str, set[str]]  # query text -> articles agents dismissed for it


def text_key(encoder_path: str, max_tokens: int, text: str) -> str:
    return hashlib.sha256(f"{encoder_path}\x1f{max_tokens}\x1f{text}".encode()).hexdigest()[:32]


class VectorCache:
    """Chunk embeddings by text hash: in memory (from a previous index) and on disk (`folder`)."""

    def __init__(self, encoder_path: str, max_tokens: int, folder: Path | None = None):
        self.encoder_path, self.max_tokens, self.folder = encoder_path, max_tokens, folder
        self.known: dict[str, np.ndarray] = {}

    def add(self, texts: list[str], vectors: np.ndarray) -> None:
        for t, v in zip(texts, vectors, strict=True):
            self.known[text_key(self.encoder_path, self.max_tokens, t)] = v

    def embed(
        self, texts: list[str], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, int]:
        """Vectors for `texts` and how many had to be computed."""
        keys = [text_key(self.encoder_path, self.max_tokens, t) for t in texts]
        disk = self._disk_path(keys)
        if disk is not None and disk.is_file():
            return np.load(disk), 0
        todo = sorted({i for i, k in enumerate(keys) if k not in self.known}, key=lambda i: keys[i])
        step = 256
        for s in range(0, len(todo), step):
            rows = todo[s : s + step]
            self.add(
                [texts[i] for i in rows],
                encoder.embed(self.encoder_path, [texts[i] for i in rows], self.max_tokens),
            )
            if on_batch:
                on_batch(len(rows))
        dim = next(iter(self.known.values())).shape[0] if self.known else 384
        out = np.stack([self.known[k] for k in keys]) if keys else np.zeros((0, dim), np.float32)
        if disk is not None:
            disk.parent.mkdir(parents=True, exist_ok=True)
            np.save(disk, out)
        return out.astype(np.float32), len(todo)

    def _disk_path(self, keys: list[str]) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / (hashlib.sha256("".join(keys).encode()).hexdigest()[:24] + ".npy")


def default_fusion(cfg: KBTrainConfig) -> Fusion:
    unknown = set(cfg.fusion.default_weights) - set(FEATURES)
    if unknown:
        raise ValueError(f"fusion.default_weights: unknown feature(s) {sorted(unknown)}; use {FEATURES}")
    weights = np.array([cfg.fusion.default_weights.get(f, 0.0) for f in FEATURES])
    return Fusion(weights, cfg.fusion.default_bias, threshold=0.5, learned=False, features=FEATURES)


def build_index(
    articles: list[Article],
    cfg: KBTrainConfig,
    cache: VectorCache,
    on_batch: Callable[[int], None] | None = None,
) -> tuple[KBIndex, int]:
    """An index with the default fusion, and the number of chunks that were embedded anew."""
    chunks = [
        c for i, a in enumerate(articles) for c in chunk_article(i, a, cfg.chunk.max_words, cfg.chunk.overlap)
    ]
    dense, tokens = chunk_texts(articles, chunks)
    vectors, computed = cache.embed(dense, on_batch)
    titles, computed_titles = cache.embed([a.title for a in articles if a.title])
    title_vectors = np.zeros((len(articles), vectors.shape[1]), dtype=np.float32)
    title_vectors[[i for i, a in enumerate(articles) if a.title]] = titles
    index = KBIndex(
        articles=articles,
        chunks=chunks,
        embeddings=vectors,
        bm25=build_bm25(tokens, cfg.bm25_k1, cfg.bm25_b),
        fusion=default_fusion(cfg),
        version=kb_version(articles),
        title_embeddings=title_vectors,
        candidates=cfg.candidates,
    )
    return index, computed + computed_titles


def learn_fusion(
    index: KBIndex,
    queries: Queries,
    qvecs: np.ndarray,
    cfg: KBTrainConfig,
    negatives: Negatives | None = None,
) -> Fusion:
    """Learn the line-of-business prior (set on `index`) and the fusion (returned); see
    `training/kb/fusion.py`. Keeps the current fusion when the candidates are all one class.
    `negatives`: query -> articles agents dismissed (the only rows of a query without answers).
    Default weights that give the line of business no weight keep no prior: serving would
    compute a feature nothing reads."""
    prior, oof = fusion.learn_lob_prior(index, queries, qvecs, cfg.fusion, cfg.seed)
    index.set_lob_prior(prior)
    rows = fusion.candidate_rows(index, queries, qvecs, oof, negatives)
    if rows.y.sum() == 0 or rows.y.sum() == len(rows.y):
        logger.warning("fusion: the training queries' candidates are all one class; default weights kept")
        index.set_lob_prior(None)
        return index.fusion
    learned, scores = fusion.learn(rows, cfg.fusion, cfg.seed, default_fusion(cfg))
    learned.selection = scores
    lob = [FEATURES.index(f) for f in ("lob_prob", "lob_prob_log")]
    if learned.fixed and not learned.weights[lob].any():
        index.set_lob_prior(None)
    return learned
