"""`ccrisk retrain`: train with feedback, held as challenger, compared, promoted through the gate
(or kept, with exit 1), every step in the audit trail; Optuna trials as MLflow child runs with a
pruner. Runs on a copy of the session store, so the other tests keep their champions."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml
from mlflow import MlflowClient

from features.ops.audit import open_audit
from features.settings import load_settings
from tests.conftest import FAST_TEXT, FAST_TRAINING, SAMPLE_CLAIMS, write_settings


@pytest.fixture
def store(trained, tmp_path):
    """A copy of the session store: (settings file, environment, tracking client)."""
    shutil.copytree(trained.folder, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("bentoml"))
    path = write_settings(tmp_path)
    env = {
        **trained.env(),
        "CCRISK_SETTINGS": str(path),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
    }
    return path, env, MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])


def _retrain(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ccrisk", "retrain", *args], env={**env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def _steps(path) -> list[str]:
    return [r["endpoint"] for r in open_audit(load_settings(path)).rows() if r["endpoint"].startswith("cli:")]


def test_retrain_trains_with_feedback_compares_and_promotes_with_every_step_audited(store):
    path, env, client = store
    data = yaml.safe_load(path.read_text())  # the session's feedback may make it a little worse: let it pass
    data["models"]["fraud"]["gate"]["tolerance"] = 0.5
    path.write_text(yaml.safe_dump(data))
    before = str(client.get_model_version_by_alias("ccrisk-fraud", "champion").version)
    sets = [a for kv in FAST_TRAINING for a in ("--set", kv)]
    done = _retrain(env, "fraud", "--data", str(SAMPLE_CLAIMS), "--trials", "5", *sets)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "trained -> compared -> promoted" in done.stdout
    champion = client.get_model_version_by_alias("ccrisk-fraud", "champion")
    assert str(champion.version) != before and champion.tags["previous_champion"] == before
    assert "held as challenger" in champion.tags["gate.reason"]
    steps = _steps(path)
    assert steps[-5:] == ["cli:retrain.start", "cli:retrain.trained", "cli:retrain.compared", "cli:promote",
                          "cli:retrain.promoted"]  # fmt: skip
    run = client.get_run(champion.run_id)
    assert run.data.params["cfg.with_feedback"] == "True" and run.data.metrics["optuna_trials"] == 5
    trials = client.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'")
    assert len(trials) == 5 and {t.data.tags["optuna.state"] for t in trials} <= {"complete", "pruned"}
    assert all("learning_rate" in t.data.params and 0.5 < t.data.metrics["cv_auc"] <= 1 for t in trials)
    assert run.data.metrics["optuna_pruned"] == sum(t.data.tags["optuna.state"] == "pruned" for t in trials)


def test_retrain_keeps_a_challenger_the_gate_refuses_and_exits_1(store):
    path, env, client = store
    data = yaml.safe_load(path.read_text())
    data["models"]["complaint"]["gate"]["minimum"] = 1.01  # nothing passes
    path.write_text(yaml.safe_dump(data))
    before = str(client.get_model_version_by_alias("ccrisk-complaint", "champion").version)
    sets = [a for kv in FAST_TEXT for a in ("--set", kv)]
    done = _retrain(env, "complaint", "--sample", *sets)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    assert "challenger (kept)" in done.stdout and "trained -> held" in done.stdout
    assert str(client.get_model_version_by_alias("ccrisk-complaint", "champion").version) == before
    challenger = client.get_model_version_by_alias("ccrisk-complaint", "challenger")
    assert str(challenger.version) != before
    assert _steps(path)[-3:] == ["cli:retrain.start", "cli:retrain.trained", "cli:retrain.held"]
