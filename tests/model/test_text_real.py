"""Contact-text training on the real development files through the CLI, into a fresh store, then
loaded exactly as an outside evaluator does: `mlflow.pyfunc.load_model("models:/NAME@champion")`.

The complaint task runs by default (about a minute); topic (10k long narratives: embedding them
takes minutes on 2 cores) and intent are marked slow (`make test-all`)."""

import os
import subprocess
import sys

import mlflow
import pandas as pd
import pytest

from tests.conftest import SHARED, require_real

CASES = [
    pytest.param(
        "complaint",
        "ccrisk-complaint",
        SHARED / "complaints_twitter/complaints_dev.csv.gz",
        0.78,
        id="complaint",
    ),
    pytest.param(
        "intent",
        "ccrisk-intent",
        SHARED / "banking77/train.csv.gz",
        0.90,
        id="intent",
        marks=pytest.mark.slow,
    ),
    pytest.param(
        "complaint_topic",
        "ccrisk-complaint-topic",
        SHARED / "cfpb_complaints/cfpb_narratives_10k_product_dev.csv.gz",
        0.74,
        id="complaint_topic",
        marks=pytest.mark.slow,
    ),
]


@pytest.mark.realdata
@pytest.mark.parametrize(("task", "name", "path", "floor"), CASES)
def test_cli_training_on_real_text(tmp_path, task, name, path, floor):
    require_real(path)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri}
    env.pop("CCRISK_SETTINGS", None)
    cmd = [sys.executable, "-m", "ccrisk", "train", "text", "--task", task, "--data", str(path)]
    done = subprocess.run([*cmd, "--set", "folds=3"], env=env, capture_output=True, text=True, timeout=3000)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        client = mlflow.MlflowClient()
        version = client.get_model_version_by_alias(name, "champion")
        run = client.get_run(version.run_id)
        metric = "cv_accuracy" if task == "intent" else "cv_macro_f1"
        assert run.data.metrics[metric] >= floor
        assert run.data.params["data.sha256"] and run.data.metrics["cv_folds"] == 3
        texts = pd.DataFrame({"text": ["my card was stolen and nobody answers!", "thanks, all sorted"]})
        out = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(texts)
        assert len(out) == 2 and out["probability"].between(0, 1).all()
    finally:
        mlflow.set_tracking_uri(previous)
