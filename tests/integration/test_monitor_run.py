"""`ccrisk monitor run` on served traffic: every family watched, an HTML report with plots logged
to MLflow, the server's Prometheus gauges, alerts posted to a webhook on loopback, and the exit
status a scheduler reads (1 when a threshold is crossed, 0 when none is)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import mlflow
import polars as pl
import yaml

from tests.conftest import MAX_TEXTS, SAMPLE_MESSAGES
from tests.integration.test_platform import cli, client, sample_claims, settings_of

QUESTIONS = ["how do I make a windscreen claim", "my card was stolen", "water came through the ceiling",
             "how do I change my address", "what does my policy cover abroad"]  # fmt: skip


def _traffic(server, api_keys, spec) -> None:
    """Claims, messages and KB searches with feedback, enough of each to be judged."""
    claims = client(server, api_keys["claims_system"])
    r = claims.post(
        "/v1/claims/score_batch", json={"claims": sample_claims(spec, 60, "MON"), "explain": "none"}
    )
    assert r.status_code == 200, r.text
    agent = client(server, api_keys["agent_assist"])
    texts = pl.read_csv(SAMPLE_MESSAGES)["text"].head(40).to_list()
    for part in range(0, len(texts), MAX_TEXTS):
        body = {"messages": [{"text": t} for t in texts[part : part + MAX_TEXTS]]}
        assert agent.post("/v1/contact/analyze_batch", json=body).status_code == 200
    for i in range(35):
        found = agent.post("/v1/kb/search", json={"query": QUESTIONS[i % len(QUESTIONS)]}).json()
        if found["answers"]:
            verdict = "helpful" if i % 3 else "dismissed"
            body = {
                "query_id": found["query_id"],
                "article_id": found["answers"][0]["article_id"],
                "feedback": verdict,
            }
            assert agent.post("/v1/kb/feedback", json=body).status_code == 200


def _settings(trained, folder: Path, **monitoring) -> dict:
    """The store's settings with other monitoring thresholds, for the CLI."""
    data = yaml.safe_load(Path(trained.settings_path).read_text())
    data.setdefault("monitoring", {}).update({"min_rows": 20, **monitoring})
    path = folder / "mlflow.yaml"
    path.write_text(yaml.safe_dump(data))
    return {**trained.env(), "CCRISK_SETTINGS": str(path)}


def test_monitor_run_watches_every_family_reports_alerts_and_exits_1(
    server, api_keys, trained, spec, tmp_path, webhook
):
    url, got = webhook
    _traffic(server, api_keys, spec)
    env = _settings(trained, tmp_path, feedback_acceptance=0.99, alert_webhook=url)  # 2 in 3 were helpful
    done = cli(trained, "monitor", "run", "--window", "1d", env=env)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    summary = json.loads((settings_of(trained).monitoring_path / "statistics.json").read_text())
    stats = {(s["model"], s["name"]): s for s in summary["statistics"]}
    expected = [("ccrisk-fraud", "score_psi"), ("ccrisk-fraud", "band_high_share_change"),
                ("ccrisk-complaint", "length_psi"), ("ccrisk-complaint", "embedding_drift_auc"),
                ("ccrisk-intent", "low_confidence_share"), ("ccrisk-complaint-topic", "class_mix_psi"),
                ("ccrisk-complaint", "other_language_share"), ("ccrisk-kb", "no_answer_rate"),
                ("ccrisk-kb", "feedback_acceptance")]  # fmt: skip
    for model, name in expected:
        assert stats[(model, name)]["value"] is not None, (model, name, stats.get((model, name)))
    assert 0 <= stats[("ccrisk-complaint", "embedding_drift_auc")]["value"] <= 1
    assert stats[("ccrisk-kb", "no_answer_rate")]["value"] < 0.5  # the sample questions are answered
    acceptance = stats[("ccrisk-kb", "feedback_acceptance")]
    assert acceptance["crossed"] and abs(acceptance["value"] - 2 / 3) < 0.1
    assert got and any(a["name"] == "feedback_acceptance" for a in got[0]["alerts"])
    page = Path(summary["html"]).read_text()
    assert "data:image/png;base64," in page and "class='crossed'" in page
    run = mlflow.MlflowClient(trained.env()["MLFLOW_TRACKING_URI"]).get_run(summary["mlflow_run"])
    assert run.data.metrics["alerts"] >= 1 and "ccrisk-fraud.score_psi" in run.data.metrics
    since = time.monotonic()
    while 'ccrisk_monitor_alert{model="ccrisk-kb",statistic="feedback_acceptance"} 1.0' not in (
        text := server.get("/metrics").text
    ):
        assert time.monotonic() - since < 15, [
            line for line in text.splitlines() if "ccrisk_monitor" in line
        ][:5]
        time.sleep(0.5)
    assert 'ccrisk_monitor_statistic{model="ccrisk-fraud",statistic="score_psi"}' in text
    latest = server.get("/v1/admin/monitoring").json()["statistics"]
    assert latest["mlflow_run"] == summary["mlflow_run"] and latest["alerts"] == summary["alerts"]


def test_monitor_run_exits_0_when_nothing_crosses(trained, tmp_path):
    lenient = {"psi_threshold": 100, "feature_drift_share": 1, "band_share_change": 1, "length_psi": 100,
               "other_language_share": 1, "embedding_drift_auc": 1, "low_confidence_share": 1,
               "class_mix_psi": 100, "no_answer_rate": 1, "feedback_acceptance": 0.0001}  # fmt: skip
    done = cli(trained, "monitor", "run", "--window", "1d", env=_settings(trained, tmp_path, **lenient))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "report:" in done.stdout
