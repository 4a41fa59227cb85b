"""Learning the KB fusion from question -> article pairs.

1. A query -> line-of-business prior (multinomial logistic regression on the query embedding)
   when the articles carry two or more lines of business; the training queries get out-of-fold
   probabilities, so the fusion does not learn to trust a prior that has seen their answers.
2. Candidate feature rows for every training query (`features/kb/fusion.FEATURES`).
3. Cross-validation by query compares a logistic model with a LightGBM LambdaRank ranker on
   out-of-fold nDCG@10 (`fusion.model: auto`; the ranker is only tried with at least
   `ranker.min_queries` training queries), or takes the configured one.
4. Platt scaling of the chosen model's out-of-fold scores makes the score a probability; the
   no-confident-answer threshold is read from the same out-of-fold probabilities.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.preprocessing import StandardScaler

from features.kb.fusion import FEATURES, Fusion, LobPrior
from features.kb.index import KBIndex
from training.kb.config import FusionConfig

logger = logging.getLogger(__name__)
Queries = list[tuple[str, set[str]]]


@dataclass
class Rows:
    """Candidate rows of the training queries: features, labels and each query's row span."""

    x: np.ndarray
    y: np.ndarray
    spans: list[tuple[int, int]]
    relevant: list[int]  # relevant articles per query (nDCG's ideal)

    def groups(self) -> np.ndarray:
        return np.array([hi - lo for lo, hi in self.spans])


def learn_lob_prior(
    index: KBIndex, queries: Queries, qvecs: np.ndarray, cfg: FusionConfig, seed: int
) -> tuple[LobPrior | None, np.ndarray | None]:
    """(prior fitted on every query, out-of-fold class probabilities per query), or (None, None)
    when the articles have fewer than two lines of business or too few queries."""
    classes = index.lob_classes()
    by_id = {a.id: a.line_of_business or "" for a in index.articles}
    labels = np.array([_first_lob(rel, by_id) for _, rel in queries])
    known = labels != ""
    present = sorted(set(labels[known]))
    if len(classes) < 2 or len(present) < 2 or known.sum() < 5 * cfg.cv_folds:
        return None, None
    x, y = qvecs[known], labels[known]
    oof = np.zeros((len(queries), len(present)))
    oof_known = np.zeros((known.sum(), len(present)))
    for tr, te in KFold(cfg.cv_folds, shuffle=True, random_state=seed).split(x):
        m = LogisticRegression(C=cfg.lob_C, max_iter=2000).fit(x[tr], y[tr])
        oof_known[np.ix_(te, np.searchsorted(present, m.classes_))] = m.predict_proba(x[te])
    oof[known] = oof_known
    full = LogisticRegression(C=cfg.lob_C, max_iter=2000).fit(x, y)
    accuracy = float((np.array(present)[oof_known.argmax(1)] == y).mean())
    logger.info("line-of-business prior: %d classes, out-of-fold accuracy %.3f", len(present), accuracy)
    coef, intercept = full.coef_.astype(np.float64), full.intercept_.astype(np.float64)
    if len(full.classes_) == 2:  # scikit-learn keeps one row for two classes: as a softmax, class 0 is 0
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.append(0.0, intercept)
    prior = LobPrior(tuple(full.classes_), coef, intercept)
    # out-of-fold columns follow `present`, which equals the full model's (sorted) classes
    return prior, oof


def _first_lob(relevant: set[str], by_id: dict[str, str]) -> str:
    lobs = sorted(by_id.get(r, "") for r in relevant)
    return next((x for x in lobs if x), "")


def candidate_rows(
    index: KBIndex,
    queries: Queries,
    qvecs: np.ndarray,
    lob_proba: np.ndarray | None,
    negatives: dict[str, set[str]] | None = None,
) -> Rows:
    """Feature rows and labels of every candidate of every query. A query with no relevant
    article (agents dismissed every answer) keeps only the rows of its `negatives`: the other
    candidates were never judged."""
    ids = np.array([a.id for a in index.articles])
    xs, ys, spans, relevant, start = [], [], [], [], 0
    for i, ((q, rel), v) in enumerate(zip(queries, qvecs, strict=True)):
        cand = index.candidates_for(q, v, None, None if lob_proba is None else lob_proba[i])
        features, labels = cand.features, np.isin(ids[cand.articles], list(rel)).astype(int)
        if not rel:
            judged = np.isin(ids[cand.articles], list((negatives or {}).get(q, ())))
            features, labels = features[judged], labels[judged]
        if not len(labels):
            continue
        xs.append(features)
        ys.append(labels)
        spans.append((start, start + len(labels)))
        relevant.append(len(rel))
        start += len(labels)
    x = np.vstack(xs) if xs else np.zeros((0, len(FEATURES)))
    y = np.concatenate(ys) if ys else np.zeros(0, dtype=int)
    return Rows(x, y, spans, relevant)


