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
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.claims.derived import (  # noqa: F401  (the derived kinds are importable from here)
    DATE_TYPES,
    CalendarGap,
    DatePart,
    DaysBetween,
    Derived,
    Equals,
    PartsMismatch,
    Ratio,
    check_derived_types,
    derived_inputs,
)

Level = str | int
DEFAULT_SPEC = "vehicle_claims"
SPEC_ARTIFACT = "config/claim_spec.yaml"  # a fraud run's spec as its model uses it
RULES_SUFFIX = ".rules.yaml"  # rules beside a spec file: claims.yaml -> claims.rules.yaml
# Columns a caller sends that are never model features: dates feed derived features; free text and
# other ids are accepted, but kept out of the features, the reasons and the prediction log.
INPUT_ONLY = (*DATE_TYPES, "text", "id")
DEFAULT_FORMATS = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S"}
ColumnType = Literal["integer", "number", "nominal", "ordinal", "date", "datetime", "text", "id"]


class ColumnSpec(BaseModel):
    """One raw column of the claims table."""

    model_config = ConfigDict(extra="forbid")

    type: ColumnType
    label: str
    levels: list[Level] = Field(default_factory=list, description="allowed values; ordered for ordinal")
    top_levels: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="nominal only: learn the N most frequent levels from the training data (no "
        "`levels` list); other values score as one 'other' level",
    )
    missing_codes: list[Level] = Field(
        default_factory=list, description="values meaning 'unknown' (e.g. '?', 0, 'N/A'), any type"
    )
    format: str | None = Field(None, description="date/datetime: strptime format, e.g. '%d/%m/%Y'")
    min: float | None = None
    max: float | None = None
    unknown: Literal["reject", "missing"] = Field(
        "reject", description="API behaviour for a value outside `levels`: 4xx, or score as missing"
    )
    feature: bool = True
    reason: str | None = Field(None, description="business sentence; {value} is replaced")
    protected: Literal["exclude", "no_reasons"] | None = Field(
        None,
        description="a protected attribute (sex, age, marital status...): exclude = never a feature; "
        "no_reasons = a feature that is never given as a reason. Either way every training run "
        "reports its per-group metrics",
    )

    @model_validator(mode="after")
    def _levels_for_categories(self) -> ColumnSpec:
        if self.top_levels is not None and self.type != "nominal":
            raise ValueError(f"`top_levels` is for nominal columns, not {self.type}")
        if self.type in ("nominal", "ordinal") and not self.levels and self.top_levels is None:
            hint = (
                " (or `top_levels: N` to learn them from the training data)" if self.type == "nominal" else ""
            )
            raise ValueError(f"a {self.type} column needs `levels`{hint}")
        if self.format is not None and not self.is_temporal:
            raise ValueError("`format` is for date and datetime columns")
        if self.type in INPUT_ONLY:
            if self.feature and "feature" in self.model_fields_set:
                raise ValueError(
                    f"a {self.type} column is never a feature itself"
                    + ("; derive one (days_between, date_part)" if self.is_temporal else "")
                )
            self.feature = False
        if self.protected == "exclude":
            self.feature = False
        text = self.level_strings()
        repeated = sorted({v for v in text if text.count(v) > 1})
        if repeated:
            raise ValueError(f"`levels` repeats {repeated} (compared as text); list each value once")
        return self

    @property
    def is_categorical(self) -> bool:
        return self.type in ("nominal", "ordinal")

    @property
    def is_temporal(self) -> bool:
        return self.type in ("date", "datetime")

    @property
    def is_integer(self) -> bool:
        return self.type == "integer"

    @property
    def is_numeric(self) -> bool:
        return self.type in ("integer", "number")

    @property
    def open_levels(self) -> bool:
        """Any value is accepted: unknown ones score as missing, or as 'other' (top_levels)."""
        return self.is_categorical and (self.unknown == "missing" or self.top_levels is not None)

    @property
    def date_format(self) -> str:
        return self.format or DEFAULT_FORMATS[self.type]

    def level_strings(self) -> list[str]:
        return [str(v) for v in self.levels]

    def missing_strings(self) -> list[str]:
        return [str(v) for v in self.missing_codes]

    def missing_numbers(self) -> list[float]:
        """The missing codes that are numbers (a numeric column's '?' is read as text)."""
        return [float(v) for v in self.missing_codes if is_number(v)]

    def missing_words(self) -> list[str]:
        """The missing codes that are not numbers ('?', 'N/A')."""
        return [str(v) for v in self.missing_codes if not is_number(v)]


