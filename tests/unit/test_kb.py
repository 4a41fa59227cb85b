"""Knowledge base: reading articles, chunks, tokens, snippets, metrics, query files, feedback."""

import gzip
import json

import numpy as np
import pytest

from features.kb.articles import Article, chunk_article, kb_version, load_articles
from features.kb.feedback import FeedbackStore, NotAnAnswer, UnknownQuery
from features.kb.lexical import highlight, tokenize
from training.kb.data import bankfaqs, load_queries, medquad, split_queries, stackfaq
from training.kb.evaluate import query_metrics
from training.kb.fusion import Rows, confident_threshold


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_markdown_front_matter_and_heading(tmp_path):
    write(tmp_path / "a.md", "---\nid: claim-1\ntags: [claims, motor]\n---\n# Filing a claim\n\nCall us.\n")
    write(tmp_path / "plain.md", "# Windscreen\n\nChips are repaired for free.\n")
    arts = load_articles(tmp_path)
    assert [(a.id, a.title, a.body, a.tags) for a in arts] == [
        ("claim-1", "Filing a claim", "Call us.", ["claims", "motor"]),
        ("plain", "Windscreen", "Chips are repaired for free.", []),
    ]


def test_jsonl_and_csv_sources(tmp_path):
    rows = [{"id": "x1", "title": "T", "body": "B", "tags": "a;b", "line_of_business": "home"}]
    jl = write(tmp_path / "kb.jsonl", "\n".join(json.dumps(r) for r in rows))
    csv = write(tmp_path / "kb.csv", "id,title,body,tags\nx1,T,B,a;b\n")
    assert load_articles(jl)[0].tags == ["a", "b"]
    assert load_articles(csv)[0].model_dump() == {
        **load_articles(jl)[0].model_dump(),
        "line_of_business": None,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": "a b", "body": "x"}', r"kb.jsonl:1: article field 'id'"),
        ('{"id": "a", "body": ""}', r"kb.jsonl:1: article field 'body'"),
        ('{"id": "a", "body": "x"}\n{"id": "a", "body": "y"}', r"kb.jsonl:2: article id 'a' repeats"),
    ],
)
def test_bad_articles_name_the_line_and_field(tmp_path, text, message):
    with pytest.raises(ValueError, match=message):
        load_articles(write(tmp_path / "kb.jsonl", text))


def test_unknown_format_and_missing_path(tmp_path):
    with pytest.raises(ValueError, match=r"folder of \.md files, a \.jsonl or a \.csv"):
        load_articles(write(tmp_path / "kb.txt", "x"))
    with pytest.raises(FileNotFoundError, match="pass --kb PATH"):
        load_articles(tmp_path / "absent")


def test_chunks_overlap_and_cover_the_body():
    body = " ".join(f"w{i}" for i in range(250))
    chunks = chunk_article(3, Article(id="a", body=body), max_words=100, overlap=20)
    assert [len(c.text.split()) for c in chunks] == [100, 100, 90]
    assert chunks[1].text.split()[0] == "w80"
    assert chunks[-1].text.split()[-1] == "w249"
    assert {c.article for c in chunks} == {3}
    assert len(chunk_article(0, Article(id="b", body="short text"), 100, 20)) == 1


def test_kb_version_ignores_order_and_sees_edits():
    a, b = Article(id="a", body="x"), Article(id="b", body="y")
    assert kb_version([a, b]) == kb_version([b, a])
    assert kb_version([a, b]) != kb_version([a, Article(id="b", body="y!")])


def test_tokens_are_stemmed_without_stop_words():
    assert tokenize("The claims were Claimed, and the claim is open") == [
        "claim",
        "were",
        "claim",
        "claim",
        "open",
    ]


def test_highlight_marks_query_terms_and_escapes_html():
    out = highlight("Report <b>cracked</b> windscreens to the glass line.", "windscreen crack")
    assert "<mark>windscreens</mark>" in out
    assert "&lt;b&gt;" in out


def test_query_metrics():
    m = query_metrics(["x", "a", "y", "b"], {"a", "b"})
    assert m["recall_at_1"] == 0 and m["recall_at_5"] == 1
    assert m["mrr_at_10"] == 0.5
    ideal = 1 + 1 / np.log2(3)
    assert m["ndcg_at_10"] == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / ideal)
    assert query_metrics(["a"], {"a"})["ndcg_at_10"] == 1.0


def test_split_is_seeded_and_disjoint():
    qs = [(f"q{i}", {"a"}) for i in range(10)]
    train, test = split_queries(qs, 0.3, 100, seed=1)
    assert len(test) == 3 and len(train) == 7
    assert not {q for q, _ in train} & {q for q, _ in test}
    assert split_queries(qs, 0.3, 100, seed=1) == (train, test)
    assert len(split_queries(qs, 0.3, 2, seed=1)[1]) == 2


