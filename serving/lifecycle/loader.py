"""Load champion models by registry alias, or those packaged in the Bento being served (as
`serving.model_source` says); fail fast with a message that says what to do."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import mlflow

from features.claims.spec import ClaimSpec
from features.registry import ARTIFACT_HASH_TAG, alias_version, artifact_sha256
from features.settings import Settings

logger = logging.getLogger(__name__)


class ChampionUnavailable(RuntimeError):
    """No usable champion: the service must not start half-up."""


@dataclass
class LoadedModel:
    name: str
    version: str
    run_id: str
    python_model: Any


def train_command(settings: Settings, family: str) -> str:
    kind = settings.model(family).kind
    if kind == "claims":
        return "ccrisk train fraud --data data_samples/claims_sample.csv"
    if kind == "kb":
        return "ccrisk train kb"
    return f"ccrisk train text --task {family} --sample"


def _missing(family: str, name: str, alias: str, settings: Settings, why: str) -> ChampionUnavailable:
    return ChampionUnavailable(
        f"{name}@{alias} {why} in {settings.resolved_tracking_uri()}. Train one first: "
        f"`{train_command(settings, family)}` (or `ccrisk ensure-champion` / `make run` for every model), "
        f"or point MLFLOW_TRACKING_URI at the store that holds it."
    )


def load_champion(settings: Settings, family: str) -> LoadedModel:
    """Load `models:/<name>@champion` and unwrap our python model."""
    return load_alias(settings, family, settings.aliases.champion)


def version_of(settings: Settings, family: str, alias: str) -> str | None:
    """The version `alias` names now: in the registry, or the one the Bento carries."""
    name = settings.model(family).registered_name
    if settings.serving.model_source == "bento":
        from serving.lifecycle import packaged

        return packaged.version(settings, name, alias)
    mv = alias_version(name, alias)
    return str(mv.version) if mv is not None else None


def load_alias(settings: Settings, family: str, alias: str) -> LoadedModel:
    """Load the version `alias` points at (by number, so a concurrent alias move cannot mix two)."""
    name = settings.model(family).registered_name
    if settings.serving.model_source == "bento":
        from serving.lifecycle import packaged

        return packaged.load(settings, family, name, alias)
    mv = alias_version(name, alias)
    if mv is None:
        raise _missing(family, name, alias, settings, "does not exist")
    try:
        local = mlflow.artifacts.download_artifacts(f"models:/{name}/{mv.version}")
        check_artifacts(name, str(mv.version), local, (mv.tags or {}).get(ARTIFACT_HASH_TAG), alias)
        inner = mlflow.pyfunc.load_model(local).unwrap_python_model()
    except ChampionUnavailable:
        raise
    except Exception as exc:  # corrupted or unreadable artifact: refuse to start
        raise ChampionUnavailable(
            f"{name} version {mv.version} (@{alias}) could not be loaded: {exc}. "
            f"Re-train, or move @{alias} to a good version."
        ) from exc
    logger.info("loaded %s v%s (run %s)", name, mv.version, mv.run_id)
    return LoadedModel(name, str(mv.version), mv.run_id, inner)


def check_artifacts(name: str, version: str, local: str, expected: str | None, alias: str) -> None:
    """The files about to be loaded are those registered: their SHA-256 matches the tag logged
    at registration. A version registered before the tag existed is loaded with a warning."""
    if not expected:
        logger.warning("%s v%s has no %s tag (registered before it existed): not checked", name, version,
                       ARTIFACT_HASH_TAG)  # fmt: skip
        return
    actual = artifact_sha256(local)
    if actual != expected:
        raise ChampionUnavailable(
            f"{name} version {version} (@{alias}) could not be loaded: its files' SHA-256 "
            f"{actual[:16]}... differs from the {expected[:16]}... logged at registration, so they "
            f"were changed afterwards. Re-train, or move @{alias} to a good version."
        )


def check_spec(loaded: LoadedModel, api_spec: ClaimSpec) -> None:
    """The API is built from `api_spec`; the champion must have been trained on the same columns."""
    trained = loaded.python_model.spec
    if trained.name != api_spec.name or set(trained.columns) != set(api_spec.columns):
        raise ChampionUnavailable(
            f"{loaded.name} v{loaded.version} was trained on spec {trained.name!r}, but the API is "
            f"built from {api_spec.name!r}; set the line's spec in mlflow.yaml (serving.claim_spec, or "
            "models.<family>.spec) to the model's spec"
        )


def check_champions(settings: Settings, api_specs: dict[str, ClaimSpec]) -> None:
    """Called by `ccrisk serve` before starting the server: fail fast and clearly. `api_specs`:
    each claims family's spec, which its champion must have been trained on."""
    for family in settings.families():
        loaded = load_champion(settings, family)
        if settings.model(family).kind == "claims":
            check_spec(loaded, api_specs[family])
            capacity = settings.model(family).capacity
            try:
                if capacity is not None:
                    loaded.python_model.bands.with_capacity(*capacity.as_args())
            except ValueError as exc:
                raise ChampionUnavailable(
                    f"models.{family}.capacity: {loaded.name} v{loaded.version}: {exc}"
                ) from exc
