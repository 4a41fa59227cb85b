"""The KB query adapter: unit(q + q W) learned from question -> article pairs (training/kb/adapter.py)."""

import pickle

import numpy as np
import pytest

from features.kb.adapter import QueryAdapter
from features.kb.articles import Article, chunk_article
from features.kb.index import Fusion, KBIndex, build_bm25, chunk_texts
from training.kb import adapter
from training.kb.config import AdapterConfig

DIM, ARTICLES = 16, 30


def unit(x):
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def synthetic(seed=0):
    """An index of one-chunk articles whose questions are a fixed linear distortion of their
    answer's vector plus noise: the frozen cosine ranks them poorly, a learned map can undo it."""
    rng = np.random.default_rng(seed)
    articles = [Article(id=f"a{i}", title="", body=f"answer number {i}") for i in range(ARTICLES)]
    chunks = [c for i, a in enumerate(articles) for c in chunk_article(i, a, max_words=50, overlap=10)]
    vectors = unit(rng.normal(size=(ARTICLES, DIM)))
    _, tokens = chunk_texts(articles, chunks)
    fusion = Fusion(np.array([1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.5]), -1.0)
    index = KBIndex(articles, chunks, vectors, build_bm25(tokens), fusion, "v1", np.zeros((ARTICLES, DIM)))
    distortion = np.eye(DIM) + 0.9 * rng.normal(size=(DIM, DIM))

    def questions(n, rng):
        target = rng.integers(0, ARTICLES, n)
        q = unit(vectors[target] @ distortion + 0.1 * rng.normal(size=(n, DIM)))
        return [(f"q{i}", {f"a{t}"}) for i, t in enumerate(target)], q, target

    return index, questions


def top1(index, qvecs, target):
    return float((np.argmax(qvecs @ index.embeddings.T, axis=1) == target).mean())


def test_a_zero_adapter_leaves_unit_vectors_as_they_are():
    q = unit(np.random.default_rng(1).normal(size=(3, DIM)))
    out = QueryAdapter(np.zeros((DIM, DIM), np.float32)).apply(q)
    np.testing.assert_allclose(out, q, atol=1e-6)
    assert out.dtype == np.float32


def test_adapter_refuses_vectors_of_another_size():
    with pytest.raises(ValueError, match="vectors have 8 dimensions, the adapter 16; re-train the KB model"):
        QueryAdapter(np.zeros((DIM, DIM), np.float32)).apply(np.ones((1, 8), np.float32))


def test_learned_adapter_ranks_new_questions_better_than_the_frozen_vectors():
    index, questions = synthetic()
    rng = np.random.default_rng(2)
    train, qtrain, _ = questions(300, rng)
    _, qtest, target = questions(300, rng)
    learned = adapter.fit(index, train, qtrain, AdapterConfig(reg=0.01, candidates=10))
    before, after = top1(index, qtest, target), top1(index, learned.apply(qtest), target)
    assert after > before + 0.15, (before, after)
    assert learned.queries == 300
    np.testing.assert_allclose(np.linalg.norm(learned.apply(qtest), axis=1), 1.0, atol=1e-5)


def test_a_large_penalty_keeps_the_adapter_near_zero():
    index, questions = synthetic()
    train, qtrain, _ = questions(100, np.random.default_rng(3))
    small = adapter.fit(index, train, qtrain, AdapterConfig(reg=0.01, candidates=10))
    large = adapter.fit(index, train, qtrain, AdapterConfig(reg=100.0, candidates=10))
    assert np.linalg.norm(large.weight) < 0.05 * np.linalg.norm(small.weight)


def test_cross_fitted_vectors_come_from_adapters_that_did_not_see_the_query():
    index, questions = synthetic()
    train, qtrain, _ = questions(100, np.random.default_rng(4))
    cfg = AdapterConfig(reg=0.01, candidates=10, folds=4)
    fitted, crossed = adapter.learn(index, train, qtrain, cfg, seed=0)
    full = fitted.apply(qtrain)
    assert crossed.shape == qtrain.shape
    assert not np.allclose(crossed, full, atol=1e-3)  # four other adapters, not the one fitted on all
    np.testing.assert_allclose(np.linalg.norm(crossed, axis=1), 1.0, atol=1e-5)


def test_index_adapts_queries_and_an_index_pickled_without_adapter_loads():
    index, _ = synthetic()
    q = unit(np.random.default_rng(5).normal(size=(2, DIM)))
    np.testing.assert_array_equal(index.adapt(q), q)
    index.adapter = QueryAdapter(np.eye(DIM, dtype=np.float32))  # q + q I = 2q: same direction
    np.testing.assert_allclose(index.adapt(q), q, atol=1e-6)
    state = pickle.loads(pickle.dumps(index)).__dict__
    del state["adapter"]  # as pickled before the adapter existed
    old = KBIndex.__new__(KBIndex)
    old.__setstate__(dict(state))
    assert old.adapter is None


def test_queries_without_an_article_of_the_kb_are_left_out():
    index, questions = synthetic()
    train, qtrain, _ = questions(60, np.random.default_rng(6))
    cfg = AdapterConfig(reg=0.01, candidates=10)
    strays = [("about something else", {"gone"})] * 5
    with_strays = adapter.fit(index, train + strays, np.vstack([qtrain, qtrain[:5]]), cfg)
    np.testing.assert_allclose(with_strays.weight, adapter.fit(index, train, qtrain, cfg).weight, atol=1e-6)
    assert with_strays.queries == 60
    with pytest.raises(ValueError, match="no query points at an article of this KB; check the query file"):
        adapter.fit(index, strays, qtrain[:5], cfg)
