"""Derived features of a claim spec: values computed from raw columns (spec.py names them in
`derived`; transform.py computes them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

DATE_TYPES = ("date", "datetime")
NUMBER_TYPES = ("integer", "number")


class CalendarPoint(BaseModel):
    month: str
    week_of_month: str
    day_of_week: str


class _Derived(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    label: str
    reason: str | None = None


class CalendarGap(_Derived):
    """Days between two (month, week of month, day of week) dates, modulo a year."""

    kind: Literal["calendar_gap"]
    start: CalendarPoint
    end: CalendarPoint


class PartsMismatch(_Derived):
    """1 when `column` differs from the parts joined by `separator`, else 0."""

    kind: Literal["parts_mismatch"]
    column: str
    parts: list[str]
    separator: str = " "


class DaysBetween(_Derived):
    """Days from the `start` date to the `end` date (fractional for datetimes; negative if end is earlier)."""

    kind: Literal["days_between"]
    start: str
    end: str


class DatePart(_Derived):
    """One part of a date: day of week (1 = Monday), month (1-12), day of month, or hour (0-23)."""

    kind: Literal["date_part"]
    column: str
    part: Literal["day_of_week", "month", "day_of_month", "hour"]


class Ratio(_Derived):
    """`numerator` / `denominator` (missing when the denominator is 0 or missing)."""

    kind: Literal["ratio"]
    numerator: str
    denominator: str


class Equals(_Derived):
    """1 when `column` equals `other` (compared as text), else 0; missing when either is."""

    kind: Literal["equals"]
    column: str
    other: str


DerivedFeature = CalendarGap | PartsMismatch | DaysBetween | DatePart | Ratio | Equals
Derived = Annotated[DerivedFeature, Field(discriminator="kind")]
NEEDS = {  # the column types each derived kind reads, by argument
    DaysBetween: ("start", "end", DATE_TYPES),
    DatePart: ("column", None, DATE_TYPES),
    Ratio: ("numerator", "denominator", NUMBER_TYPES),
}


def derived_inputs(d: DerivedFeature) -> list[str]:
    """The raw columns a derived feature reads."""
    if isinstance(d, CalendarGap):
        return [*d.start.model_dump().values(), *d.end.model_dump().values()]
    if isinstance(d, PartsMismatch):
        return [d.column, *d.parts]
    if isinstance(d, Equals):
        return [d.column, d.other]
    first, second, _ = NEEDS[type(d)]
    return [getattr(d, first)] + ([getattr(d, second)] if second else [])


def check_derived_types(d: DerivedFeature, columns: dict) -> None:
    if type(d) not in NEEDS:
        return
    allowed = NEEDS[type(d)][2]
    wrong = [c for c in derived_inputs(d) if columns[c].type not in allowed]
    if wrong:
        raise ValueError(
            f"derived feature {d.name!r} ({d.kind}) needs {' or '.join(allowed)} columns, not {wrong}"
        )
