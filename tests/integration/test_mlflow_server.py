"""Training, promotion and serving against an `mlflow server` whose backend store is PostgreSQL and
whose artifacts it serves from its own root: no SQLite store and no artifact folder of ccrisk's."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from mlflow import MlflowClient

from tests.conftest import SAMPLE_CLAIMS, write_settings
from tests.integration.test_claims_service import _claims
from tests.servers import free_port, start_server, stop

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="module")
def mlflow_server(postgres, tmp_path_factory):
    """`mlflow server` on loopback: PostgreSQL backend, proxied artifacts under its own root."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    backend, port = postgres.create_database("mlflow"), free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", backend,
           "--artifacts-destination", str(folder / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]  # fmt: skip
    with open(folder / "server.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=folder, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{uri}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
        time.sleep(0.5)
    try:
        yield uri, folder / "artifacts"
    finally:
        stop(proc)


def _ccrisk(args: list[str], env: dict) -> str:
    proc = subprocess.run([sys.executable, "-m", "ccrisk", *args], env=env, capture_output=True, text=True,
                          timeout=900)  # fmt: skip
    assert proc.returncode == 0, f"ccrisk {' '.join(args)}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


def test_train_promote_and_serve_against_an_mlflow_server(mlflow_server, tmp_path):
    uri, artifacts = mlflow_server
    settings = write_settings(tmp_path)
    env = {**_env(), "CCRISK_SETTINGS": str(settings), "MLFLOW_TRACKING_URI": uri,
           "BENTOML_HOME": str(tmp_path / "bentoml")}  # fmt: skip
    _ccrisk(["ensure-champion"], env)  # every family, trained on the samples, into the server
    _ccrisk(["train", "fraud", "--data", str(SAMPLE_CLAIMS), "--seed", "7", "--set", "folds=3"], env)
    client = MlflowClient(tracking_uri=uri)
    v2 = client.get_model_version("ccrisk-fraud", "2")
    if v2.tags.get("gate.decision") == "champion":  # the gate promoted it: roll back to v1
        _ccrisk(["rollback", "--model", "fraud"], env)
        expected = "1"
    else:  # a challenger: promote it through the CLI
        _ccrisk(["promote", "--model", "fraud", "--force"], env)
        expected = "2"
    assert client.get_model_version_by_alias("ccrisk-fraud", "champion").version == expected
    assert list(artifacts.rglob("MLmodel")), "the models' files went to the server's artifact root"
    assert not list(tmp_path.rglob("mlflow.db")) and not (tmp_path / "artifacts").exists()

    from features.ops.keys import create_key
    from features.settings import load_settings

    key = create_key(load_settings(settings).stores_url, "ops", "admin")
    proc, base = start_server(env, tmp_path / "server.log")
    try:
        r = httpx.post(f"{base}/v1/claims/score", json={"claim": _claims(1)[0]},
                       headers={"Authorization": f"Bearer {key}"}, timeout=60)  # fmt: skip
    finally:
        stop(proc)
    assert r.status_code == 200, r.text
    assert r.json()["model"]["version"] == expected


def _env() -> dict:
    import os

    return {k: v for k, v in os.environ.items() if k not in ("CCRISK_SETTINGS", "MLFLOW_TRACKING_URI")}
