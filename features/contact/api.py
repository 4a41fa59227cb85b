"""Request/response models of the contact-text endpoints (/v1/contact/...)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from features.text import NOT_ONLY_SPACE

MAX_TEXT_CHARS = 20000
Channel = Literal["chat", "email", "phone", "social", "web", "other"]
Text = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description=f"the customer's message, 1 to {MAX_TEXT_CHARS} characters",
        json_schema_extra={
            "example": "Third time I'm asking: my new card still hasn't arrived!",
            "pattern": NOT_ONLY_SPACE,
        },
    ),
]
KeyPhraseMode = Annotated[
    Literal["all", "flagged", "none"],
    Field(description="key phrases for every message, only flagged ones (medium/high band), or none"),
]


class ContactMessage(BaseModel):
    text: Text
    channel: Channel | None = None


class KeyPhraseOut(BaseModel):
    text: str
    impact: float = Field(description="complaint probability with the phrase minus without it")


class ComplaintOut(BaseModel):
    probability: float
    band: Literal["low", "medium", "high"]
    key_phrases: list[KeyPhraseOut]


class LabelScore(BaseModel):
    label: str
    probability: float


class TopicOut(BaseModel):
    label: str
    probability: float
    top3: list[LabelScore]


class IntentOut(TopicOut):
    low_confidence: bool = Field(
        description="top probability below the model's threshold: ask or route to a person"
    )


class TextModelRef(BaseModel):
    task: str
    name: str
    version: str
    run_id: str


class ContactAnalysis(BaseModel):
    complaint: ComplaintOut
    topic: TopicOut
    intent: IntentOut
    truncated: bool = Field(description="the text was longer than the models read; its end was ignored")
    masked_text: str | None = Field(
        None, description="the message with personal data replaced by its type ([PERSON], [PHONE], ...)"
    )
    models: list[TextModelRef]


class ContactBatch(BaseModel):
    count: int
    results: list[ContactAnalysis]
