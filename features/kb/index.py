"""The knowledge-base index: BM25 over chunks (bm25s), dense chunk embeddings (MiniLM) and the
fusion of the two into one article score.

Both retrievers score chunks; an article takes the best score of its chunks. The candidates are
the union of each retriever's top articles; each candidate gets the features of
`features/kb/fusion.py` and the fusion (a logistic model or a LambdaRank ranker, learned from
question -> article pairs in `training/kb`) turns them into a probability that the article
answers. Without pairs it falls back to the configured default weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import InitVar, dataclass, field

import numpy as np

from features.kb.adapter import QueryAdapter
from features.kb.articles import Article, Chunk, ChunkTable, dense_text
from features.kb.fusion import FEATURES, ArticleScores, Fusion, LobPrior, candidate_features
from features.kb.lexical import tokenize

__all__ = ["FEATURES", "METHODS", "Candidates", "Fusion", "KBIndex", "LobPrior"]
METHODS = ("hybrid", "dense", "bm25", "rrf")


@dataclass
class Candidates:
    """One query's candidate articles (indices) with their feature rows."""

    articles: np.ndarray
    features: np.ndarray
    chunk_dense: np.ndarray  # per chunk, for snippets
    chunk_bm25: np.ndarray


@dataclass
class KBIndex:
    """Articles, their chunks (BM25 + dense) and title vectors, with the fusion that ranks them.

    Built from a list of Chunk and one title vector per article; kept compact (a ChunkTable, one
    vector per distinct title). Indexes pickled in the older layout are compacted when loaded."""

    articles: list[Article]
    chunks: ChunkTable  # a list of Chunk is turned into a ChunkTable
    embeddings: np.ndarray  # (chunks, dim) float32, unit length
    bm25: object  # bm25s.BM25 over chunk tokens
    fusion: Fusion
    version: str
    title_embeddings: InitVar[np.ndarray]  # (articles, dim); zero rows for untitled articles
    candidates: int = 50
    lob_prior: LobPrior | None = None  # query -> line of business (a fusion feature); set by training
    adapter: QueryAdapter | None = None  # learned correction of query vectors; set by training
    title_vectors: np.ndarray = field(init=False)  # row 0 zeros, then one row per distinct title
    title_rows: np.ndarray = field(init=False)  # per article: its row in title_vectors
    chunk_starts: np.ndarray = field(init=False)

    def __post_init__(self, title_embeddings: np.ndarray) -> None:
        self._compact(title_embeddings)

    def __setstate__(self, state: dict) -> None:
        titles = state.pop("title_embeddings", None)
        state.setdefault("lob_prior", None)  # pickled before the prior existed
        state.setdefault("adapter", None)  # pickled before the query adapter existed
        self.__dict__.update(state)
        self._compact(titles)

    def _compact(self, title_embeddings: np.ndarray | None) -> None:
        if not isinstance(self.chunks, ChunkTable):
            self.chunks = ChunkTable.from_chunks(self.chunks, self.articles)
        if title_embeddings is not None:
            self.title_vectors, self.title_rows = distinct_titles(self.articles, title_embeddings)
        owners = self.chunks.article
        if len(owners) and (np.diff(owners) < 0).any():
            raise ValueError("chunks must be grouped by article, in article order")
        self.chunk_starts = np.searchsorted(owners, np.arange(len(self.articles)))
        self.chunk_counts = np.diff(np.append(self.chunk_starts, len(owners)))
        self.set_lob_prior(self.lob_prior)

    def set_lob_prior(self, prior: LobPrior | None) -> None:
        """Use `prior` for the lob_prob feature (None: the feature is 0 for every article)."""
        self.lob_prior = prior
        classes = {c: i for i, c in enumerate(prior.classes)} if prior else {}
        self.article_lob = np.array(
            [classes.get(a.line_of_business or "", -1) for a in self.articles], dtype=np.int64
        )

    def lob_classes(self) -> list[str]:
        return sorted({a.line_of_business for a in self.articles if a.line_of_business})

    def title_matrix(self) -> np.ndarray:
        """One title vector per article (zeros for untitled ones), as the index was built from."""
        return self.title_vectors[self.title_rows]

    def article_max(self, chunk_scores: np.ndarray) -> np.ndarray:
        """Each article's best chunk score (along the last axis: one row per query works too)."""
        return np.maximum.reduceat(chunk_scores, self.chunk_starts, axis=-1)

    def adapt(self, qvecs: np.ndarray) -> np.ndarray:
        """Query vectors as the dense retriever uses them (through the adapter when there is one)."""
        return qvecs if self.adapter is None else self.adapter.apply(qvecs)

    def candidates_for(
        self, query: str, qvec: np.ndarray, mask: np.ndarray | None, lob_proba: np.ndarray | None = None
    ) -> Candidates:
        """Union of the dense and BM25 top articles, with their fusion features; `lob_proba`
        (per class of the prior) replaces the prior's own output (training uses held-out ones)."""
        chunk_dense = self.embeddings @ qvec
        tokens = tokenize(query)
        chunk_bm25 = (
            np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)
            if tokens
            else np.zeros(len(self.chunks), dtype=np.float32)
        )
        dense, bm25 = self.article_max(chunk_dense), self.article_max(chunk_bm25)
        if mask is not None:
            dense = np.where(mask, dense, -np.inf)
            bm25 = np.where(mask, bm25, -np.inf)
        k = min(self.candidates, int(np.isfinite(dense).sum()))
        if k == 0:
            empty = np.zeros((0, len(FEATURES)))
            return Candidates(np.zeros(0, dtype=int), empty, chunk_dense, chunk_bm25)
        top_dense = np.argpartition(-dense, k - 1)[:k]
        top_bm25 = np.argpartition(-bm25, k - 1)[:k]
        top_bm25 = top_bm25[bm25[top_bm25] > 0]
        cand = np.union1d(top_dense, top_bm25)
        scores = self._scores(cand, qvec, dense, bm25, chunk_dense, chunk_bm25, lob_proba)
        return Candidates(cand, candidate_features(scores), chunk_dense, chunk_bm25)

    def _scores(self, cand, qvec, dense, bm25, chunk_dense, chunk_bm25, lob_proba) -> ArticleScores:
        first = self.chunk_starts[cand]
        sums = np.add.reduceat(chunk_dense, self.chunk_starts)[cand]
        if lob_proba is None and self.lob_prior is not None:
            lob_proba = self.lob_prior.proba(qvec)
        lob = np.zeros(len(cand)) if lob_proba is None else np.append(lob_proba, 0.0)[self.article_lob[cand]]
        return ArticleScores(
            dense=dense[cand],
            bm25=bm25[cand],
            dense_first=chunk_dense[first],
            dense_mean=sums / self.chunk_counts[cand],
            bm25_first=chunk_bm25[first],
            chunks=self.chunk_counts[cand],
            title=self.title_vectors[self.title_rows[cand]] @ qvec,
            title_group=self.title_rows[cand],
            lob_prob=lob,
        )

    def rank(self, c: Candidates, method: str = "hybrid") -> tuple[np.ndarray, np.ndarray]:
        """Candidate articles in rank order with their scores, by `method` (see METHODS)."""
        col = {n: i for i, n in enumerate(FEATURES)}
        if method == "hybrid":
            scores = self.fusion.proba(c.features)
        elif method == "dense":
            scores = c.features[:, col["dense"]]
        elif method == "bm25":
            scores = c.features[:, col["bm25_log"]]
        elif method == "rrf":
            scores = c.features[:, col["rrf_dense"]] + c.features[:, col["rrf_bm25"]]
        else:
            raise ValueError(f"method {method!r}: choose one of {', '.join(METHODS)}")
        order = np.argsort(-scores, kind="stable")
        return c.articles[order], scores[order]

    def best_chunk(self, article: int, c: Candidates) -> Chunk:
        """The chunk of `article` that matches best (dense plus scaled BM25)."""
        lo = self.chunk_starts[article]
        hi = self.chunk_starts[article + 1] if article + 1 < len(self.articles) else len(self.chunks)
        top_bm25 = max(float(c.chunk_bm25.max()), 1e-9)
        local = c.chunk_dense[lo:hi] + c.chunk_bm25[lo:hi] / top_bm25
        return self.chunks.chunk(lo + int(np.argmax(local)), self.articles)

    def filter_mask(self, filters: dict[str, list[str]] | None) -> np.ndarray | None:
        """Articles allowed by `filters` ({"line_of_business": [...], "tags": [...]})."""
        if not filters:
            return None
        mask = np.ones(len(self.articles), dtype=bool)
        for key, allowed in filters.items():
            wanted = {v.lower() for v in allowed}
            if key == "line_of_business":
                ok = [(a.line_of_business or "").lower() in wanted for a in self.articles]
            elif key == "tags":
                ok = [bool(wanted & {t.lower() for t in a.tags}) for a in self.articles]
            else:
                raise ValueError(f"filters.{key}: unknown filter; use line_of_business or tags")
            mask &= np.asarray(ok)
        return mask


def distinct_titles(articles: Sequence[Article], vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row 0 zeros then one vector per distinct title, each article's row): MedQuAD's 15,809
    answers share 5,124 titles, so this keeps 7.5 MB of title vectors instead of 23."""
    rows, first = {"": 0}, []
    per_article = np.empty(len(articles), dtype=np.int32)
    for i, a in enumerate(articles):
        if a.title not in rows:
            rows[a.title] = len(rows)
            first.append(i)
        per_article[i] = rows[a.title]
    zero = np.zeros((1, vectors.shape[1]), dtype=np.float32)
    return np.vstack([zero, np.asarray(vectors[first], dtype=np.float32)]), per_article


def chunk_texts(articles: list[Article], chunks: list[Chunk]) -> tuple[list[str], list[list[str]]]:
    """(texts for the encoder, token lists for BM25), one per chunk; both see the title."""
    dense = [dense_text(articles[c.article].title, c.text) for c in chunks]
    return dense, [tokenize(t) for t in dense]


def build_bm25(tokens: list[list[str]], k1: float = 1.2, b: float = 0.75):
    import bm25s

    index = bm25s.BM25(k1=k1, b=b)
    index.index(tokens, show_progress=False)
    return index
