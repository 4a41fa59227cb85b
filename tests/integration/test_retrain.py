"""`ccrisk retrain`: train with feedback, held as challenger, compared, promoted through the gate
(or kept, with exit 1), every step in the audit trail; Optuna trials as MLflow child runs with a
pruner. Runs on a copy of the session store, so the other tests keep their champions."""

from __future__ import annotations

import csv as csv_module
import json
import shutil
import subprocess
import sys

import pytest
import yaml
from mlflow import MlflowClient

from features.ops.audit import open_audit
from features.settings import load_settings
from tests.conftest import FAST_TEXT, FAST_TRAINING, SAMPLE_CLAIMS, SAMPLE_KB, write_settings


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


def _agent_feedback(path, queries, articles) -> None:
    """A simulated agent's verdicts on searches: the right answer helpful, another dismissed; and
    one question whose only answer was dismissed."""
    from features.kb.feedback import FeedbackStore

    store = FeedbackStore(load_settings(path).stores_url)
    ids = [a.id for a in articles]
    for query, relevant in queries:
        right = sorted(relevant)[0]
        wrong = next(i for i in ids if i not in relevant)
        query_id = store.record_search(query, [right, wrong], "1", "kb")
        store.record_feedback(query_id, right, "helpful")
        store.record_feedback(query_id, wrong, "dismissed")
    query_id = store.record_search("is my garden gnome covered against alien abduction", [ids[0]], "1", "kb")
    store.record_feedback(query_id, ids[0], "dismissed")


def test_train_kb_with_feedback_learns_the_fusion_and_adapter_from_agents_verdicts(store, tmp_path):
    """Half the sample questions are curated, the other half known only from agents' feedback:
    the adapter learns from both (with the held-out curated questions left out), the run and the
    model card say what the feedback added."""
    from features.kb.articles import load_articles
    from features.kb.feedback import FeedbackStore
    from tests.conftest import SAMPLE_KB_QUERIES
    from training.kb.data import load_queries, split_queries
    from training.kb.feedback import from_rows, training_queries

    path, env, client = store
    articles = load_articles(SAMPLE_KB)
    queries = sorted(load_queries(SAMPLE_KB_QUERIES, articles))
    curated, asked = queries[::2], queries[1::2]
    csv = tmp_path / "curated.csv"
    with open(csv, "w", newline="") as f:
        csv_module.writer(f).writerows(
            [("query", "article_id"), *((q, ";".join(sorted(i))) for q, i in curated)]
        )
    _agent_feedback(path, asked, articles)
    stored = from_rows(FeedbackStore(load_settings(path).stores_url).feedback_rows(), articles)
    assert stored.questions >= len(asked) + 1  # (the session's own agents' feedback is there too)
    _, test = split_queries(curated, 0.3, 2000, 42)
    pairs = sum(1 for _, ids in training_queries(curated, stored)[0] if ids)
    args = ["train", "kb", "--queries", str(csv), "--with-feedback", "--set", "adapter.min_queries=10"]
    done = subprocess.run([sys.executable, "-m", "ccrisk", *args], env={**env, "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    version = max(client.search_model_versions("name='ccrisk-kb'"), key=lambda v: int(v.version))
    params = client.get_run(version.run_id).data.params
    assert params["with_feedback"] == "True" and params["queries.test"] == str(len(test))
    assert params["feedback.questions"] == str(stored.questions)
    assert params["feedback.dismissed"] == str(stored.counts()["dismissed"])
    assert params["adapter.queries"] == str(pairs) and pairs > len(curated)  # the refit: curated + feedback
    assert "agents' feedback" in version.description


def test_retrain_kb_trains_with_the_stored_feedback(store):
    path, env, client = store
    from features.kb.articles import load_articles

    articles = load_articles(SAMPLE_KB)
    _agent_feedback(
        path, [("how do I make a claim for my dog's vet bill", {"pet-insurance-claim"})], articles
    )
    done = _retrain(env, "kb")
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    trained = [r for r in open_audit(load_settings(path)).rows() if r["endpoint"] == "cli:retrain.trained"][
        -1
    ]
    outcome = json.loads(trained["outcome"])
    assert outcome["feedback"] == "agents' KB feedback" and outcome["questions"] >= 2
    run = client.get_run(outcome["run_id"])
    assert run.data.params["with_feedback"] == "True"
