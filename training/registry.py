"""Registering a trained model: its experiment, the logged pyfunc, and the gate decision applied
to the champion/challenger aliases (the decision itself is `features.registry.decide`)."""

from __future__ import annotations

import getpass
import logging
from importlib.metadata import version as installed_version
from pathlib import Path

import mlflow
from mlflow import MlflowClient

import features
from features.registry import ARTIFACT_HASH_TAG, GateDecision, alias_version, artifact_sha256
from features.settings import Settings

logger = logging.getLogger(__name__)
# Every pyfunc carries the shared contract (`features/`: its class and all it imports), so it
# loads where this repo is not: `mlflow models serve`, Spark executors, a Bento.
CODE_PATHS = [str(Path(features.__file__).resolve().parent)]
# What every pyfunc imports whatever its family (the settings, spec and table code in `features/`).
BASE_REQUIREMENTS = ["mlflow", "numpy", "pandas", "pyarrow", "polars", "pydantic", "pyyaml", "scipy"]


def ensure_experiment(name: str, settings: Settings) -> str:
    """Experiment id; a new one keeps its artifacts where `Settings.artifact_root` says."""
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    location = settings.artifact_root(mlflow.get_tracking_uri())
    if location is None:
        return mlflow.create_experiment(name)
    location.mkdir(parents=True, exist_ok=True)
    return mlflow.create_experiment(name, artifact_location=location.as_uri())


def apply_decision(
    name: str, version: str, decision: GateDecision, settings: Settings, hold: bool = False
) -> GateDecision:
    """Move the alias; tag the version with the gate outcome and the champion it replaced. With
    `hold` (`ccrisk retrain`), a version the gate would make champion becomes challenger until
    it has been compared and promoted. The decision as applied."""
    client = MlflowClient()
    if hold and decision.alias == "champion":
        reason = f"{decision.reason}; held as challenger until `ccrisk retrain` compares and promotes it"
        decision = GateDecision("challenger", reason, decision.candidate, decision.champion)
    alias = getattr(settings.aliases, decision.alias)
    previous = alias_version(name, settings.aliases.champion)
    tags = {
        "gate.decision": decision.alias,
        "gate.reason": decision.reason,
        "gate.metric": f"{decision.candidate:.6f}",
        "registered_by": _user(),
    }
    if decision.alias == "champion" and previous is not None:
        tags["previous_champion"] = previous.version
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, alias, version)
    logger.info("%s version %s -> @%s (%s)", name, version, alias, decision.reason)
    return decision


def log_and_register(
    model, signature, example, name: str, requirements: list[str], artifacts: dict[str, str] | None = None
) -> str:
    """Log `model` as the run's pyfunc artifact `model` (with extra `artifacts`, e.g. a tuned
    encoder folder), register it as `name`; the new version."""
    info = mlflow.pyfunc.log_model(
        name="model",
        python_model=model,
        artifacts=artifacts,
        signature=signature,
        input_example=example,
        registered_model_name=name,
        pip_requirements=pinned([*BASE_REQUIREMENTS, *requirements]),
        code_paths=CODE_PATHS,
    )
    version = str(info.registered_model_version)
    digest = artifact_sha256(mlflow.artifacts.download_artifacts(info.model_uri))
    MlflowClient().set_model_version_tag(name, version, ARTIFACT_HASH_TAG, digest)  # checked at load
    return version


def pinned(distributions: list[str]) -> list[str]:
    """Each distribution at the version installed here (`torch==2.13.0`, a local label such as
    `+cpu` dropped: it is not on PyPI), each once, in the order given."""
    out: dict[str, str] = {}
    for name in distributions:
        out.setdefault(name.lower(), f"{name}=={installed_version(name).split('+')[0]}")
    return list(out.values())


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers): not worth failing a run over
        return "unknown"
