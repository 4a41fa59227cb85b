"""The registry facts training, serving and operations share: which version an alias points
at, and the promotion gate's decision (the gates themselves live in `mlflow.yaml`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

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


ARTIFACT_HASH_TAG = "artifact_sha256"
_WRITTEN_ON_DOWNLOAD = {"registered_model_meta"}  # MLflow adds it when a models:/NAME/VERSION is fetched


def artifact_sha256(folder: str | Path) -> str:
    """SHA-256 over a model's files (relative paths and contents, in path order): logged as the
    version's `artifact_sha256` tag at registration, checked by the service before it loads."""
    root, digest = Path(folder), hashlib.sha256()
    files = (
        p
        for p in root.rglob("*")
        if p.is_file() and p.relative_to(root).as_posix() not in _WRITTEN_ON_DOWNLOAD
    )
    for path in sorted(files):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        with path.open("rb") as f:
            for block in iter(lambda f=f: f.read(1 << 20), b""):
                digest.update(block)
        digest.update(b"\0")
    return digest.hexdigest()


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
