"""A fitted scikit-learn `TfidfVectorizer`'s `transform` for a few texts, without its per-call checks.

Serving scores one message at a time with three text models, each holding a word and a character
TF-IDF vectorizer. scikit-learn's `transform` spends ~1.5 ms a vectorizer on input validation,
sparse-matrix bookkeeping and `normalize` for a single short message (the n-gram analysis itself
is a small part), so ~9 ms a message went to TF-IDF. `FastTfidf` uses the vectorizer's own
analyzer, vocabulary and idf weights and evaluates the same formula per text: counts of in-vocabulary
n-grams (1 where `binary`), `1 + log(tf)` where `sublinear_tf`, times idf, then the row norm.
Unit tests hold it equal to `transform` of the object it came from. Vectorizers with options it
does not reproduce (a custom `vocabulary` type, `norm` other than l1/l2/None) are refused, and
`TextClassifier` then keeps scikit-learn's path.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import scipy.sparse as sp


class FastTfidf:
    def __init__(self, vectorizer) -> None:
        if vectorizer.norm not in ("l1", "l2", None):
            raise ValueError(f"norm {vectorizer.norm!r} is not supported; use the vectorizer's transform")
        if not isinstance(vectorizer.vocabulary_, dict):
            raise ValueError("the vocabulary is not a dict; use the vectorizer's transform")
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = np.asarray(vectorizer.idf_, dtype=np.float64) if vectorizer.use_idf else None
        self.sublinear = bool(vectorizer.sublinear_tf)
        self.binary = bool(vectorizer.binary)
        self.norm = vectorizer.norm
        self.dtype = np.dtype(vectorizer.dtype)
        self.width = len(self.vocabulary)

    def row(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted column indices and TF-IDF values of one text."""
        vocabulary = self.vocabulary
        counts = Counter(j for j in map(vocabulary.get, self.analyze(text)) if j is not None)
        keys = sorted(counts)
        columns = np.array(keys, dtype=np.int32)
        values = np.array([counts[j] for j in keys], dtype=np.float64)
        if self.binary:
            values.fill(1.0)
        if self.sublinear:
            np.log(values, values)
            values += 1.0
        if self.idf is not None:
            values *= self.idf[columns]
        if self.norm is not None and len(values):
            scale = np.sqrt(values @ values) if self.norm == "l2" else np.abs(values).sum()
            if scale != 0:
                values /= scale
        return columns, values

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        rows = [self.row(t) for t in texts]
        indptr = np.zeros(len(rows) + 1, dtype=np.int32)
        indptr[1:] = np.cumsum([len(c) for c, _ in rows])
        indices = np.concatenate([c for c, _ in rows]) if rows else np.zeros(0, np.int32)
        data = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
        data = data.astype(self.dtype, copy=False)
        return sp.csr_matrix((data, indices, indptr), shape=(len(rows), self.width))


def fast_or_none(vectorizer) -> FastTfidf | None:
    """`FastTfidf` for this vectorizer, or None where it is not a plain fitted TfidfVectorizer."""
    try:  # an unfitted vectorizer raises NotFittedError, an AttributeError
        return FastTfidf(vectorizer)
    except (AttributeError, ValueError):
        return None
