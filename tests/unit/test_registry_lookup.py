"""`features.registry.alias_version`: only "does not exist" means no alias; any other registry
error is raised, so a hiccup is never read as an alias removed."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

from features import registry


def test_a_model_or_alias_that_does_not_exist_is_none(tmp_path):
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/mlflow.db")
    try:
        assert registry.alias_version("no-such-model", "champion") is None
        mlflow.MlflowClient().create_registered_model("m")
        assert registry.alias_version("m", "champion") is None
    finally:
        mlflow.set_tracking_uri(None)


def test_any_other_registry_error_is_raised(monkeypatch):
    class Unavailable:
        def get_model_version_by_alias(self, name, alias):
            raise MlflowException("try again later", TEMPORARILY_UNAVAILABLE)

    monkeypatch.setattr(registry, "MlflowClient", Unavailable)
    with pytest.raises(MlflowException, match="try again later"):
        registry.alias_version("m", "champion")
