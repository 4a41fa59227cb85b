"""The knowledge-base index keeps chunks as spans and one vector per distinct title, and indexes
pickled in the older layout (a list of Chunk, one title row per article) load to the same answers."""

import pickle

import numpy as np
import pytest

from features.kb.articles import Article, ChunkTable, chunk_article
from features.kb.index import Fusion, KBIndex, build_bm25, chunk_texts

ARTICLES = [
    Article(id="a", title="Filing a claim", body="Call us  within\n30 days.\n\nSend the photos. " * 30),
    Article(id="b", title="Filing a claim", body="Online:\tuse the portal and upload the receipts."),
    Article(id="c", title="", body="Windscreen chips are repaired for free " * 40),
    Article(id="d", title="Grace period", body="You have 30 days to pay a missed premium."),
]


def chunks_of(articles):
    return [c for i, a in enumerate(articles) for c in chunk_article(i, a, max_words=50, overlap=10)]


def build(articles=ARTICLES, dim=8):
    chunks = chunks_of(articles)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(len(chunks), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    by_title = {t: rng.normal(size=dim).astype(np.float32) for t in {a.title for a in articles if a.title}}
    titles = np.array([by_title.get(a.title, np.zeros(dim, np.float32)) for a in articles])
    _, tokens = chunk_texts(articles, chunks)
    fusion = Fusion(np.array([1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.5]), -1.0)
    index = KBIndex(articles, chunks, vectors, build_bm25(tokens), fusion, "v1", titles)
    return index, chunks, titles


def test_chunk_table_gives_back_the_chunks_it_was_built_from():
    chunks = chunks_of(ARTICLES)
    table = ChunkTable.from_chunks(chunks, ARTICLES)
    assert len(chunks) > len(ARTICLES)  # the long articles were cut into several windows
    assert table.to_list(ARTICLES) == chunks
    assert [table.chunk(i, ARTICLES) for i in range(len(table))] == chunks
    assert table.article.dtype == np.int32


def test_chunk_table_refuses_a_chunk_that_is_not_in_its_article():
    chunks = chunks_of(ARTICLES)
    edited = [ARTICLES[0].model_copy(update={"body": "another text"}), *ARTICLES[1:]]
    with pytest.raises(ValueError, match="chunk of article 'a' is not in its body; rebuild the index"):
        ChunkTable.from_chunks(chunks, edited)


def test_title_vectors_are_kept_once_per_distinct_title():
    index, _, titles = build()
    assert index.title_vectors.shape == (3, 8)  # zeros (untitled "c") + two distinct titles
    assert index.title_rows.tolist() == [1, 1, 0, 2]
    np.testing.assert_array_equal(index.title_matrix(), titles)


def answers(index, query="how many days to file a claim"):
    qvec = np.ones(8, np.float32) / np.sqrt(8)
    cand = index.candidates_for(query, qvec, None)
    order, scores = index.rank(cand)
    return cand.features, order, scores, [index.best_chunk(int(a), cand) for a in order]


def assert_same_answers(left, right):
    for x, y in zip(answers(left), answers(right), strict=True):
        if isinstance(x, list):
            assert x == y
        else:
            np.testing.assert_array_equal(x, y)


def test_an_index_pickled_in_the_older_layout_loads_to_the_same_answers():
    index, chunks, titles = build()
    newer = ("title_vectors", "title_rows", "lob_prior", "article_lob", "chunk_counts")
    state = {k: v for k, v in vars(index).items() if k not in newer}
    old = pickle.dumps({**state, "chunks": chunks, "title_embeddings": titles})
    loaded = KBIndex.__new__(KBIndex)
    loaded.__setstate__(pickle.loads(old))
    assert isinstance(loaded.chunks, ChunkTable)
    assert not hasattr(loaded, "title_embeddings")
    assert_same_answers(loaded, index)
    assert_same_answers(pickle.loads(pickle.dumps(index)), index)
