"""Agents' feedback on KB answers as training data (`ccrisk train kb --with-feedback`).

Each feedback row says an answer the service gave to a (masked) question helped or was
dismissed. Per question and article the latest verdict counts. A question with a helpful answer
becomes a training pair like a curated one (its helpful articles are the relevant ones); every
dismissed article is a known negative of its question. A question whose answers were all
dismissed teaches the fusion only through those rows, and the query adapter not at all (its loss
needs a relevant article).

Curated labels win over feedback: a dismissed article the query file marks relevant stays
relevant. Feedback on a question that is among the held-out test queries is left out, so the
gate never scores a model on questions it learned from.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field

from features.kb.articles import Article
from features.kb.feedback import FeedbackStore
from features.settings import Settings
from features.text import SPACE
from training.kb.build import Negatives, Queries

logger = logging.getLogger(__name__)


@dataclass
class Feedback:
    """What the stored feedback teaches: questions with their helpful articles (possibly none)
    and the dismissed articles of each question."""

    helpful: dict[str, set[str]] = field(default_factory=dict)
    dismissed: Negatives = field(default_factory=dict)
    rows: int = 0  # feedback rows read (before the latest-verdict rule and unknown articles)

    @property
    def questions(self) -> int:
        return len(set(self.helpful) | set(self.dismissed))

    def counts(self) -> dict[str, int]:
        """Rows read, questions, questions with a helpful answer, helpful and dismissed pairs."""
        return {
            "rows": self.rows,
            "questions": self.questions,
            "questions_helpful": sum(1 for ids in self.helpful.values() if ids),
            "helpful": sum(len(ids) for ids in self.helpful.values()),
            "dismissed": sum(len(ids) for ids in self.dismissed.values()),
        }


def _text(query: str) -> str:
    return SPACE.sub(" ", query).strip()


def from_rows(rows: list[dict], articles: list[Article]) -> Feedback:
    """Feedback rows (`FeedbackStore.feedback_rows()`, oldest first) -> Feedback over the
    articles still in the KB."""
    known = {a.id for a in articles}
    latest: dict[tuple[str, str], str] = {}
    for r in rows:
        query = _text(r["query_masked"] or "")
        if query and r["article_id"] in known:
            latest[(query, r["article_id"])] = r["verdict"]
    out = Feedback(rows=len(rows))
    helpful, dismissed = defaultdict(set), defaultdict(set)
    for (query, article_id), verdict in latest.items():
        (helpful if verdict == "helpful" else dismissed)[query].add(article_id)
    out.helpful = {q: helpful.get(q, set()) for q in sorted(set(helpful) | set(dismissed))}
    out.dismissed = {q: dismissed[q] for q in sorted(dismissed)}  # sorted: the same pairs, however stored
    return out


def training_queries(
    curated: Queries, feedback: Feedback | None, held_out: Queries = ()
) -> tuple[Queries, Negatives]:
    """The curated training pairs joined with the feedback (same question: relevant articles
    are the union), the feedback's questions not among `held_out`, and each question's
    dismissed articles that the curated labels do not mark relevant."""
    if feedback is None:
        return list(curated), {}
    skip = {_text(q) for q, _ in held_out}
    merged: dict[str, set[str]] = {_text(q): set(ids) for q, ids in curated}
    for query, ids in feedback.helpful.items():
        if query not in skip:
            merged.setdefault(query, set()).update(ids)
    negatives = {}
    for query, ids in feedback.dismissed.items():
        if query in skip:
            continue
        keep = ids - merged.get(query, set())
        if keep:
            negatives[query] = keep
    return [(q, ids) for q, ids in merged.items() if ids or q in negatives], negatives


def stored(settings: Settings, articles: list[Article]) -> Feedback:
    """Every feedback row in the shared stores (all tenants: they share the one KB model)."""
    feedback = from_rows(FeedbackStore(settings.stores_url).feedback_rows(), articles)
    if not feedback.questions:
        logger.warning("--with-feedback: no stored feedback names an article of this KB yet")
    logger.info("KB feedback: %s", feedback.counts())
    return feedback
