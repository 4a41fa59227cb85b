"""Request/response models of the knowledge-base endpoints (/v1/kb/...)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from features.text import NOT_ONLY_SPACE

MAX_QUERY_CHARS = 2000
Query = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description=f"the agent's or customer's question, 1 to {MAX_QUERY_CHARS} characters",
        json_schema_extra={
            "example": "customer's windscreen is cracked, is it covered?",
            "pattern": NOT_ONLY_SPACE,
        },
    ),
]
TopK = Annotated[int, Field(ge=1, le=50, description="answers to return (1 to 50)")]


class KBFilters(BaseModel):
    """Only articles matching every given filter (any of the listed values) are returned."""

    model_config = ConfigDict(extra="forbid")
    line_of_business: list[str] | None = Field(None, examples=[["motor", "general"]])
    tags: list[str] | None = Field(None, examples=[["claims"]])

    def as_dict(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.model_dump().items() if v}


class KBAnswer(BaseModel):
    article_id: str
    title: str
    snippet: str = Field(description="the best-matching passage; query terms wrapped in <mark>")
    score: float = Field(description="fused relevance, a probability that the article answers")


class KBModelRef(BaseModel):
    name: str
    version: str
    kb_version: str = Field(description="content hash of the knowledge base the index was built from")


class KBSearchOut(BaseModel):
    query_id: str = Field(description="send it back with /v1/kb/feedback")
    answers: list[KBAnswer]
    no_confident_answer: bool = Field(
        description="the best score is under the model's calibrated threshold: answers are suggestions only"
    )
    model: KBModelRef


Verdict = Annotated[
    Literal["helpful", "dismissed"], Field(description="helpful: the agent used it; dismissed: not relevant")
]


class KBFeedbackOut(BaseModel):
    stored: bool = Field(description="true once the feedback is committed to disk")
    feedback_id: int
