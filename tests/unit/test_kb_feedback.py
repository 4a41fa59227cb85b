"""Agents' KB feedback as training data: the latest verdict counts, curated labels win, the
held-out questions stay out, and a question whose answers were all dismissed teaches the fusion
through those rows only."""

import numpy as np

from features.kb.articles import Article
from training.kb import adapter
from training.kb import fusion as learning
from training.kb.feedback import Feedback, from_rows, training_queries

ARTICLES = [Article(id=i, title="", body=f"article {i}") for i in ("a", "b", "c", "d")]


def row(query, article_id, verdict):
    return {"query_masked": query, "article_id": article_id, "verdict": verdict}


def test_latest_verdict_counts_and_unknown_articles_are_dropped():
    rows = [
        row("how do I claim", "a", "dismissed"),
        row("how do I  claim ", "a", "helpful"),  # same question after white space: the later verdict
        row("how do I claim", "b", "dismissed"),
        row("how do I claim", "gone", "helpful"),  # no longer in the KB
        row("what is covered", "c", "dismissed"),
        row("", "a", "helpful"),
    ]
    fb = from_rows(rows, ARTICLES)
    assert fb.helpful == {"how do I claim": {"a"}, "what is covered": set()}
    assert fb.dismissed == {"how do I claim": {"b"}, "what is covered": {"c"}}
    assert fb.counts() == {"rows": 6, "questions": 2, "questions_helpful": 1, "helpful": 1, "dismissed": 2}


def test_feedback_joins_the_curated_pairs_which_win_and_held_out_questions_stay_out():
    curated = [("how do I claim", {"b"}), ("renew my policy", {"d"})]
    fb = Feedback(
        helpful={"how do I claim": {"a"}, "what is covered": set(), "test question": {"c"}},
        dismissed={"how do I claim": {"b", "c"}, "what is covered": {"c"}, "test question": {"a"}},
    )
    queries, negatives = training_queries(curated, fb, held_out=[("test question", {"c"})])
    assert dict(queries) == {"how do I claim": {"a", "b"}, "renew my policy": {"d"}, "what is covered": set()}
    assert negatives == {"how do I claim": {"c"}, "what is covered": {"c"}}  # b is curated: relevant
    assert training_queries(curated, None) == (curated, {})


def test_a_question_with_only_dismissed_answers_keeps_just_those_rows():
    """Its other candidates were never judged: they are not rows. Its span has no relevant
    article, so it leaves the out-of-fold nDCG alone but counts as a wrong top answer."""

    class Index:
        articles = ARTICLES

        def candidates_for(self, q, v, filters, lob):
            order = {"q1": [0, 1, 2, 3], "q2": [2, 0, 1, 3], "q3": [0, 1]}[q]
            return type(
                "Cand", (), {"articles": np.array(order), "features": np.arange(len(order))[:, None] * 1.0}
            )

    queries = [("q1", {"a"}), ("q2", set()), ("q3", set())]
    negatives = {"q2": {"c", "d"}, "q3": {"d"}}  # q3's dismissed article is not a candidate
    rows = learning.candidate_rows(Index(), queries, np.zeros((3, 2)), None, negatives)
    assert rows.spans == [(0, 4), (4, 6)] and rows.relevant == [1, 0]
    assert rows.y.tolist() == [1, 0, 0, 0, 0, 0]
    assert rows.x[4:, 0].tolist() == [0.0, 3.0]  # q2's rows: c (first candidate) and d (last)
    perfect = np.array([1.0, 0, 0, 0, 5.0, 4.0])
    assert learning.ndcg_at_10(rows, perfect) == 1.0


def test_dismissed_articles_are_hard_negatives_of_the_adapter():
    """The adapter's candidates for a question: its relevant articles, then the dismissed ones,
    then the frozen vector's top articles."""
    from features.kb.articles import chunk_article
    from features.kb.index import Fusion, KBIndex, build_bm25, chunk_texts

    chunks = [c for i, a in enumerate(ARTICLES) for c in chunk_article(i, a, max_words=50, overlap=10)]
    _, tokens = chunk_texts(ARTICLES, chunks)
    emb = np.eye(4, 8, dtype=np.float32)  # article i's chunk points along axis i
    fusion = Fusion(np.zeros(7), 0.0)
    index = KBIndex(ARTICLES, chunks, emb, build_bm25(tokens), fusion, "v1", np.zeros((4, 8), np.float32))
    q = np.array([[1.0, 0.2, 0, 0, 0, 0, 0, 0]], dtype=np.float32)  # nearest a, then b
    p = adapter.problem(index, [("q", {"b"})], q, candidates=2, negatives={"q": {"d"}})
    slots = p.slots[0][p.valid[0]]
    assert [ARTICLES[c].id for c in p.chunks[0][p.valid[0]][np.argsort(slots)]] == ["b", "d", "a"]
    assert p.relevant[0, :3].tolist() == [True, False, False]
