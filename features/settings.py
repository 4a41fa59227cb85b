"""Platform settings from `mlflow.yaml`: tracking/registry URIs, model names, aliases, gates;
any of them overridden by an environment variable (`CCRISK_SERVING__WORKERS=4`).

Shared by training and serving. Nothing is read at import time: call `load_settings()`.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml
from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from features.settings_sections import (  # noqa: F401  (importable from here)
    RETIRED,
    Aliases,
    Capacity,
    Gate,
    ModelSettings,
    MonitoringSettings,
    SecuritySettings,
    ServingSettings,
    Shares,
    StoreSettings,
    Traffic,
)

logger = logging.getLogger(__name__)
SETTINGS_ENV = "CCRISK_SETTINGS"  # path to another mlflow.yaml
ENV_PREFIX = "CCRISK_"  # CCRISK_SERVING__WORKERS=4 overrides serving.workers (Settings)
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "BENTOML_DO_NOT_TRACK": "true",
}


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
        """The default line's rules file as set (`serving.rules_file`); None: found from the spec."""
        return self.rules_file_of(self.families("claims")[0])

    @property
    def claim_spec_source(self) -> str:
        """The default line's spec (`serving.claim_spec`): a shipped spec's name, or a YAML file
        (relative to the settings file)."""
        return self.spec_source(self.families("claims")[0])

    def spec_source(self, family: str) -> str:
        """A claims family's spec: its `spec`, else (the first claims family) serving.claim_spec."""
        default = family == self.families("claims")[0]
        given = self.model(family).spec or (self.serving.claim_spec if default else None)
        if given is None:
            raise ValueError(f"models.{family}.spec: a second line of business needs its own claim spec")
        return str(_resolve(self.root, Path(given))) if Path(given).suffix in (".yaml", ".yml") else given

    def rules_file_of(self, family: str) -> Path | None:
        """A claims family's rules file as set (`rules_file`; the first family: serving.rules_file)."""
        default = family == self.families("claims")[0]
        given = self.model(family).rules_file or (self.serving.rules_file if default else None)
        return _resolve(self.root, Path(given)) if given else None

    def sample_data_of(self, family: str) -> Path | None:
        given = self.model(family).sample_data
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