def test_query_file_checks_ids(tmp_path):
    arts = [Article(id="a", body="x"), Article(id="b", body="y")]
    path = write(tmp_path / "q.csv", "query,article_id\nhello,a\nhello,b\nbye,a;zz\n")
    with pytest.raises(ValueError, match=r"q.csv:4: article_id \['zz'\] is not in the knowledge base"):
        load_queries(path, arts)
    assert load_queries(path, arts, strict=False) == [("hello", {"a", "b"}), ("bye", {"a"})]
    with pytest.raises(ValueError, match="columns query,article_id"):
        load_queries(write(tmp_path / "bad.csv", "q,id\nx,a\n"), arts)


def test_threshold_reaches_the_target_precision():
    # four queries, two candidates each; the top candidates score 0.9, 0.8, 0.7, 0.6 and are
    # right, right, wrong, right: 90 % precision holds down to 0.8
    proba = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.5])
    y = np.array([1, 0, 1, 0, 0, 1, 1, 0])
    rows = Rows(np.zeros((8, 1)), y, [(0, 2), (2, 4), (4, 6), (6, 8)], [1, 1, 1, 1])
    assert confident_threshold(rows, proba, target=0.9) == pytest.approx(0.8)
    assert confident_threshold(rows, proba, target=0.7) == pytest.approx(0.6)
    # the right top answers score 0.9, 0.8 and 0.6: keeping 2/3 of them confident lifts it to 0.8
    assert confident_threshold(rows, proba, target=0.7, right_share=2 / 3) == pytest.approx(0.8)


def test_feedback_is_stored_and_checked(tmp_path):
    store = FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite'}")
    qid = store.record_search("call me on 07700 900123 about my claim", ["a", "b"], "3", "kbv")
    assert store.record_feedback(qid, "b", "helpful") == 1
    with pytest.raises(UnknownQuery):
        store.record_feedback("nope", "a", "helpful")
    with pytest.raises(NotAnAnswer, match="article_id: 'c' was not among the answers"):
        store.record_feedback(qid, "c", "helpful")
    with pytest.raises(ValueError, match="verdict: 'meh'"):
        store.record_feedback(qid, "a", "meh")
    rows = FeedbackStore(f"sqlite:///{tmp_path / 'fb.sqlite'}").feedback_rows()  # a fresh connection sees it
    assert [(r["article_id"], r["verdict"]) for r in rows] == [("b", "helpful")]
    assert "07700" not in rows[0]["query_masked"]


def gz(path, text):
    path.write_bytes(gzip.compress(text.encode()))
    return path


def test_medquad_reader_keeps_held_out_answers_and_merges_duplicates(tmp_path):
    rows = [
        {
            "pair_id": "p1",
            "question": "What is X ?",
            "answer": "X is a disease.",
            "has_answer": True,
            "focus": "X",
        },
        {"pair_id": "p2", "question": None, "answer": "X is treated.", "has_answer": True, "held_out": True},
        {"pair_id": "p3", "question": "What is X ?", "answer": "X  is a disease.", "has_answer": True},
        {"pair_id": "p4", "question": "Drug?", "answer": None, "has_answer": False},
    ]
    arts, queries = medquad(gz(tmp_path / "m.jsonl.gz", "\n".join(json.dumps(r) for r in rows)))
    assert [a.id for a in arts] == ["p1", "p2"] and arts[0].title == "X"
    assert queries == [("what is x ?", {"p1"})]


def test_bankfaqs_and_stackfaq_readers(tmp_path):
    csv = "Question,Answer,Class,held_out\nHow to pay?,Pay online.,loans,0\n,Call us.,cards,1\n"
    arts, queries = bankfaqs(gz(tmp_path / "b.csv.gz", csv))
    assert [a.line_of_business for a in arts] == ["loans", "cards"]
    assert queries == [("how to pay?", {"bank-0000"})]
    thread = {
        "thread_id": "T000",
        "question": "Reset?",
        "answers": [{"rank": 2, "text": "B"}, {"rank": 1, "text": "A"}],
    }
    gz(tmp_path / "stackfaq_queries_dev.tsv.gz", "query_id\tthread_id\ttext\nq1\tT000\thow to reset\n")
    arts, queries = stackfaq(gz(tmp_path / "stackfaq_threads.jsonl.gz", json.dumps(thread)))
    assert arts[0].body == "A\n\nB" and queries == [("how to reset", {"T000"})]