def is_number(value: Level) -> bool:
    """A level or code that reads as a number (1, "0", "2.5"); not '?' or 'N/A'."""
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


class ClaimSpec(BaseModel):
    """A claims table: columns, roles (identifier, target, time, line of business), derived features."""

    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    identifier: str | None = None
    target: str | None = None
    positive: list[Level] = Field(
        default_factory=lambda: [1],
        description="target values that mean fraud, compared as text without case: e.g. [Y, yes, 1]",
    )
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
            missing = [c for c in derived_inputs(d) if c not in self.columns]
            if missing:
                raise ValueError(f"derived feature {d.name!r} uses unknown columns {missing}")
            check_derived_types(d, self.columns)
        taken = set(self.columns) & {d.name for d in self.derived}
        if taken:
            raise ValueError(f"derived features {sorted(taken)} have the names of columns; rename them")
        return self

    @property
    def input_columns(self) -> list[str]:
        """Raw columns a caller sends (identifier and target excluded)."""
        return list(self.columns)

    @property
    def needed_columns(self) -> list[str]:
        """Raw columns scoring reads: the feature columns and every column a derived feature uses."""
        used = {c for d in self.derived for c in derived_inputs(d)}
        return [c for c, s in self.columns.items() if s.feature or c in used]

    @property
    def private_columns(self) -> list[str]:
        """Free text and ids: accepted, never features, never written to the prediction log."""
        return [c for c, s in self.columns.items() if s.type in ("text", "id")]

    @property
    def protected_columns(self) -> list[str]:
        return [c for c, s in self.columns.items() if s.protected]

    @property
    def learned_columns(self) -> list[str]:
        return [c for c, s in self.columns.items() if s.top_levels is not None]

    def with_levels(self, learned: dict[str, list[str]]) -> ClaimSpec:
        """A copy whose `top_levels` columns hold the levels learned from training data."""
        columns = {
            c: s.model_copy(update={"levels": list(learned[c])}) if c in learned else s
            for c, s in self.columns.items()
        }
        return self.model_copy(update={"columns": columns})

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
        """Short content hash of the spec as written (levels learned in training left out): the
        served API and the champion must agree on it."""
        data = self.model_dump(mode="json")
        for c in self.learned_columns:
            data["columns"][c]["levels"] = []
        blob = json.dumps(data, sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


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


def default_rules_path(spec_name: str) -> Path:
    return Path(str(resources.files("features.claims") / "rules" / f"{spec_name}.yaml"))


def find_rules(spec_source: str | Path, spec_name: str, given: Path | None = None) -> Path | None:
    """The rules file for a spec: `given` (--rules, serving.rules_file); else `<spec>.rules.yaml`
    beside a spec file; else the rules shipped under the spec's name; else None (no rules)."""
    if given is not None:
        if not Path(given).is_file():
            raise FileNotFoundError(f"rules file {given} not found; pass an existing YAML file")
        return Path(given)
    source = Path(spec_source)
    if source.suffix in (".yaml", ".yml"):
        beside = source.with_name(source.stem + RULES_SUFFIX)
        if beside.is_file():
            return beside
    shipped = default_rules_path(spec_name)
    return shipped if shipped.is_file() else None


def load_spec(name_or_path: str | Path = DEFAULT_SPEC) -> ClaimSpec:
    """Load and validate a claim spec; errors name the offending key."""
    path = spec_path(name_or_path)
    return ClaimSpec.model_validate(yaml.safe_load(path.read_text()))
