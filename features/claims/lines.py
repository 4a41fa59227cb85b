"""Lines of business: each claims family of mlflow.yaml with its own spec, rules, registered model,
champion/challenger, bands and monitoring. The first is the default line (`/v1/claims/score`);
every line is also served at `/v1/claims/<spec name>/...`.

A fraud run registers under the family whose spec has the run's spec name; a spec that no family
names gets a model of its own, `ccrisk-fraud-<spec name>`, ready to be added as a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from features.claims.spec import ClaimSpec, find_rules, load_spec
from features.settings import ModelSettings, Settings

NEW_LINE_PREFIX = "ccrisk-fraud-"


@dataclass(frozen=True)
class Line:
    family: str  # its key under `models:` in mlflow.yaml
    spec: ClaimSpec
    source: str  # the spec's name or YAML file, as the settings give it
    rules: Path | None  # its rules file, if it has one
    default: bool

    @property
    def name(self) -> str:
        """The spec's name: the line's part of its URLs."""
        return self.spec.name

    @property
    def slug(self) -> str:
        """The name as an identifier (endpoint method names)."""
        return re.sub(r"\W", "_", self.name)


def claim_lines(settings: Settings) -> list[Line]:
    """Every claims family's line, the default first; two lines may not share a spec name."""
    lines = []
    for i, family in enumerate(settings.families("claims")):
        source = settings.spec_source(family)
        spec = load_spec(source)
        rules = find_rules(source, spec.name, settings.rules_file_of(family))
        lines.append(Line(family, spec, source, rules, default=i == 0))
    names = [line.name for line in lines]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"models: two claims families use the spec {repeated}; give each line its own spec")
    bad = [n for n in names if not re.fullmatch(r"[A-Za-z0-9_\-]+", n)]
    if bad:
        raise ValueError(f"spec names {bad} appear in URLs: use letters, digits, '_' and '-' only")
    return lines


def model_for_spec(settings: Settings, spec_name: str) -> tuple[str | None, ModelSettings]:
    """(family, its settings) of the line whose spec is `spec_name`; a spec no family names:
    (None, the default line's settings under the name ccrisk-fraud-<spec name>)."""
    for family in settings.families("claims"):
        if load_spec(settings.spec_source(family)).name == spec_name:
            return family, settings.model(family)
    default = settings.model(settings.families("claims")[0])
    return None, default.model_copy(update={"registered_name": NEW_LINE_PREFIX + spec_name})
