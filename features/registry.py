"""The registry facts training, serving and operations share: which version an alias points
at, and the promotion gate's decision (the gates themselves live in `mlflow.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, ErrorCode

from features.settings import Gate

_NO_MODEL = ErrorCode.Name(RESOURCE_DOES_NOT_EXIST)
_BAD_VALUE = ErrorCode.Name(INVALID_PARAMETER_VALUE)  # MLflow's code for "alias ... not found"


def alias_version(name: str, alias: str) -> ModelVersion | None:
    """The version holding `alias`, or None when the model or the alias does not exist.

    Only "does not exist" means None: any other registry error (a locked store, a tracking
    server that cannot be reached) is raised, so that a caller never reads a hiccup as the
    alias having been removed."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException as exc:
        if exc.error_code == _NO_MODEL or (exc.error_code == _BAD_VALUE and "not found" in exc.message):
            return None
        raise


@dataclass(frozen=True)
class GateDecision:
    alias: str
    reason: str
    candidate: float
    champion: float | None


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
