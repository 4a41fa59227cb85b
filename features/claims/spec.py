"""Claim spec: the declarative description of a claims table.

The spec (YAML) names every column with its type, category levels (in their natural order for
binned fields), missing-value codes, and the business sentence used in reason codes. The API
request model (`features.claims.api`) and the feature transform (`features.claims.transform`) are
both built from it, so a new claims table needs a new spec, not new code.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

Level = str | int
DEFAULT_SPEC = "vehicle_claims"


class ColumnSpec(BaseModel):
    """One raw column of the claims table."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["integer", "number", "nominal", "ordinal"]
    label: str
    levels: list[Level] = Field(default_factory=list, description="allowed values; ordered for ordinal")
    missing_codes: list[Level] = Field(default_factory=list, description="values meaning 'unknown'")
    min: float | None = None
    max: float | None = None
    unknown: Literal["reject", "missing"] = Field(
        "reject", description="API behaviour for a value outside `levels`: 4xx, or score as missing"
    )
    feature: bool = True
    reason: str | None = Field(None, description="business sentence; {value} is replaced")

    @model_validator(mode="after")
    def _levels_for_categories(self) -> ColumnSpec:
        if self.type in ("nominal", "ordinal") and not self.levels:
            raise ValueError(f"a {self.type} column needs `levels`")
        text = self.level_strings()
        repeated = sorted({v for v in text if text.count(v) > 1})
        if repeated:
            raise ValueError(f"`levels` repeats {repeated} (compared as text); list each value once")
        return self

    @property
    def is_categorical(self) -> bool:
        return self.type in ("nominal", "ordinal")

    def level_strings(self) -> list[str]:
        return [str(v) for v in self.levels]

    def missing_strings(self) -> list[str]:
        return [str(v) for v in self.missing_codes]


class CalendarPoint(BaseModel):
    month: str
    week_of_month: str
    day_of_week: str


class CalendarGap(BaseModel):
    """Days between two (month, week of month, day of week) dates, modulo a year."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["calendar_gap"]
    name: str
    label: str
    reason: str | None = None
    start: CalendarPoint
    end: CalendarPoint


class PartsMismatch(BaseModel):
    """1 when `column` differs from the parts joined by `separator`, else 0."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["parts_mismatch"]
    name: str
    label: str
    reason: str | None = None
    column: str
    parts: list[str]
    separator: str = " "


Derived = Annotated[CalendarGap | PartsMismatch, Field(discriminator="kind")]


class ClaimSpec(BaseModel):
    """A claims table: columns, roles (identifier, target, time, line of business), derived features."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    identifier: str | None = None
    target: str | None = None
    time_column: str | None = None
    line_of_business: str | None = None
    columns: dict[str, ColumnSpec]
    derived: list[Derived] = Field(default_factory=list)
    example: dict[str, Level] | None = Field(None, description="an example claim for the API docs")

    @model_validator(mode="after")
    def _roles_are_columns(self) -> ClaimSpec:
        for role in ("time_column", "line_of_business"):
            col = getattr(self, role)
            if col is not None and col not in self.columns:
                raise ValueError(f"{role} {col!r} is not in `columns`; add it there")
        for d in self.derived:
            used = _derived_inputs(d)
            missing = [c for c in used if c not in self.columns]
            if missing:
                raise ValueError(f"derived feature {d.name!r} uses unknown columns {missing}")
        return self

    @property
    def input_columns(self) -> list[str]:
        """Raw columns a caller sends (identifier and target excluded)."""
        return list(self.columns)

    @property
    def feature_names(self) -> list[str]:
        """Model features in matrix order: raw feature columns, then derived features."""
        raw = [c for c, s in self.columns.items() if s.feature]
        return raw + [d.name for d in self.derived]

    def label_of(self, feature: str) -> str:
        if feature in self.columns:
            return self.columns[feature].label
        return next(d.label for d in self.derived if d.name == feature)

    def reason_template(self, feature: str) -> str:
        spec = self.columns.get(feature) or next(d for d in self.derived if d.name == feature)
        return spec.reason or (spec.label + ": {value}")

    def fingerprint(self) -> str:
        """Short content hash: the served API and the champion must agree on it."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


def _derived_inputs(d: CalendarGap | PartsMismatch) -> list[str]:
    if isinstance(d, CalendarGap):
        return [*d.start.model_dump().values(), *d.end.model_dump().values()]
    return [d.column, *d.parts]


def spec_path(name_or_path: str | Path = DEFAULT_SPEC) -> Path:
    """Resolve a shipped spec name (e.g. ``vehicle_claims``) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.exists():
            raise FileNotFoundError(f"claim spec {p} not found; pass an existing YAML file")
        return p
    shipped = resources.files("features.claims") / "specs" / f"{name_or_path}.yaml"
    if not shipped.is_file():
        raise FileNotFoundError(
            f"no shipped claim spec named {name_or_path!r}; pass a path to a spec YAML file"
        )
    return Path(str(shipped))


def load_spec(name_or_path: str | Path = DEFAULT_SPEC) -> ClaimSpec:
    """Load and validate a claim spec; errors name the offending key."""
    path = spec_path(name_or_path)
    return ClaimSpec.model_validate(yaml.safe_load(path.read_text()))
