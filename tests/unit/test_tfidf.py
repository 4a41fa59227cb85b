"""FastTfidf (serving's TF-IDF for a few texts) must give scikit-learn's transform, column for column."""

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from features.contact import tfidf
from features.contact.classifier import FAST_TFIDF_TEXTS, TextClassifier
from features.contact.tfidf import FastTfidf, TermIndex, fast_or_none

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
    compact = FastTfidf(vec)
    compact.compact()
    assert isinstance(compact.vocabulary, TermIndex) and len(compact.vocabulary) == len(vec.vocabulary_)
    np.testing.assert_allclose(compact.transform(QUERIES).toarray(), expected, rtol=1e-12, atol=1e-15)


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


def test_term_index_finds_each_term_once_per_occurrence_and_nothing_else():
    vocabulary = {"card": 4, "claim": 0, "late": 2, "é": 1, "zz top": 3}
    index = TermIndex(vocabulary)
    grams = ["late", "card", "nope", "late", "é", "", "zz top", "zz"]
    assert index.columns_of(grams).tolist() == [1, 2, 2, 3, 4]
    assert index.columns_of([]).tolist() == [] and TermIndex({}).columns_of(["a"]).tolist() == []


def test_term_index_refuses_a_vocabulary_whose_terms_share_a_hash(monkeypatch):
    monkeypatch.setattr(tfidf, "hash", lambda term: len(term), raising=False)  # "ab" and "cd" collide
    with pytest.raises(ValueError, match="share a hash; keep the dict"):
        TermIndex({"ab": 0, "cd": 1, "e": 2})


def test_a_compacted_classifier_scores_the_same_at_every_batch_size_and_drops_its_dicts():
    union = FeatureUnion(
        [
            ("word", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)),
        ]
    ).fit(CORPUS)
    many = QUERIES * (FAST_TFIDF_TEXTS // len(QUERIES) + 1)
    expected = union.transform(many).toarray()
    model = TextClassifier("complaint", [], None, vectorizer=union, encoder_ref=None)
    model.compact()
    assert all(v.vocabulary_ is None for _, v in union.transformer_list)
    np.testing.assert_allclose(model.lexical(many).toarray(), expected, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(model.lexical(QUERIES[:1]).toarray(), expected[:1], rtol=1e-12, atol=1e-15)
    with pytest.raises(TypeError, match="compacted model cannot be pickled; load it again from the registry"):
        pickle.dumps(model)
