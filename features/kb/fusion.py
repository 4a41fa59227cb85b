"""Fusing the retrievers: candidate features and the models that turn them into one score.

Every candidate article gets the features in FEATURES (dense and BM25 scores of its best chunk,
of its first chunk and over all its chunks, ranks, its title's cosine, its standing among the
candidates that share its title, and how likely its line of business is for this query). Two
fusion models are learned from question -> article pairs (`training/kb`), and cross-validation
on the training queries picks one: a logistic model, or a LightGBM LambdaRank ranker whose score
is mapped to a probability by Platt scaling. Either way the score is the probability that the
article answers the query.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The first seven are the features of KB models registered before 2026-11-23: a
# pickled Fusion without `features` reads them, so such models keep scoring as they did.
LEGACY_FEATURES = ("dense", "dense_gap", "bm25_rel", "bm25_log", "rrf_dense", "rrf_bm25", "title_dense")
FEATURES = (
    *LEGACY_FEATURES,
    "dense_first",  # cosine of the article's first chunk (its lead) and its gap to the best chunk
    "dense_first_gap",
    "dense_mean",  # mean cosine over the article's chunks
    "chunks_log",  # log of the article's chunk count
    "bm25_first",  # BM25 of the first chunk, relative to the query's best
    "title_group_dense_gap",  # dense minus the best dense among candidates with the same title
    "title_group_bm25_gap",
    "title_group_size_log",
    "lob_prob",  # P(article's line of business | query), from LobPrior
    "lob_prob_log",
)
RRF_K = 60


@dataclass
class ArticleScores:
    """Per candidate article: scores the features are computed from."""

    dense: np.ndarray  # best chunk's cosine
    bm25: np.ndarray  # best chunk's BM25
    dense_first: np.ndarray
    dense_mean: np.ndarray
    bm25_first: np.ndarray
    chunks: np.ndarray  # chunk counts
    title: np.ndarray  # cosine of the article's title
    title_group: np.ndarray  # an id per distinct title; 0 = untitled
    lob_prob: np.ndarray


def candidate_features(s: ArticleScores) -> np.ndarray:
    """Feature rows, one per candidate, in FEATURES order."""
    bm25 = _clean(s.bm25)
    top_bm25 = bm25.max() if len(bm25) else 0.0
    scale = top_bm25 if top_bm25 > 0 else 1.0
    rank_dense = np.argsort(np.argsort(-s.dense, kind="stable"), kind="stable")
    rank_bm25 = np.argsort(np.argsort(-bm25, kind="stable"), kind="stable")
    group_dense, group_bm25, group_size = _title_groups(s.title_group, s.dense, np.log1p(bm25))
    return np.column_stack(
        [
            s.dense,
            s.dense - s.dense.max(),
            bm25 / scale if top_bm25 > 0 else np.zeros_like(bm25),
            np.log1p(bm25),
            1.0 / (RRF_K + rank_dense),
            np.where(bm25 > 0, 1.0 / (RRF_K + rank_bm25), 0.0),
            s.title,
            s.dense_first,
            s.dense_first - s.dense,
            s.dense_mean,
            np.log(np.maximum(s.chunks, 1)),
            _clean(s.bm25_first) / scale,
            group_dense,
            group_bm25,
            group_size,
            s.lob_prob,
            np.log(s.lob_prob + 1e-4),
        ]
    ).astype(np.float64)


def _clean(x: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(x), np.maximum(x, 0), 0.0)


def _title_groups(groups: np.ndarray, dense: np.ndarray, bm25: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each candidate against the best candidate with the same title (0 for untitled ones): a
    knowledge base with one focus per title (MedQuAD) differs within a title only by body."""
    gap_dense, gap_bm25, size = (np.zeros(len(dense)) for _ in range(3))
    if not len(dense):
        return gap_dense, gap_bm25, size
    _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    best_dense = np.full(len(counts), -np.inf)
    best_bm25 = np.full(len(counts), -np.inf)
    np.maximum.at(best_dense, inverse, dense)
    np.maximum.at(best_bm25, inverse, bm25)
    titled = groups != 0
    gap_dense[titled] = (dense - best_dense[inverse])[titled]
    gap_bm25[titled] = (bm25 - best_bm25[inverse])[titled]
    size[titled] = np.log(counts[inverse])[titled]
    return gap_dense, gap_bm25, size


@dataclass
class LobPrior:
    """Multinomial logistic model: query embedding -> line of business of the answering article."""

    classes: tuple[str, ...]
    coef: np.ndarray  # (classes, dim)
    intercept: np.ndarray  # (classes,)

    def proba(self, qvec: np.ndarray) -> np.ndarray:
        z = self.coef @ qvec + self.intercept
        e = np.exp(z - z.max())
        return e / e.sum()


@dataclass
class Fusion:
    """Score = sigmoid(a * raw + b); raw is `weights . features + bias` (logistic) or the
    LightGBM ranker's output (`ranker`, a model string). `features` names the columns it reads."""

    weights: np.ndarray  # one per `features` entry (logistic); empty for a ranker
    bias: float
    threshold: float = 0.5  # best probability under this -> no confident answer
    learned: bool = False
    features: tuple[str, ...] = LEGACY_FEATURES
    ranker: str | None = None
    platt: tuple[float, float] = (1.0, 0.0)
    selection: dict | None = None  # training's out-of-fold nDCG@10 per kind tried
    fixed: bool = False  # the configured default weights, kept (and calibrated) as they ranked best

    def __post_init__(self) -> None:
        self.weights = np.ascontiguousarray(self.weights, dtype=np.float64)

    @property
    def kind(self) -> str:
        return "lambdarank" if self.ranker else "default" if self.fixed else "logistic"

    def columns(self) -> list[int]:
        return [FEATURES.index(f) for f in self.features]

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores of feature rows in FEATURES order."""
        x = x[:, self.columns()]
        if self.ranker is None:
            return x @ self.weights + self.bias
        if not len(x):
            return np.zeros(0)
        return self._booster().predict(x, num_threads=1)

    def proba(self, x: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * self.raw(x) + b)))

    def _booster(self):
        booster = self.__dict__.get("_booster_obj")
        if booster is None:
            import lightgbm as lgb

            booster = lgb.Booster(model_str=self.ranker)
            self.__dict__["_booster_obj"] = booster
        return booster

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_booster_obj"}
