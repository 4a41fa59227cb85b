"""Pydantic API models built from the claim spec (request) plus the fixed response models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    create_model,
)

from features.claims.spec import ClaimSpec, ColumnSpec

CLAIM_ID_MAX_LENGTH = 128
TEXT_MAX_LENGTH = 4000  # a free-text or id field of a claim


def field_type(cs: ColumnSpec) -> Any:
    """A spec column's request type, without bounds (also the batch decoder's, features/claims/wire.py)."""
    if cs.is_categorical and not cs.open_levels:
        return Literal[tuple(cs.levels + cs.missing_codes)]
    if cs.is_categorical:
        return str | int
    if not cs.is_numeric:  # dates (checked against their format), free text, ids
        return str
    number = int if cs.type == "integer" else float
    codes = text_codes(cs)
    return number | Literal[tuple(codes)] if codes else number


def text_codes(cs: ColumnSpec) -> list[str]:
    """A numeric column's missing codes that are not numbers ('?', 'N/A'): sent as they are."""
    return cs.missing_words() if cs.is_numeric else []


def _date_checker(cs: ColumnSpec) -> Any:
    """A date field's check: its format, or ISO 8601 (what the OpenAPI schema declares), or one of
    its missing codes. A date comes back as ISO text (a time zone converted to UTC), which the
    encoder reads whatever the spec's format (features/claims/transform.py `date_expr`)."""
    allowed = set(cs.missing_strings())

    def check(value: str) -> str:
        text = value.strip()
        if text in allowed:
            return value
        for parse in (lambda t: datetime.strptime(t, cs.date_format), datetime.fromisoformat):
            try:
                when = parse(text)
            except ValueError:
                continue
            if when.tzinfo is not None:
                when = when.astimezone(UTC).replace(tzinfo=None)
            return when.date().isoformat() if cs.type == "date" else when.isoformat(sep=" ")
        example = datetime(2024, 1, 31, 14, 30).strftime(cs.date_format)
        raise ValueError(
            f"expected a {cs.type} in the format {cs.date_format!r} or ISO 8601, e.g. {example!r}"
        )

    iso = {"date": "date", "datetime": "date-time"}[cs.type]
    return Annotated[str, AfterValidator(check), Field(json_schema_extra={"format": iso})]


def _not_a_bool(value: Any) -> Any:
    """JSON true/false is not a number or a level: pydantic's lax mode would read it as 1/0."""
    if isinstance(value, bool):
        raise ValueError("send a number or one of the listed values, not true/false")
    return value


def _request_type(cs: ColumnSpec) -> Any:
    base = field_type(cs)
    if cs.is_temporal:
        return _date_checker(cs)
    if cs.type in ("text", "id"):
        return Annotated[base, Field(max_length=TEXT_MAX_LENGTH)]
    if cs.is_numeric and text_codes(cs):  # the bounds on the number, not on the '?' beside it
        kind = int if cs.is_integer else float
        number = Annotated[kind, Field(ge=cs.min, le=cs.max)]
        codes = text_codes(cs)  # an enum even for one code: OpenAPI 3.0 has no `const`
        words = Annotated[Literal[tuple(codes)], WithJsonSchema({"type": "string", "enum": codes})]
        return Annotated[number, BeforeValidator(_not_a_bool)] | words
    return base if cs.is_categorical and not cs.open_levels else Annotated[base, BeforeValidator(_not_a_bool)]


def _field(name: str, cs: ColumnSpec) -> tuple[Any, Any]:
    desc = cs.label
    if cs.is_categorical:
        if cs.top_levels is not None:
            desc += f"; any value (the {cs.top_levels} most frequent in training are told apart)"
        else:
            desc += f"; one of {cs.levels}" + (
                " (others are scored as unknown)" if cs.unknown == "missing" else ""
            )
    if cs.is_temporal:
        desc += f"; format {cs.date_format!r} or ISO 8601"
    if cs.missing_codes:
        desc += f"; {cs.missing_codes} means unknown"
    bounds = {"ge": cs.min, "le": cs.max} if cs.is_numeric and not text_codes(cs) else {}
    example = cs.levels[0] if cs.levels else (cs.min if cs.min is not None else 0)
    if cs.is_temporal:
        example = "2024-01-31" if cs.type == "date" else "2024-01-31 14:30:00"
    if not cs.feature:
        return (
            _request_type(cs) | None,
            Field(None, description=desc + " (optional, not a feature)", **bounds),
        )
    # OpenAPI 3.0 `example` (singular): BentoML's spec builder rejects the plural form.
    return (_request_type(cs), Field(..., description=desc, json_schema_extra={"example": example}, **bounds))


