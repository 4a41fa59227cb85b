"""Fitting a text model: TF-IDF union + sentence embeddings -> calibrated linear head, with
stratified k-fold cross-validation (out-of-fold predictions) for honest metrics."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion
from sklearn.svm import SVC, LinearSVC

from features.contact import encoder
from features.contact.classifier import Bands, TextClassifier
from features.contact.head import LinearSigmoidHead
from features.contact.vote import KernelVote, unit_rows
from training.text.config import TextTrainConfig

logger = logging.getLogger(__name__)


def make_vectorizer(cfg: TextTrainConfig) -> FeatureUnion | None:
    f = cfg.features
    if not f.tfidf:
        return None
    return FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=f.word_ngrams, sublinear_tf=True, min_df=f.min_df)),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb", ngram_range=f.char_ngrams, sublinear_tf=True, min_df=f.min_df
                ),
            ),
        ]
    )


def make_head(cfg: TextTrainConfig, min_class: int):
    h = cfg.head
    if h.kind == "logreg":
        return LogisticRegression(C=h.C, class_weight=h.class_weight, max_iter=3000)
    folds = min(h.calibration_folds, min_class)  # tiny sample classes: fewer calibration folds
    svc = LinearSVC(C=h.C, class_weight=h.class_weight)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=max(folds, 2), ensemble=h.ensemble)


def embed_all(prepared: list[str], cfg: TextTrainConfig, cache_dir: Path | None) -> np.ndarray | None:
    """Embeddings of every text (label-free, so computing them once for all folds leaks nothing);
    cached on disk by the hash of encoder + texts, because long narratives take minutes."""
    if not cfg.features.embeddings:
        return None
    path, layer = str(encoder.resolve(encoder.PACKAGED)), cfg.features.encoder_layer
    parts = [path, str(cfg.features.max_tokens), *([f"layer {layer}"] if layer else []), *prepared]
    key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:24]
    cached = cache_dir / f"{key}.npy" if cache_dir else None
    if cached is not None and cached.exists():
        logger.info("embeddings from cache %s", cached)
        return np.load(cached)
    emb = encoder.embed(path, prepared, cfg.features.max_tokens, layer=layer)
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.save(cached, emb)
    return emb


def fit_classifier(
    prepared: list[str], labels: np.ndarray, emb: np.ndarray | None, cfg: TextTrainConfig
) -> TextClassifier:
    """Fit vectorizer and head on these rows; the result scores raw text end to end."""
    vectorizer = make_vectorizer(cfg)
    lexical = None if vectorizer is None else vectorizer.fit_transform(prepared)  # one pass, not two
    model = TextClassifier(
        task=cfg.task,
        labels=[],
        head=None,
        vectorizer=vectorizer,
        encoder_ref=encoder.PACKAGED if emb is not None else None,
        embedding_weight=cfg.features.embedding_weight,
        encoder_layer=cfg.features.encoder_layer,
        max_words=cfg.features.max_words,
        max_tokens=cfg.features.max_tokens,
        positive=cfg.positive,
        bands=Bands(**cfg.bands),
        low_confidence=cfg.low_confidence,
    )
    x = model.design(prepared, emb, lexical)
    min_class = int(np.unique(labels, return_counts=True)[1].min())
    head = make_head(cfg, min_class).fit(x, labels)
    # Same probabilities as scikit-learn's object, without its per-call checks (serving speed).
    model.head = LinearSigmoidHead.from_calibrated(head) if cfg.head.kind == "svc" else head
    model.labels = [str(c) for c in model.head.classes_]
    if cfg.head.vote is not None:
        model.vote, model.vote_weight = fit_vote(emb, labels, cfg), cfg.head.vote.weight
    return model


def fit_vote(emb: np.ndarray | None, labels: np.ndarray, cfg: TextTrainConfig) -> KernelVote:
    """The RBF-kernel SVM on the unit-length embeddings, in compact form (head.vote)."""
    v = cfg.head.vote
    if emb is None or len(np.unique(labels)) < 3:
        raise ValueError(
            f"{cfg.task}: head.vote needs embeddings and three or more classes; remove head.vote"
        )
    return KernelVote.from_svc(
        SVC(C=v.C, kernel="rbf", gamma=v.gamma, class_weight=v.class_weight).fit(unit_rows(emb), labels)
    )


@dataclass
class TrainingOnly:
    """Rows that join every training fold and are never scored (the config's `extra` tables)."""

    texts: np.ndarray  # prepared texts, dtype object
    labels: np.ndarray
    emb: np.ndarray | None

    def join(self, texts: np.ndarray, labels: np.ndarray, emb: np.ndarray | None):
        """(texts, labels, emb) of these rows followed by the training-only ones."""
        joined = None if emb is None else np.concatenate([emb, self.emb])
        return np.concatenate([texts, self.texts]), np.concatenate([labels, self.labels]), joined


def fold_proba(
    texts: np.ndarray,
    labels: np.ndarray,
    emb: np.ndarray | None,
    train: np.ndarray,
    test: np.ndarray,
    classes: list[str],
    cfg: TextTrainConfig,
    extra: TrainingOnly | None = None,
) -> np.ndarray:
    """Fit on the `train` rows (and `extra`), score the `test` rows; columns in `classes` order
    (a class the training rows lack gets probability 0)."""
    rows = (texts[train], labels[train], None if emb is None else emb[train])
    tr_texts, tr_labels, tr_emb = extra.join(*rows) if extra is not None else rows
    model = fit_classifier(tr_texts.tolist(), tr_labels, tr_emb, cfg)
    p = model.proba(texts[test].tolist(), None if emb is None else emb[test])
    out = np.zeros((len(test), len(classes)))
    out[:, [classes.index(c) for c in model.labels]] = p
    return out


def cross_validate(
    prepared: list[str],
    labels: np.ndarray,
    emb: np.ndarray | None,
    cfg: TextTrainConfig,
    on_fold: Callable[[int], None] = lambda _: None,
    extra: TrainingOnly | None = None,
) -> tuple[np.ndarray, list[str], int]:
    """Out-of-fold class probabilities (rows in input order), class names, folds used. The
    folds split `prepared` alone; `extra` rows are added to each fold's training rows."""
    classes = sorted(set(labels.tolist()))
    min_class = int(np.unique(labels, return_counts=True)[1].min())
    folds = min(cfg.folds, min_class)
    if folds < cfg.folds:
        logger.warning("smallest class has %d texts: %d folds instead of %d", min_class, folds, cfg.folds)
    if folds < 2:
        raise ValueError("every class needs at least 2 texts for cross-validation; add examples")
    oof = np.zeros((len(labels), len(classes)))
    texts = np.asarray(prepared, dtype=object)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=cfg.seed)
    for i, (tr, te) in enumerate(splitter.split(texts, labels)):
        oof[te] = fold_proba(texts, labels, emb, tr, te, classes, cfg, extra)
        on_fold(i)
    return oof, classes, folds
