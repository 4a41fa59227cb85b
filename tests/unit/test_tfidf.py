"""FastTfidf (serving's TF-IDF for a few texts) must give scikit-learn's transform, column for column."""

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from features.contact.classifier import FAST_TFIDF_TEXTS, TextClassifier
from features.contact.tfidf import FastTfidf, fast_or_none

CORPUS = [
    "My claim was rejected again, this is unacceptable!",
    "How do I add a driver to my motor policy?",
    "Card not arrived yet. Card not arrived yet. Card!",
    "Où est ma carte ? Ça fait deux semaines.",
    "premium premium premium payment grace period",
    "thanks, all sorted now",
]
QUERIES = [
    "my card has not arrived and nobody answers",
    "zzzz qqqq",  # nothing in the vocabulary: an all-zero row
    "",
    "Premium payment, premium PAYMENT!!! grace",
    "Ça fait deux semaines que j'attends ma carte",
    "claim " * 50,
]


@pytest.mark.parametrize(
    "params",
    [
        {"ngram_range": (1, 2), "sublinear_tf": True},
        {"analyzer": "char_wb", "ngram_range": (1, 5), "sublinear_tf": True},
        {"analyzer": "char", "ngram_range": (2, 4), "binary": True},
        {"norm": "l1", "sublinear_tf": True},
        {"norm": None, "use_idf": False},
        {"lowercase": False, "smooth_idf": False, "analyzer": "char_wb", "min_df": 2},
    ],
)
def test_fast_tfidf_equals_scikit_learn(params):
    vec = TfidfVectorizer(**params).fit(CORPUS)
    expected = vec.transform(QUERIES).toarray()
    got = FastTfidf(vec).transform(QUERIES)
    assert got.shape == expected.shape and got.dtype == expected.dtype
    np.testing.assert_allclose(got.toarray(), expected, rtol=1e-12, atol=1e-15)
    one = FastTfidf(vec).transform(QUERIES[:1]).toarray()
    np.testing.assert_allclose(one, expected[:1], rtol=1e-12, atol=1e-15)


def test_fast_tfidf_refuses_what_it_cannot_reproduce():
    vec = TfidfVectorizer().fit(CORPUS)
    vec.norm = "max"
    with pytest.raises(ValueError, match="norm 'max' is not supported"):
        FastTfidf(vec)
    assert fast_or_none(vec) is None
    assert fast_or_none(TfidfVectorizer()) is None  # not fitted


def test_classifier_lexical_is_the_union_and_is_not_pickled():
    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)),
        ]
    ).fit(CORPUS)
    model = TextClassifier("complaint", [], None, vectorizer=union, encoder_ref=None)
    few = model.lexical(QUERIES)
    many = model.lexical(QUERIES * (FAST_TFIDF_TEXTS // len(QUERIES) + 1))  # scikit-learn's path
    np.testing.assert_allclose(few.toarray(), union.transform(QUERIES).toarray(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(many[: len(QUERIES)].toarray(), few.toarray(), rtol=1e-12, atol=1e-15)
    assert "_fast" in model.__dict__
    assert "_fast" not in pickle.loads(pickle.dumps(model)).__dict__
