"""A required model slot never drops its model on a registry fault: it keeps serving the last
good version, reports itself degraded, and `/readyz` is 503 only while a required model is
missing (serving/lifecycle/slots.py, health.py)."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time

import mlflow
import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import TEMPORARILY_UNAVAILABLE

from features import registry
from features.settings import load_settings
from serving.lifecycle import health
from serving.lifecycle.slots import AliasPoller, ModelSlot
from tests.conftest import write_settings


class Tiny(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return [0.5 for _ in range(len(model_input))]


@pytest.fixture
def store(tmp_path):
    settings = load_settings(write_settings(tmp_path))
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("slots", str(tmp_path / "artifacts")))
    with mlflow.start_run():
        mlflow.pyfunc.log_model(name="model", python_model=Tiny(), registered_model_name="ccrisk-fraud")
    mlflow.MlflowClient().set_registered_model_alias("ccrisk-fraud", "champion", "1")
    health.forget_all()
    yield settings
    health.forget_all()
    mlflow.set_tracking_uri(None)


def _scores(slot: ModelSlot) -> list[float]:
    return slot.current.python_model.predict(None, [1, 2])


def test_a_temporarily_unavailable_registry_keeps_the_champion(store, monkeypatch):
    slot = ModelSlot(store, "fraud", "champion")
    assert health.readiness() == (200, {"state": "ready", "models": {
        "ccrisk-fraud@champion": {"version": "1", "required": True, "problem": None}}})  # fmt: skip

    class Unavailable:
        def get_model_version_by_alias(self, name, alias):
            raise MlflowException("try again later", TEMPORARILY_UNAVAILABLE)

    real = registry.MlflowClient
    monkeypatch.setattr(registry, "MlflowClient", Unavailable)
    assert slot.refresh() is False and _scores(slot) == [0.5, 0.5]
    status, body = health.readiness()
    assert status == 200 and body["state"] == "degraded"
    assert "registry unreadable" in body["models"]["ccrisk-fraud@champion"]["problem"]
    monkeypatch.setattr(registry, "MlflowClient", real)
    slot.refresh()
    assert health.readiness()[1]["state"] == "ready"


def test_a_locked_registry_database_held_past_the_poll_interval_keeps_the_champion(store, tmp_path):
    slot = ModelSlot(store, "fraud", "champion")
    poller = AliasPoller([slot], interval_s=0.1)
    lock = sqlite3.connect(tmp_path / "mlflow.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        for _ in range(10):  # 1 s: ten poll intervals, every refresh blocked on the lock
            assert _scores(slot) == [0.5, 0.5] and slot.version == "1"
            time.sleep(0.1)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert poller.refresh_all() == {"ccrisk-fraud@champion": "1"} and slot.problem is None
    poller._stop.set()


def test_an_unreachable_tracking_server_keeps_the_champion(store, monkeypatch):
    slot = ModelSlot(store, "fraud", "champion")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    mlflow.set_tracking_uri(f"http://127.0.0.1:{port}")
    done = threading.Event()
    threading.Thread(target=lambda: (slot.refresh(), done.set()), daemon=True).start()
    assert done.wait(60)
    assert _scores(slot) == [0.5, 0.5] and "registry unreadable" in slot.problem
    assert health.readiness()[0] == 200


def test_a_removed_champion_alias_keeps_serving_but_a_challenger_is_let_go(store):
    client = mlflow.MlflowClient()
    client.set_registered_model_alias("ccrisk-fraud", "challenger", "1")
    champion = ModelSlot(store, "fraud", "champion")
    challenger = ModelSlot(store, "fraud", "challenger", required=False)
    client.delete_registered_model_alias("ccrisk-fraud", "champion")
    client.delete_registered_model_alias("ccrisk-fraud", "challenger")
    assert champion.refresh() is False and champion.version == "1" and "was removed" in champion.problem
    assert challenger.refresh() is True and challenger.version is None and challenger.problem is None
    assert health.readiness()[1]["state"] == "degraded"


def test_readiness_is_503_while_a_required_model_is_missing():
    class Missing:
        name, alias, required, problem, version = "ccrisk-kb", "champion", True, None, None

    health.forget_all()
    health.register(Missing())
    try:
        assert health.readiness()[0] == 503 and health.readiness()[1]["state"] == "unavailable"
    finally:
        health.forget_all()


def test_model_files_changed_after_registration_are_refused(tmp_path):
    from serving.lifecycle.loader import ChampionUnavailable, load_alias
    from training.registry import log_and_register

    settings = load_settings(write_settings(tmp_path))
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(experiment_id=mlflow.create_experiment("integrity", str(tmp_path / "artifacts")))
    try:
        with mlflow.start_run():
            version = log_and_register(Tiny(), None, None, "ccrisk-fraud", [])
        client = mlflow.MlflowClient()
        client.set_registered_model_alias("ccrisk-fraud", "champion", version)
        assert load_alias(settings, "fraud", "champion").version == version  # the hash holds
        pickled = sorted((tmp_path / "artifacts").rglob("python_model.pkl"))
        assert len(pickled) == 1
        pickled[0].write_bytes(b"swapped after registration")
        with pytest.raises(ChampionUnavailable, match=r"differs from the .* logged at registration"):
            load_alias(settings, "fraud", "champion")
    finally:
        mlflow.set_tracking_uri(None)
