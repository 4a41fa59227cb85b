"""Durable record of KB searches and agents' feedback on the answers (for later training).

In the shared stores' database (`stores.url`, features/ops/stores.py): a feedback row is
acknowledged only after its transaction is committed (on SQLite, synced), so an acknowledged
write survives a killed server, and feedback for a search another replica answered is accepted.
Query texts are PII-masked before they are stored. Shared by the service (writes) and training
(reads).
"""

from __future__ import annotations

import json
import time
import uuid

import sqlalchemy as sa

from features.ops.stores import kb_feedback, kb_search, open_database
from features.pii import mask_pii

VERDICTS = ("helpful", "dismissed")


class UnknownQuery(KeyError):
    """Feedback for a query id this store never handed out."""


class NotAnAnswer(LookupError):
    """Feedback naming an article that was not among the query's answers."""


class FeedbackStore:
    def __init__(self, url: str):
        self.db = open_database(url)

    def record_search(
        self,
        query: str,
        article_ids: list[str],
        model_version: str,
        kb_version: str,
        tenant: str | None = None,
        confident: bool | None = None,
    ) -> str:
        """Store a served search of `tenant` (query masked; whether it had a confident answer);
        returns the query id feedback refers to."""
        query_id = uuid.uuid4().hex
        row = {
            "query_id": query_id,
            "ts": time.time(),
            "query_masked": mask_pii(query),
            "article_ids": json.dumps(article_ids),
            "model_version": model_version,
            "kb_version": kb_version,
            "tenant": tenant,
            "confident": confident,
        }
        with self.db.write() as conn:
            conn.execute(kb_search.insert(), row)
        return query_id

    def record_feedback(self, query_id: str, article_id: str, verdict: str, tenant: str | None = None) -> int:
        """Commit one feedback row; returns its id once it is committed. A tenant's agents give
        feedback only on its own searches (another tenant's query id is unknown to them)."""
        if verdict not in VERDICTS:
            raise ValueError(f"verdict: {verdict!r} is not one of {', '.join(VERDICTS)}")
        with self.db.write() as conn:
            answers = conn.execute(
                sa.select(kb_search.c.article_ids, kb_search.c.tenant).where(kb_search.c.query_id == query_id)
            ).first()
            if answers is None or (tenant is not None and answers.tenant not in (None, tenant)):
                raise UnknownQuery(query_id)
            if article_id not in json.loads(answers[0]):
                raise NotAnAnswer(f"article_id: {article_id!r} was not among the answers to query {query_id}")
            row = {"query_id": query_id, "article_id": article_id, "verdict": verdict, "ts": time.time(),
                   "tenant": tenant}  # fmt: skip
            return int(conn.execute(kb_feedback.insert().returning(kb_feedback.c.id), row).scalar_one())

    def feedback_rows(self) -> list[dict]:
        """Every feedback row joined with its (masked) query, oldest first."""
        f, q = kb_feedback, kb_search
        columns = (
            f.c.id,
            f.c.query_id,
            q.c.query_masked,
            f.c.article_id,
            f.c.verdict,
            f.c.ts,
            q.c.model_version,
        )
        query = sa.select(*columns).join(q, f.c.query_id == q.c.query_id).order_by(f.c.id)
        with self.db.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]
