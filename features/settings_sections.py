"""The sections of the platform settings (`mlflow.yaml`): model families with their gates,
traffic, lines of business and capacity; serving, security, stores and monitoring. Assembled
and loaded by `features.settings`."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

logger = logging.getLogger(__name__)
ORIGIN = r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$"  # a web origin: scheme, host, optional port


class Gate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    metric: str
    minimum: float = Field(description="absolute floor for the champion alias")
    tolerance: float = Field(0.0, description="allowed shortfall against the current champion")
    higher_is_better: bool = True


class Traffic(BaseModel):
    """Champion/challenger on live traffic (claims scoring; other families serve the champion)."""

    model_config = ConfigDict(extra="forbid")
    mode: Literal["off", "shadow", "split"] = Field(
        "off",
        description="shadow: the challenger also scores, off the response path; split: it answers a share",
    )
    split_percent: float = Field(
        0.0, ge=0, le=100, description="split: sticky share (by claim id) to the challenger"
    )


class Shares(BaseModel):
    model_config = ConfigDict(extra="forbid")
    high_share: float | None = Field(None, gt=0, lt=1, description="share of claims in the high band")
    medium_share: float | None = Field(None, ge=0, lt=1, description="share in the medium band")


class Capacity(Shares):
    """Investigators' capacity of a claims line, applied at serve time (None: the shares trained)."""

    by_value: dict[str, Shares] = Field(
        default_factory=dict, description="shares for some values of the spec's line_of_business column"
    )

    def as_args(self) -> tuple[float | None, float | None, dict[str, tuple[float | None, float | None]]]:
        """(high, medium, by_value) for Bands.with_capacity."""
        by_value = {k: (v.high_share, v.medium_share) for k, v in self.by_value.items()}
        return self.high_share, self.medium_share, by_value


class CardText(BaseModel):
    """What a family's model cards say besides what training measures (training/model_card.py)."""

    model_config = ConfigDict(extra="forbid")
    intended_use: str | None = Field(None, description="what the model is for (default: its kind's)")
    limits: list[str] = Field(default_factory=list, description="known limits, after its kind's")


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["claims", "text", "kb"] = Field(
        description="which pipeline trains it and which part of the service serves it"
    )
    registered_name: str
    experiment: str
    gate: Gate
    traffic: Traffic = Traffic()
    spec: str | None = Field(
        None,
        description="claims: this line of business's claim spec (a shipped name or a YAML file); the "
        "first claims family's is serving.claim_spec",
    )
    rules_file: str | None = Field(
        None, description="claims: its rules YAML (default: beside the spec, or shipped with it)"
    )
    sample_data: str | None = Field(
        None, description="claims: the table `ccrisk ensure-champion` trains on when there is no champion"
    )
    capacity: Capacity | None = Field(
        None, description="claims: band shares set at serve time, overall and per line-of-business value"
    )
    card: CardText = Field(
        default_factory=CardText, description="what its model cards say beyond the measures"
    )


class Aliases(BaseModel):
    champion: str = "champion"
    challenger: str = "challenger"


RETIRED = {  # ignored with a warning: settled A/B switches (docs/decisions/0006-worker-runtime.md),
    # and the files the shared stores replaced (stores.url; `ccrisk db upgrade` imports the default ones)
    "serving": {
        "claim_on_event_loop", "columnar_batches", "lean_request_timeout", "rebalance_connections",
        "freeze_heap", "gc_thresholds", "switch_interval_ms", "polars_threads", "tracing", "feedback_db",
    },
    "security": {"audit", "keys_file"},
}  # fmt: skip


def _drop_retired(section: str, data: Any) -> Any:
    if isinstance(data, dict) and RETIRED[section] & data.keys():
        old = sorted(RETIRED[section] & data.keys())
        logger.warning("%s.%s: retired settings, ignored; delete them from the file", section, ", ".join(old))
        data = {k: v for k, v in data.items() if k not in RETIRED[section]}
    return data


class ServingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        return _drop_retired("serving", data)

    host: str = "127.0.0.1"
    port: int = 3000
    claim_spec: str = Field("vehicle_claims", description="a shipped spec's name, or a spec YAML file")
    rules_file: str | None = None
    max_batch_claims: int = Field(10000, gt=0)
    max_batch_texts: int = Field(256, gt=0, description="messages per /v1/contact/analyze_batch call")
    max_batch_chars: int = Field(
        200_000, gt=0, description="characters per /v1/contact/analyze_batch call (its cost grows with them)"
    )
    torch_threads: int = Field(
        1,
        ge=0,
        description="sentence-encoder threads per worker (ONNX Runtime or torch); 0 = all cores",
    )
    reason_count: int = Field(3, ge=1, le=20)
    workers: int = Field(2, ge=1, le=64, description="BentoML worker processes (each loads the models)")
    model_source: Literal["registry", "bento"] = Field(
        "registry",
        description="registry: the MLflow registry's aliases, followed while serving; bento: the "
        "champions packaged in the Bento being served (`ccrisk bento build`), no MLflow store needed",
    )
    alias_poll_s: float = Field(
        15.0,
        ge=0,
        description="how often each worker checks the registry aliases (0 = only on reload_models)",
    )
    access_log: bool = Field(
        False,
        description="BentoML's access log (a line per request on the server's output); the audit "
        "trail records every /v1 call (caller, endpoint, status, latency) either way",
    )
    ui_message_origins: list[Annotated[str, StringConstraints(pattern=ORIGIN)]] = Field(
        default_factory=list,
        description="origins (scheme://host[:port]) of phone systems that may frame /agent and hand "
        "it a message with postMessage; the service's own origin always may",
    )


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _retired(cls, data: Any) -> Any:
        return _drop_retired("security", data)

    auth: bool = Field(True, description="require an API key on /v1/* (false only for local experiments)")
    rate_limit_per_minute: int = Field(
        3000, ge=1, description="requests per key per minute, per worker process (token bucket)"
    )
    rate_burst: int = Field(200, ge=1, description="requests a key may send at once before limiting")
    max_body_bytes: int = Field(16 * 1024 * 1024, gt=0, description="request bodies over this get 413")
    audit_url: str | None = Field(
        None, description="SQLAlchemy URL of the audit trail (default: sqlite:///<state_dir>/audit.sqlite)"
    )
    audit_key_file: str | None = Field(
        None,
        description="the audit chain's HMAC key, outside the audit store (default: <state_dir>/audit.key; "
        "CCRISK_AUDIT_KEY overrides it)",
    )
    audit_anchor_file: str | None = Field(
        None,
        description="signed checkpoints of the chain head, outside the audit store "
        "(default: <state_dir>/audit.anchor.jsonl; put it where the store's administrators cannot write)",
    )
    rotation_grace_s: float = Field(
        86400.0, ge=0, description="after a key is rotated, its old secret still works this many seconds"
    )
    anonymous_per_minute: int = Field(
        60,
        ge=1,
        description="calls without a valid key per client address and minute before 429 (per worker)",
    )
    refusal_summary_s: float = Field(
        60.0,
        gt=0,
        description="refused anonymous calls from one address are audited as one record per interval",
    )


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(
        None,
        description="SQLAlchemy URL of the shared stores: API keys, prediction log, claims outcomes, KB "
        "searches and feedback (default: sqlite:///<state_dir>/stores.sqlite; replicas share a "
        "postgresql+psycopg://… one, migrated with `ccrisk db upgrade`)",
    )


class MonitoringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    log_predictions: bool = True
    psi_threshold: float = Field(0.2, gt=0, description="score PSI over this flags drift")
    feature_drift_share: float = Field(
        0.3, gt=0, le=1, description="dataset drift when this share of features drifts"
    )
    reference_rows: int = Field(5000, gt=0, description="training rows kept as the drift reference")
    min_rows: int = Field(
        100, ge=1, description="a statistic from fewer served rows is shown, not judged (PSI is noisy below)"
    )
    band_share_change: float = Field(
        0.10, gt=0, le=1, description="fraud: a band's served share differs from training by more than this"
    )
    length_psi: float = Field(0.25, gt=0, description="text and KB: PSI of message or question length")
    other_language_share: float = Field(
        0.10, gt=0, le=1, description="text: share of messages (4+ words) not detected as English"
    )
    embedding_drift_auc: float = Field(
        0.75, gt=0.5, le=1, description="text: a classifier tells served from training embeddings this well"
    )
    low_confidence: float = Field(
        0.6, gt=0, lt=1, description="text: an answer below this probability is unsure"
    )
    low_confidence_share: float = Field(0.40, gt=0, le=1, description="text: share of unsure answers")
    class_mix_psi: float = Field(
        0.25, gt=0, description="text: PSI of the predicted classes against training"
    )
    no_answer_rate: float = Field(
        0.40, gt=0, le=1, description="KB: share of searches with no confident answer"
    )
    feedback_acceptance: float = Field(
        0.50, gt=0, le=1, description="KB: share of agents' feedback marked helpful, at least"
    )
    alert_webhook: str | None = Field(
        None, description="`ccrisk monitor run` posts its alerts here as JSON (a chat or incident hook)"
    )
