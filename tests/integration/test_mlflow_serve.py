"""`mlflow models serve` answers for the fraud champion from a folder outside the repo, in processes
that cannot import it: the pyfunc brings its own code (docs/deployment.md)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest

from tests.conftest import SAMPLE_CLAIMS
from tests.servers import free_port, outside_repo, stop


def _wait(proc: subprocess.Popen, url: str, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"mlflow models serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"mlflow models serve not ready in {timeout}s:\n{log.read_text()[-4000:]}")


def test_mlflow_models_serve_scores_claims_like_the_registry_model(trained, spec, tmp_path):
    from features.settings import load_settings

    name = load_settings(trained.settings_path).model("fraud").registered_name
    rows = pd.read_csv(SAMPLE_CLAIMS).drop(columns=[spec.target]).head(20)
    env = outside_repo(tmp_path, trained.env())
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"  # its uvicorn
    port, log = free_port(), tmp_path / "mlflow-serve.log"
    args = ["models", "serve", "-m", f"models:/{name}@champion", "--env-manager", "local"]
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mlflow", *args, "-h", "127.0.0.1", "-p", str(port)],
            cwd=tmp_path, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        _wait(proc, f"http://127.0.0.1:{port}/ping", log)
        records = rows.to_dict(orient="records")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/invocations", json={"dataframe_records": records}, timeout=60
        )
    finally:
        stop(proc)
    assert answer.status_code == 200, answer.text
    served = pd.DataFrame(answer.json()["predictions"])
    here = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(rows)
    assert len(served) == len(rows)
    assert (served["fraud_probability"] - here["fraud_probability"]).abs().max() < 1e-9
    assert served["risk_band"].tolist() == here["risk_band"].tolist()
    assert served["top_reasons"].tolist() == here["top_reasons"].tolist()
    assert "No module named" not in log.read_text()
