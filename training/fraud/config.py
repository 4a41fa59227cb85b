"""The fraud pipeline's typed config (`training/configs/fraud.yaml`, `--set` overrides)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


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


class FairnessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_alert_ratio: float = Field(
        0.8, ge=0, le=1, description="warn below this lowest/highest alert rate between protected groups"
    )
    min_group_rows: int = Field(30, ge=1, description="smaller groups of test claims are not reported")


class FraudTrainConfig(BaseModel):
    """Everything the fraud pipeline needs besides the data path."""

    model_config = ConfigDict(extra="forbid")
    spec: str = "vehicle_claims"
    rules: str | None = Field(
        None, description="rules YAML; default: <spec>.rules.yaml beside a spec file, or the shipped rules"
    )
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
    fairness: FairnessConfig = FairnessConfig()
    with_feedback: bool = Field(
        False, description="add served claims with investigators' outcomes (confirmed/legitimate) as rows"
    )
