"""The project's sample knowledge base and its agent queries."""

import csv
from collections import Counter

from features.kb.articles import load_articles
from tests.conftest import SAMPLE_KB, SAMPLE_KB_QUERIES

TOPICS = {
    "claim-file-motor",
    "claim-status",
    "claim-documents",
    "premium-payment",
    "premium-grace-period",
    "cancel-policy",
    "add-driver",
    "id-card",
    "coverage-basics-motor",
    "deductible",
    "windshield",
    "travel-coverage",
    "health-pre-authorisation",
    "complaints-procedure",
}


def test_sample_kb_covers_the_topics_agents_need():
    articles = load_articles(SAMPLE_KB)
    assert len(articles) >= 60
    assert {a.id for a in articles} >= TOPICS
    assert all(a.title and len(a.body.split()) >= 30 for a in articles)
    assert {a.line_of_business for a in articles} >= {"motor", "home", "travel", "health", "life", "general"}


def test_every_sample_query_names_an_article_and_most_articles_have_queries():
    ids = {a.id for a in load_articles(SAMPLE_KB)}
    with open(SAMPLE_KB_QUERIES, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= 100
    assert {r["article_id"] for r in rows} <= ids
    assert len({r["article_id"] for r in rows}) >= 0.9 * len(ids)
    assert max(Counter(r["query"] for r in rows).values()) == 1