def claim_model(spec: ClaimSpec, name: str = "Claim") -> type[BaseModel]:
    """Request model for one claim: every spec column, typed and bounded; unknown keys rejected."""
    example = {"claim_id": "CLM-0001", **spec.example} if spec.example else None
    fields: dict[str, Any] = {
        "claim_id": (
            str | None,
            Field(None, max_length=CLAIM_ID_MAX_LENGTH, description="the claims system's id, echoed back"),
        ),
    }
    fields.update({name: _field(name, cs) for name, cs in spec.columns.items()})
    config = ConfigDict(extra="forbid", json_schema_extra={"example": example} if example else None)
    return create_model(name, __config__=config, **fields)


def claim_inputs(claim: BaseModel) -> dict[str, Any]:
    """A validated claim's spec columns as a plain dict (`claim_id` left out).

    Equal to `claim.model_dump(exclude={"claim_id"})` for `claim_model` claims, whose fields
    are plain str/int/float/None, at a twentieth of the cost (0.3 vs 6.6 us a claim: 10,000-claim
    batches are dumped twice, for scoring and for the prediction log)."""
    inputs = dict(claim.__dict__)
    inputs.pop("claim_id", None)
    return inputs


def claim_columns(claims: list[BaseModel]) -> dict[str, list[Any]]:
    """Validated claims' spec columns as one list per column (`claim_id` left out).

    The same frame as `pl.DataFrame([claim_inputs(c) for c in claims])`, in about half the time
    for a 10,000-claim batch (Polars builds columns from lists faster than from row dicts)."""
    rows = [c.__dict__ for c in claims]
    return {name: [r[name] for r in rows] for name in rows[0] if name != "claim_id"}


Explain = Annotated[
    Literal["all", "flagged", "none"],
    Field(description="which claims get reasons: all, flagged (medium/high band) or none"),
]
EXPLAIN_MODES: tuple[str, ...] = get_args(get_args(Explain)[0])  # the scorer's and the batch decoder's


class RuleHit(BaseModel):
    """A rule that fired on a claim (what the API returns beside the score)."""

    model_config = ConfigDict(frozen=True)
    id: str
    description: str
    severity: Literal["low", "medium", "high"]
    escalate: Literal["medium", "high"] | None = Field(
        None, description="the band this rule raises a claim to"
    )
    review: bool = Field(False, description="this rule sends the claim to manual review")


class ReasonOut(BaseModel):
    feature: str = Field(description="model feature")
    label: str = Field(description="feature in business words")
    value: str = Field(description="the claim's value ('unknown' when missing)")
    contribution: float = Field(description="TreeSHAP contribution to the log-odds (+ raises risk)")
    text: str = Field(description="business sentence")


class ModelRef(BaseModel):
    name: str
    version: str
    run_id: str
    rules_version: str = Field(description="business-rules library version used for rules_hit")


class ClaimScore(BaseModel):
    claim_id: str | None
    fraud_probability: float = Field(ge=0, le=1, description="calibrated probability of fraud")
    risk_band: Literal["low", "medium", "high"] = Field(
        description="the model's band, raised by any rule that escalates (band_raised_by)"
    )
    model_risk_band: Literal["low", "medium", "high"] = Field(
        description="the band from the probability alone"
    )
    band_raised_by: str | None = Field(None, description="id of the rule that raised the band, if one did")
    manual_review: bool = Field(False, description="a rule hit sends this claim to manual review")
    reasons: list[ReasonOut] = Field(
        description="top contributing features, risk-raising first (empty for a low-band claim when "
        'a batch asked for "explain": "flagged", and for every claim with "none")'
    )
    rules_hit: list[RuleHit]
    model: ModelRef
    variant: Literal["champion", "challenger"] = Field(
        "champion",
        description="which registry alias answered (split mode sends a sticky share to the challenger)",
    )


class BatchScore(BaseModel):
    count: int
    results: list[ClaimScore]


Outcome = Annotated[
    Literal["confirmed_fraud", "legitimate", "inconclusive"],
    Field(description="the investigation's finding for the claim"),
]


class ClaimFeedbackOut(BaseModel):
    stored: bool = Field(description="true once the outcome is committed to disk")
    feedback_id: int
