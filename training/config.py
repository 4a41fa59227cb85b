"""Typed pipeline configs loaded from YAML with `--set key.path=value` CLI overrides."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T", bound=BaseModel)


class SplitConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["stratified", "time"] = "stratified"
    test_size: float = Field(0.2, gt=0, lt=1)
    time_test_periods: int = Field(1, ge=1)


class TuningConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trials: int = Field(0, ge=0)
    timeout_s: float = Field(300, gt=0)


class BandsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    high_share: float = Field(0.05, gt=0, lt=1)
    medium_share: float = Field(0.15, ge=0, lt=1)
    min_group_rows: int = Field(200, ge=1)


class FraudTrainConfig(BaseModel):
    """Everything the fraud pipeline needs besides the data path."""

    model_config = ConfigDict(extra="forbid")
    spec: str = "vehicle_claims"
    seed: int = 42
    split: SplitConfig = SplitConfig()
    folds: int = Field(5, ge=2, le=20)
    ensemble: Literal["refit", "bag"] = "refit"
    num_boost_round: int = Field(3000, ge=1)
    early_stopping_rounds: int = Field(200, ge=1)
    imbalance: Literal["none", "balanced"] = "none"
    lightgbm: dict[str, Any] = Field(default_factory=dict)
    tuning: TuningConfig = TuningConfig()
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    bands: BandsConfig = BandsConfig()
    reason_count: int = Field(3, ge=1, le=20)
    with_feedback: bool = Field(
        False, description="add served claims with investigators' outcomes (confirmed/legitimate) as rows"
    )


def default_config_path(name: str) -> Path:
    return Path(str(resources.files("training") / "configs" / f"{name}.yaml"))


def _coerce(text: str) -> Any:
    return yaml.safe_load(text)  # "31" -> 31, "true" -> True, "[a, b]" -> list


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML) to a nested dict."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} must look like key.path=value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = _coerce(value)
    return data


def load_config(model: type[T], path: Path, overrides: list[str] | None = None) -> T:
    """Read YAML at `path`, apply overrides, validate into `model` (errors name the key)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    return model.model_validate(apply_overrides(data, overrides or []))