def fit_logistic(rows: Rows, cfg: FusionConfig) -> Fusion:
    """Logistic model over every feature, weights in raw feature units."""
    scaler = StandardScaler().fit(rows.x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    lr = LogisticRegression(C=cfg.C, max_iter=3000).fit((rows.x - scaler.mean_) / scale, rows.y)
    weights = lr.coef_[0] / scale
    bias = float(lr.intercept_[0] - (lr.coef_[0] * scaler.mean_ / scale).sum())
    return Fusion(weights, bias, learned=True, features=FEATURES)


def fit_ranker(rows: Rows, cfg: FusionConfig, seed: int) -> Fusion:
    """LightGBM LambdaRank over every feature, one group per query."""
    import lightgbm as lgb

    r = cfg.ranker
    model = lgb.LGBMRanker(
        objective="lambdarank",
        n_estimators=r.trees,
        learning_rate=r.learning_rate,
        num_leaves=r.num_leaves,
        min_child_samples=r.min_child_samples,
        subsample=0.8,
        subsample_freq=1,
        colsample_bytree=0.8,
        random_state=seed,
        n_jobs=r.threads,
        verbose=-1,
    ).fit(rows.x, rows.y, group=rows.groups())
    return Fusion(np.zeros(0), 0.0, learned=True, features=FEATURES, ranker=model.booster_.model_to_string())


def _subset(rows: Rows, queries: np.ndarray) -> Rows:
    idx = np.concatenate([np.arange(*rows.spans[q]) for q in queries]) if len(queries) else np.zeros(0, int)
    spans, start = [], 0
    for q in queries:
        n = rows.spans[q][1] - rows.spans[q][0]
        spans.append((start, start + n))
        start += n
    return Rows(rows.x[idx], rows.y[idx], spans, [rows.relevant[q] for q in queries])


def out_of_fold(rows: Rows, kind: str, cfg: FusionConfig, seed: int) -> np.ndarray:
    """Raw scores of every row from a model that did not see its query."""
    raw = np.zeros(len(rows.y))
    n = len(rows.spans)
    for tr, te in KFold(cfg.cv_folds, shuffle=True, random_state=seed).split(np.arange(n)):
        train = _subset(rows, tr)
        fusion = fit_ranker(train, cfg, seed) if kind == "lambdarank" else fit_logistic(train, cfg)
        for q in te:
            lo, hi = rows.spans[q]
            raw[lo:hi] = fusion.raw(rows.x[lo:hi])
    return raw


def ndcg_at_10(rows: Rows, scores: np.ndarray) -> float:
    """Mean nDCG@10 over the queries with a relevant article (relevant articles outside the
    candidates count as misses); queries known only by dismissed answers have no ideal ranking."""
    values = []
    for (lo, hi), n_rel in zip(rows.spans, rows.relevant, strict=True):
        if not n_rel:
            continue
        order = np.argsort(-scores[lo:hi], kind="stable")[:10]
        hits = rows.y[lo:hi][order]
        dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
        ideal = sum(1 / math.log2(i + 2) for i in range(min(n_rel, 10)))
        values.append(dcg / ideal)
    return float(np.mean(values)) if values else 0.0


def learn(
    rows: Rows, cfg: FusionConfig, seed: int, default: Fusion | None = None
) -> tuple[Fusion, dict[str, float]]:
    """The fusion chosen by out-of-fold nDCG@10 (or the configured kind), Platt-scaled, with its
    threshold; and the out-of-fold nDCG@10 of each kind tried. With `auto`, the `default`
    weights compete too (nothing is fitted, so their scores are out of fold as they stand): a
    fusion learned from few or one-sided pairs, such as agents' feedback, is kept only where it
    ranks better than the weights it would replace."""
    kinds = ["logistic", "lambdarank"] if cfg.model == "auto" else [cfg.model]
    few = len(rows.spans) < (cfg.ranker.min_queries if cfg.model == "auto" else 2 * cfg.cv_folds)
    if few:  # too few queries to fit and judge a ranker: its out-of-fold estimate is noise
        kinds = ["logistic"]
    oof = {k: out_of_fold(rows, k, cfg, seed) for k in kinds}
    if default is not None and cfg.model == "auto":
        oof["default"] = default.raw(rows.x)
    scores = {k: ndcg_at_10(rows, v) for k, v in oof.items()}
    kind = max(oof, key=lambda k: scores[k])  # a tie goes to the first, the simpler model
    logger.info("fusion out-of-fold nDCG@10: %s -> %s", scores, kind)
    if kind == "default":
        fusion = Fusion(
            default.weights.copy(), default.bias, learned=True, features=default.features, fixed=True
        )
    else:
        fusion = fit_ranker(rows, cfg, seed) if kind == "lambdarank" else fit_logistic(rows, cfg)
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(oof[kind][:, None], rows.y)
    fusion.platt = (float(platt.coef_[0, 0]), float(platt.intercept_[0]))
    a, b = fusion.platt
    proba = 1.0 / (1.0 + np.exp(-(a * oof[kind] + b)))
    fusion.threshold = confident_threshold(rows, proba, cfg.target_precision, cfg.confident_share)
    return fusion, scores


def confident_threshold(rows: Rows, proba: np.ndarray, target: float, right_share: float = 0.95) -> float:
    """Lowest top-1 probability above which the top answer is right at least `target` of the time,
    and at least the probability above which `right_share` of the right top answers lie (where
    nearly every training answer is right, the first rule alone falls to the single lowest one,
    and the training queries, all answerable, say nothing about off-topic questions)."""
    tops = []
    for lo, hi in rows.spans:
        if hi > lo:
            best = lo + int(np.argmax(proba[lo:hi]))
            tops.append((float(proba[best]), int(rows.y[best])))
    if not tops:
        return 0.5
    tops.sort(reverse=True)
    scores = np.array([t[0] for t in tops])
    precision = np.cumsum([t[1] for t in tops]) / np.arange(1, len(tops) + 1)
    ok = np.where(precision >= target)[0]
    threshold = float(scores[ok[-1]]) if len(ok) else float(scores[0])
    right = sorted(t[0] for t in tops if t[1])
    floor = right[int(len(right) * (1 - right_share) + 1e-9)] if right else 0.0
    return max(threshold, float(floor))
