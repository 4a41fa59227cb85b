"""One text model = normalisation + (TF-IDF and/or sentence embeddings) + a calibrated linear head.

`TextClassifier` is the MLflow pyfunc the registry holds for each text task (complaint,
complaint_topic, intent): `predict` takes a DataFrame with a `text` column and returns `label`,
`probability` (of that label) and one `p_<label>` column per class.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import scipy.sparse as sp

from features.contact import encoder
from features.contact.tfidf import FastTfidf, fast_or_none
from features.contact.tuned import ARTIFACT as TUNED_ARTIFACT
from features.contact.tuned import TunedSoftmax
from features.text import normalize

logger = logging.getLogger(__name__)
TEXT_COLUMN = "text"
FAST_TFIDF_TEXTS = 64  # up to this many texts, TF-IDF skips scikit-learn's per-call overhead


def truncate_words(text: str, max_words: int) -> tuple[str, bool]:
    """At most `max_words` white-space tokens; the flag says whether the text was cut."""
    words = text.split(" ")
    if len(words) <= max_words:
        return text, False
    return " ".join(words[:max_words]), True


@dataclass(frozen=True)
class Bands:
    """Risk bands on the positive-class probability (complaint): medium and high cut-offs."""

    medium: float = 0.4
    high: float = 0.7

    def of(self, p: float) -> str:
        return "high" if p >= self.high else "medium" if p >= self.medium else "low"


@dataclass
class TextClassifier(mlflow.pyfunc.PythonModel):
    task: str
    labels: list[str]
    head: Any  # fitted head with predict_proba, classes_ == labels (LinearSigmoidHead or sklearn)
    vectorizer: Any | None = None  # fitted TF-IDF union, or None
    encoder_ref: str | None = encoder.PACKAGED  # None: no embeddings
    embedding_weight: float = 1.0
    # mean of this encoder layer's token states; None: the last (the sentence embedding)
    encoder_layer: int | None = None
    max_words: int = 400
    max_tokens: int = 256
    positive: str | None = None  # the class a risk probability is about ("complaint")
    bands: Bands = field(default_factory=Bands)
    low_confidence: float = 0.5
    metadata: dict = field(default_factory=dict)
    # an RBF-kernel SVM's vote on the embedding, blended in with this weight (features/contact/vote.py)
    vote: Any | None = None
    vote_weight: float = 0.0
    # a fine-tuned encoder's softmax, blended in last (features/contact/tuned.py; finetune.enabled)
    tuned: TunedSoftmax | None = None

    def load_context(self, context) -> None:
        """Point a bundled tuned encoder at its folder among the loaded model's artifacts."""
        if self.tuned is not None:
            self.tuned.path = context.artifacts[TUNED_ARTIFACT]

    # -- the steps, usable one by one (the service shares one embedding across models) --
    def prepare(self, texts: list[str]) -> list[str]:
        """Normalised texts, cut at `max_words` (one warning says how many were cut)."""
        out, cut = [], 0
        for t in texts:
            text, was_cut = truncate_words(normalize(t), self.max_words)
            out.append(text)
            cut += was_cut
        if cut:
            logger.warning(
                "%s: %d of %d texts cut to their first %d words", self.task, cut, len(texts), self.max_words
            )
        return out

    @property
    def encoder_path(self) -> str | None:
        return None if self.encoder_ref is None else str(encoder.resolve(self.encoder_ref))

    def embed(self, prepared: list[str]) -> np.ndarray | None:
        if self.encoder_ref is None:
            return None
        return encoder.embed(self.encoder_path, prepared, self.max_tokens, layer=self.encoder_layer)

    def lexical(self, prepared: list[str]) -> sp.csr_matrix | None:
        """The TF-IDF columns, or None without a vectorizer."""
        if self.vectorizer is None:
            return None
        # The union's parts one by one: FeatureUnion.transform is the same columns plus
        # joblib dispatch that costs more than the transform itself for one message.
        parts = [t for _, t in self.vectorizer.transformer_list]
        if len(prepared) <= FAST_TFIDF_TEXTS or self.__dict__.get("_compact"):
            fast = self._fast_parts()
            parts = [f or t for f, t in zip(fast, parts, strict=True)]
        return sp.hstack([t.transform(prepared) for t in parts], format="csr")

    def compact(self) -> None:
        """For a model that will only score (the service): each TF-IDF vocabulary is kept once, as
        the fast path's `TermIndex`, and the vectorizers' dicts are dropped (~16 MB a worker for
        the CFPB topic model's 175k terms). Every batch size then takes the fast path; the
        scores do not change. Such a model can no longer be pickled (load it again instead)."""
        if self.vectorizer is None:
            return
        for fast, (_, vectorizer) in zip(self._fast_parts(), self.vectorizer.transformer_list, strict=True):
            if fast is not None:
                fast.compact()
                vectorizer.vocabulary_ = None  # the index above replaces it
        self.__dict__["_compact"] = True

    def _fast_parts(self) -> list[FastTfidf | None]:
        """Built once per loaded model (not pickled: see `__getstate__`)."""
        fast = self.__dict__.get("_fast")
        if fast is None:
            fast = self.__dict__["_fast"] = [fast_or_none(t) for _, t in self.vectorizer.transformer_list]
        return fast

    def __getstate__(self) -> dict:
        if self.__dict__.get("_compact"):
            raise TypeError(
                f"{self.task}: a compacted model cannot be pickled; load it again from the registry"
            )
        return {k: v for k, v in self.__dict__.items() if k != "_fast"}

    def design(
        self, prepared: list[str], embeddings: np.ndarray | None, lexical: sp.spmatrix | None = None
    ) -> sp.csr_matrix:
        """TF-IDF columns (`lexical` when already computed) + embeddings (scaled by
        `embedding_weight`; none at weight 0, where only the vote reads them)."""
        parts = [lexical if lexical is not None else self.lexical(prepared)]
        if self.encoder_ref is not None and self.embedding_weight > 0:  # 0: for the vote only
            emb = self.embed(prepared) if embeddings is None else embeddings
            parts.append(sp.csr_matrix(emb * self.embedding_weight))
        return sp.hstack([p for p in parts if p is not None], format="csr")

    def proba(
        self, prepared: list[str], embeddings: np.ndarray | None = None, lexical: sp.spmatrix | None = None
    ) -> np.ndarray:
        """(n, len(labels)) class probabilities, columns in `labels` order: the head's, blended
        with the kernel vote's one-hot row and then the tuned encoder's softmax when the model
        has them."""
        if embeddings is None and self.encoder_ref is not None:
            embeddings = self.embed(prepared)
        p = self.head.predict_proba(self.design(prepared, embeddings, lexical))
        if self.vote is not None:
            w = self.vote_weight
            p = (1.0 - w) * p + w * self.vote.onehot(embeddings, self.labels)
        return p if self.tuned is None else self.tuned.mix(p, prepared)

    def positive_index(self) -> int:
        if self.positive is None:
            raise ValueError(f"task {self.task!r} has no positive class")
        return self.labels.index(self.positive)

    def frame(self, p: np.ndarray) -> pd.DataFrame:
        best = p.argmax(axis=1)
        out = pd.DataFrame(
            {"label": [self.labels[i] for i in best], "probability": p[np.arange(len(p)), best]}
        )
        per_class = pd.DataFrame(p, columns=[f"p_{label}" for label in self.labels])
        return pd.concat([out, per_class], axis=1)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        if TEXT_COLUMN not in model_input.columns:
            raise ValueError(
                f"input needs a {TEXT_COLUMN!r} column of strings; got {list(model_input.columns)}"
            )
        texts = model_input[TEXT_COLUMN].fillna("").astype(str).tolist()
        return self.frame(self.proba(self.prepare(texts)))
