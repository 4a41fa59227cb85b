"""Model registry: experiments, the promotion gate, and the champion/challenger aliases."""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from features.settings import Gate, Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GateDecision:
    alias: str
    reason: str
    candidate: float
    champion: float | None


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


def alias_version(name: str, alias: str) -> ModelVersion | None:
    """The version holding `alias`, or None (also when the model is not registered yet)."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


@dataclass(frozen=True)
class Baseline:
    """The current champion's gate metric, and how it was obtained (for the decision's reason)."""

    value: float | None
    basis: str  # e.g. "on the same test rows"; without a value: why there is none


NO_CHAMPION = Baseline(None, "no champion yet")


def decide(gate: Gate, candidate: float, baseline: Baseline = NO_CHAMPION) -> GateDecision:
    """Champion if at least the gate minimum and not worse than the champion by > tolerance."""
    sign = 1 if gate.higher_is_better else -1
    m, champion = gate.metric, baseline.value
    if sign * (candidate - gate.minimum) < 0:
        why = f"{m} {candidate:.4f} is below the gate minimum {gate.minimum}"
        return GateDecision("challenger", why, candidate, champion)
    if champion is None:
        why = f"{m} {candidate:.4f} passes the minimum {gate.minimum}; {baseline.basis}"
        return GateDecision("champion", why, candidate, champion)
    if sign * (candidate - champion) < -gate.tolerance:
        why = (
            f"{m} {candidate:.4f} is worse than the champion's {champion:.4f} {baseline.basis} "
            f"(tolerance {gate.tolerance})"
        )
        return GateDecision("challenger", why, candidate, champion)
    why = f"{m} {candidate:.4f} >= champion's {champion:.4f} - {gate.tolerance} {baseline.basis}"
    return GateDecision("champion", why, candidate, champion)


def apply_decision(name: str, version: str, decision: GateDecision, settings: Settings) -> None:
    """Move the alias; tag the version with the gate outcome and the champion it replaced."""
    client = MlflowClient()
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
        pip_requirements=requirements,
    )
    return str(info.registered_model_version)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (containers): not worth failing a run over
        return "unknown"
