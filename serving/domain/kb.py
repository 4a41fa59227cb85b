"""Knowledge-base answers behind /v1/kb/*: the ccrisk-kb champion plus the feedback store."""

from __future__ import annotations

import logging

from features.kb.api import KBAnswer, KBFilters, KBModelRef, KBSearchOut
from features.kb.feedback import FeedbackStore, NotAnAnswer, UnknownQuery
from features.kb.retriever import KBRetriever
from features.settings import Settings
from serving.domain.errors import UnknownQueryId
from serving.lifecycle.loader import ChampionUnavailable, LoadedModel
from serving.lifecycle.slots import ModelSlot

logger = logging.getLogger(__name__)


def _check_retriever(loaded: LoadedModel) -> None:
    if not isinstance(loaded.python_model, KBRetriever):
        raise ChampionUnavailable(f"{loaded.name} v{loaded.version} is not a KB retriever; re-train it")


class KBService:
    def __init__(self, settings: Settings):
        self.slot = ModelSlot(settings, "kb", settings.aliases.champion, check=_check_retriever)
        self.store = FeedbackStore(settings.stores_url)
        self.slot.current.python_model.search("warm-up: how do I file a claim", top_k=1)

    @property
    def ref(self) -> KBModelRef:
        m = self.slot.current
        return KBModelRef(name=m.name, version=m.version, kb_version=m.python_model.version)

    def search(
        self, query: str, top_k: int, filters: KBFilters | None, tenant: str | None = None
    ) -> KBSearchOut:
        if not query.strip():
            raise ValueError("query: the query is empty or white space only; send the question")
        loaded = self.slot.current  # read once per request
        ref = KBModelRef(name=loaded.name, version=loaded.version, kb_version=loaded.python_model.version)
        result = loaded.python_model.search(query, top_k, filters.as_dict() if filters else None)
        ids = [h.article_id for h in result.hits]
        confident = not result.no_confident_answer
        query_id = self.store.record_search(query, ids, ref.version, ref.kb_version, tenant, confident)
        return KBSearchOut(
            query_id=query_id,
            answers=[
                KBAnswer(article_id=h.article_id, title=h.title, snippet=h.snippet, score=h.score)
                for h in result.hits
            ],
            no_confident_answer=result.no_confident_answer,
            model=ref,
        )

    def feedback(self, query_id: str, article_id: str, verdict: str, tenant: str | None = None) -> int:
        try:
            return self.store.record_feedback(query_id, article_id, verdict, tenant)
        except UnknownQuery as exc:
            raise UnknownQueryId(
                f"query_id: {query_id!r} is unknown; send the query_id a /v1/kb/search response gave"
            ) from exc
        except NotAnAnswer as exc:  # no such (query, answer) pair: a 404 like an unknown query
            raise UnknownQueryId(f"{exc.args[0]}; send one of the article_ids it answered") from exc
