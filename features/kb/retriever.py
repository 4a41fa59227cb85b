"""`KBRetriever`: the MLflow pyfunc the registry holds as `ccrisk-kb`.

`predict` takes a DataFrame with a `query` column (and optionally `top_k`) and returns, per query,
the ranked `article_ids`, their `titles` and `scores`, `no_confident_answer` and the `kb_version`.
`search` is the richer call the service uses (snippets with the matching passage highlighted).
A fine-tuned encoder travels as an MLflow artifact named `encoder`; `load_context` points at it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd

from features.contact import encoder
from features.kb.index import KBIndex
from features.kb.lexical import highlight
from features.text import normalize

logger = logging.getLogger(__name__)
QUERY_COLUMN = "query"
TOP_K_COLUMN = "top_k"
DEFAULT_TOP_K = 10
MAX_TOP_K = 50


@dataclass
class Hit:
    article_id: str
    title: str
    score: float
    snippet: str


@dataclass
class SearchResult:
    hits: list[Hit]
    no_confident_answer: bool


@dataclass
class KBRetriever(mlflow.pyfunc.PythonModel):
    index: KBIndex
    encoder_ref: str = encoder.PACKAGED  # "artifact:encoder" when a fine-tuned encoder is bundled
    max_tokens: int = 256
    snippet_words: int = 40
    metadata: dict = field(default_factory=dict)
    _encoder_path: str | None = field(default=None, repr=False)

    def load_context(self, context) -> None:
        if self.encoder_ref == "artifact:encoder":
            self._encoder_path = context.artifacts["encoder"]

    @property
    def encoder_path(self) -> str:
        if self._encoder_path is not None:
            return self._encoder_path
        if self.encoder_ref == "artifact:encoder":
            raise RuntimeError("this KB model bundles its encoder: load it with mlflow.pyfunc.load_model")
        return str(encoder.resolve(self.encoder_ref))

    @property
    def version(self) -> str:
        return self.index.version

    def embed(self, queries: list[str]) -> np.ndarray:
        """Query vectors for the index: the encoder's, through the index's query adapter."""
        return self.index.adapt(encoder.embed(self.encoder_path, queries, self.max_tokens))

    def search_many(
        self,
        queries: list[str],
        top_k: int = 5,
        filters: dict[str, list[str]] | None = None,
        method: str = "hybrid",
        snippets: bool = True,
        allow_empty: bool = False,
    ) -> list[SearchResult]:
        """Top `top_k` articles per query; `filters` restrict by line of business or tags.
        An empty query is an error, or (`allow_empty`) gets no answers."""
        if not 1 <= top_k <= MAX_TOP_K:
            raise ValueError(f"top_k: {top_k} is out of range; send 1 to {MAX_TOP_K}")
        prepared = [normalize(q) for q in queries]
        for i, q in enumerate(prepared):
            if not q and not allow_empty:
                raise ValueError(f"query[{i}]: the query is empty or white space only; send its text")
        mask = self.index.filter_mask(filters)
        vectors = self.embed([q or "-" for q in prepared])
        return [
            self._one(q, v, top_k, mask, method, snippets) for q, v in zip(prepared, vectors, strict=True)
        ]

    def search(self, query: str, top_k: int = 5, filters: dict | None = None) -> SearchResult:
        return self.search_many([query], top_k, filters)[0]

    def _one(self, query, qvec, top_k, mask, method, snippets) -> SearchResult:
        if not query:
            return SearchResult([], True)
        cand = self.index.candidates_for(query, qvec, mask)
        order, scores = self.index.rank(cand, method)
        hits = []
        for a, s in zip(order[:top_k], scores[:top_k], strict=True):
            article = self.index.articles[int(a)]
            snippet = (
                highlight(self.index.best_chunk(int(a), cand).text, query, self.snippet_words)
                if snippets
                else ""
            )
            hits.append(Hit(article.id, article.title, float(s), snippet))
        threshold = self.index.fusion.threshold
        unsure = method == "hybrid" and (not hits or hits[0].score < threshold)
        return SearchResult(hits, unsure)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if QUERY_COLUMN not in model_input.columns:
            raise ValueError(
                f"input needs a {QUERY_COLUMN!r} column of strings; got {list(model_input.columns)}"
            )
        queries = model_input[QUERY_COLUMN].fillna("").astype(str).tolist()
        default_k = int((params or {}).get(TOP_K_COLUMN, DEFAULT_TOP_K))
        ks = (
            model_input[TOP_K_COLUMN].fillna(default_k).astype(int).tolist()
            if TOP_K_COLUMN in model_input.columns
            else [default_k] * len(queries)
        )
        if any(not 1 <= k <= MAX_TOP_K for k in ks):
            raise ValueError(f"{TOP_K_COLUMN}: every value must be 1 to {MAX_TOP_K}")
        results = (
            self.search_many(queries, top_k=max(ks), snippets=False, allow_empty=True) if queries else []
        )
        return pd.DataFrame(
            {
                QUERY_COLUMN: queries,
                "article_ids": [[h.article_id for h in r.hits[:k]] for r, k in zip(results, ks, strict=True)],
                "titles": [[h.title for h in r.hits[:k]] for r, k in zip(results, ks, strict=True)],
                "scores": [[h.score for h in r.hits[:k]] for r, k in zip(results, ks, strict=True)],
                "no_confident_answer": [r.no_confident_answer for r in results],
                "kb_version": [self.version] * len(queries),
            }
        )
