"""Platform settings from `mlflow.yaml`: tracking/registry URIs, model names, aliases, gates;
any of them overridden by an environment variable (`CCRISK_SERVING__WORKERS=4`).

Shared by training and serving. Nothing is read at import time: call `load_settings()`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

logger = logging.getLogger(__name__)
SETTINGS_ENV = "CCRISK_SETTINGS"  # path to another mlflow.yaml
ENV_PREFIX = "CCRISK_"  # CCRISK_SERVING__WORKERS=4 overrides serving.workers (Settings)
ORIGIN = r"^https?://[A-Za-z0-9.\-]+(:\d{1,5})?$"  # a web origin: scheme, host, optional port
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}


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


class ModelSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["claims", "text", "kb"] = Field(
        description="which pipeline trains it and which part of the service serves it"
    )
    registered_name: str
    experiment: str
    gate: Gate
    traffic: Traffic = Traffic()


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
    claim_spec: str = "vehicle_claims"
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


class Settings(BaseSettings):
    """The settings file, with any setting overridden by an environment variable: CCRISK_ plus
    its path joined by `__`, e.g. CCRISK_SERVING__WORKERS=4 or CCRISK_SECURITY__RATE_BURST=50
    (lists and mappings as JSON), so a container needs no edited YAML."""

    model_config = SettingsConfigDict(extra="forbid", env_prefix=ENV_PREFIX, env_nested_delimiter="__")
    root: Path = Field(Path("."), description="folder of the settings file; relative paths start here")
    state_dir: Path
    tracking_uri: str
    artifact_location: Path
    aliases: Aliases = Aliases()
    models: dict[str, ModelSettings]
    serving: ServingSettings = ServingSettings()
    security: SecuritySettings = SecuritySettings()
    stores: StoreSettings = StoreSettings()
    monitoring: MonitoringSettings = MonitoringSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):  # fmt: skip
        """The environment wins over the file (passed in as init values); no .env or secrets files."""
        return env_settings, init_settings

    def families(self, kind: str | None = None) -> list[str]:
        """The model families of `mlflow.yaml` (the one list of them), optionally of one kind;
        claims first, then text, then KB, each in file order."""
        order = ("claims", "text", "kb")
        ranked = sorted(self.models.items(), key=lambda item: order.index(item[1].kind))
        return [name for name, m in ranked if kind is None or m.kind == kind]

    def model(self, family: str) -> ModelSettings:
        if family not in self.models:
            raise KeyError(f"no model family {family!r} in mlflow.yaml; known: {sorted(self.models)}")
        return self.models[family]

    @property
    def state_path(self) -> Path:
        return _resolve(self.root, self.state_dir)

    @property
    def artifact_path(self) -> Path:
        return _resolve(self.root, self.artifact_location)

    def _state_file(self, given: str | None, default: str) -> Path:
        """A file named in the settings (relative to the settings file), else one in state_dir."""
        return _resolve(self.root, Path(given)) if given else self.state_path / default

    @property
    def rules_path(self) -> Path | None:
        """`serving.rules_file` (relative to the settings file); None: the spec's shipped rules."""
        given = self.serving.rules_file
        return _resolve(self.root, Path(given)) if given else None

    @property
    def stores_url(self) -> str:
        """The shared stores' database (features/ops/stores.py)."""
        return self.stores.url or f"sqlite:///{self.state_path / 'stores.sqlite'}"

    @property
    def audit_url(self) -> str:
        return self.security.audit_url or f"sqlite:///{self.state_path / 'audit.sqlite'}"

    @property
    def audit_key_path(self) -> Path:
        return self._state_file(self.security.audit_key_file, "audit.key")

    @property
    def audit_anchor_path(self) -> Path:
        return self._state_file(self.security.audit_anchor_file, "audit.anchor.jsonl")

    @property
    def monitoring_path(self) -> Path:
        return self.state_path / "monitoring"

    def configured_tracking_uri(self) -> str:
        """The store in the settings file; a relative sqlite path is anchored at its folder."""
        uri, prefix = self.tracking_uri, "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            uri = prefix + str(_resolve(self.root, Path(uri[len(prefix) :])))
        return uri

    def resolved_tracking_uri(self) -> str:
        """MLFLOW_TRACKING_URI wins over the settings file."""
        return os.environ.get("MLFLOW_TRACKING_URI") or self.configured_tracking_uri()

    def artifact_root(self, tracking_uri: str) -> Path | None:
        """Where a new experiment keeps artifacts: `artifact_location` for the configured store,
        beside the database for another sqlite store, the server's choice otherwise."""
        if tracking_uri == self.configured_tracking_uri():
            return self.artifact_path
        if tracking_uri.startswith("sqlite:///"):
            return Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts"
        return None


def _resolve(root: Path, p: Path) -> Path:
    """`p` with `~` expanded, relative to `root` unless absolute."""
    p = p.expanduser()
    return p if p.is_absolute() else (root / p).resolve()


def find_settings_file(start: Path | None = None) -> Path:
    """$CCRISK_SETTINGS, else the nearest mlflow.yaml from `start` (default: cwd) upwards."""
    if os.environ.get(SETTINGS_ENV):
        return Path(os.environ[SETTINGS_ENV])
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "mlflow.yaml").is_file():
            return folder / "mlflow.yaml"
    packaged = Path(__file__).resolve().parent.parent / "mlflow.yaml"
    if packaged.is_file():
        return packaged
    raise FileNotFoundError(f"no mlflow.yaml found from {here} upwards; set {SETTINGS_ENV}=PATH")


def load_settings(path: Path | None = None) -> Settings:
    path = Path(path) if path else find_settings_file()
    data = yaml.safe_load(path.read_text()) or {}
    try:
        return Settings(**{**data, "root": path.resolve().parent})
    except ValidationError as exc:
        raise ValueError(f"settings in {path} or the environment: {_named(exc)}") from exc


def _named(exc: ValidationError) -> str:
    """Each bad setting as its path, with the environment variable that set it when one did."""
    parts = []
    for error in exc.errors():
        path = ".".join(str(p) for p in error["loc"])
        var = ENV_PREFIX + "__".join(str(p) for p in error["loc"]).upper()
        source = f" (from {var})" if var in os.environ else ""
        parts.append(f"{path}{source}: {error['msg']}")
    return "; ".join(parts)


def prepare_environment(settings: Settings) -> None:
    """Offline and no-telemetry switches, BentoML home and encoder cache inside the state dir,
    MLflow URIs."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    state = settings.state_path
    state.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("BENTOML_HOME", str(state / "bentoml"))
    os.environ.setdefault("CCRISK_ENCODER_CACHE", str(state / "encoders"))  # ONNX exports
    uri = settings.resolved_tracking_uri()
    os.environ["MLFLOW_TRACKING_URI"] = uri
