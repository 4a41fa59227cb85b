"""The champions a Bento carries (`ccrisk bento build`): each an MLflow model folder in the Bento's
model store, named after its registered model and labelled with its registry version, run id
and files' SHA-256. Served with `serving.model_source: bento`, with no MLflow store present."""

from __future__ import annotations

import logging

import bentoml
import mlflow
from bentoml.exceptions import NotFound

from features.settings import Settings
from serving.lifecycle.loader import ChampionUnavailable, LoadedModel, check_artifacts

logger = logging.getLogger(__name__)
VERSION, RUN_ID, SHA256 = "registry_version", "run_id", "artifact_sha256"  # labels set at import
MLFLOW_FOLDER = "mlflow_model"  # the MLflow model folder inside the BentoML model (beside its model.yaml)


def _model(name: str) -> bentoml.Model | None:
    try:
        return bentoml.models.get(name)
    except NotFound:
        return None


def version(settings: Settings, name: str, alias: str) -> str | None:
    """The packaged version for the champion alias; a Bento carries no challenger."""
    if alias != settings.aliases.champion:
        return None
    model = _model(name)
    return model.info.labels[VERSION] if model is not None else None


def load(settings: Settings, family: str, name: str, alias: str) -> LoadedModel:
    model = _model(name) if alias == settings.aliases.champion else None
    if model is None:
        raise ChampionUnavailable(
            f"{name}@{alias} is not in this Bento (serving.model_source is bento). Build the Bento "
            f"where the registry has every champion: `ccrisk ensure-champion` then `make bento`."
        )
    labels, path = model.info.labels, model.path_of(MLFLOW_FOLDER)
    try:
        check_artifacts(name, labels[VERSION], path, labels.get(SHA256), alias)
        inner = mlflow.pyfunc.load_model(path).unwrap_python_model()
    except ChampionUnavailable:
        raise
    except Exception as exc:
        raise ChampionUnavailable(
            f"{name} version {labels[VERSION]} in the Bento ({model.tag}) could not be loaded: {exc}. "
            f"Rebuild the Bento: `make bento`."
        ) from exc
    logger.info("loaded %s v%s from the Bento (%s, run %s)", name, labels[VERSION], model.tag, labels[RUN_ID])
    return LoadedModel(name, labels[VERSION], labels[RUN_ID], inner)
