"""Bring your own claims table, with no code change: a home-insurance table unlike both shipped
specs (dates in two formats, a Y/N target, '?' codes, amounts, ids, free text) goes through
`ccrisk spec draft` -> `ccrisk train fraud` (gate) -> `ccrisk serve` -> `ccrisk score claims`
-> `ccrisk monitor drift`, with its spec and rules in a folder of their own."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
import yaml

from tests.claims_tables import TARGET, home_claims
from tests.conftest import write_settings
from tests.servers import start_server, stop

RULES = """version: "1"
spec: home_claims
rules:
  - id: HC-001
    description: Loss within 30 days of the policy start
    severity: high
    escalate: high
    when: {field: days_policy_start_to_loss_date, op: lt, value: 30}
  - id: HC-002
    description: Theft with no alarm fitted
    severity: medium
    review: true
    when:
      all:
        - {field: peril, op: eq, value: theft}
        - {field: alarm_fitted, op: eq, value: "N"}
"""
CLAIM = {
    "claim_id": "HOME-1", "policy_id": "POL7001", "policy_start": "01/03/2024", "loss_date": "20/03/2024",
    "reported_at": "2024-03-21 10:00", "property_type": "house", "peril": "fire", "region": "?",
    "adjuster": "ADJ-99", "claim_amount": 900.0, "sum_insured": 250000, "prior_claims": "?",
    "alarm_fitted": "Y", "description": "Jane Doe of 4 High Street reports a kitchen fire",
}  # fmt: skip


@dataclass
class Line:
    folder: Path
    table: Path
    spec: Path
    env: dict[str, str]
    draft_out: str
    train_out: str


def _ccrisk(args: list[str], env: dict, timeout: float = 300) -> str:
    proc = subprocess.run([sys.executable, "-m", "ccrisk", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=env["HOME_TABLE_DIR"])  # fmt: skip
    assert proc.returncode == 0, f"ccrisk {' '.join(args)}:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.fixture(scope="module")
def line(trained, tmp_path_factory) -> Line:
    """A store with the sample text and KB champions (a copy of the session's), the table drafted,
    its rules written beside the spec, and the fraud model trained from them."""
    folder = tmp_path_factory.mktemp("home_line")
    data = folder / "data"
    data.mkdir()
    table = data / "home_claims.csv"
    home_claims().write_csv(table)
    with sqlite3.connect(trained.folder / "mlflow.db") as src, sqlite3.connect(folder / "mlflow.db") as dst:
        src.backup(dst)
    spec = data / "home_claims.yaml"
    settings = write_settings(folder, claim_spec=str(spec), rules_file=None)
    env = {**os.environ, "CCRISK_SETTINGS": str(settings), "MLFLOW_TRACKING_URI": f"sqlite:///{folder}/mlflow.db",
           "BENTOML_HOME": str(folder / "bentoml"), "HOME_TABLE_DIR": str(data)}  # fmt: skip
    draft_out = _ccrisk(["spec", "draft", "--data", str(table), "--target", TARGET], env)
    (data / "home_claims.rules.yaml").write_text(RULES)
    fast = ["--set", "folds=3", "--set", "num_boost_round=400", "--set", "early_stopping_rounds=50"]
    train_out = _ccrisk(["train", "fraud", "--data", str(table), "--spec", str(spec), *fast], env)
    return Line(folder, table, spec, env, draft_out, train_out)


@pytest.fixture(scope="module")
def served(line):
    from features.ops.keys import create_key
    from features.settings import load_settings

    key = create_key(load_settings(Path(line.env["CCRISK_SETTINGS"])).stores_url, "home", "admin")
    proc, base = start_server(line.env, line.folder / "server.log")
    try:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client:
            yield client
    finally:
        stop(proc)


def test_the_draft_reads_dates_codes_ids_and_free_text(line):
    spec = yaml.safe_load(line.spec.read_text())
    cols = spec["columns"]
    assert spec["identifier"] == "claim_ref" and spec["positive"] == ["Y"]
    assert cols["loss_date"] == {"type": "date", "label": "loss date", "format": "%d/%m/%Y"}
    assert cols["reported_at"]["type"] == "datetime" and cols["reported_at"]["format"] == "%Y-%m-%d %H:%M"
    assert cols["policy_id"]["type"] == "id" and cols["description"]["type"] == "text"
    assert cols["prior_claims"] == {"type": "integer", "label": "prior claims", "missing_codes": ["?"]}
    assert cols["region"]["missing_codes"] == ["?"] and "?" not in cols["region"]["levels"]
    assert cols["adjuster"]["top_levels"] == 20  # 60 adjusters: levels learned in training
    assert [d["kind"] for d in spec["derived"]] == ["days_between", "days_between"]
    assert "identifier claim_ref" in line.draft_out


def test_it_trains_passes_the_gate_and_logs_its_own_spec_and_rules(line):
    from mlflow import MlflowClient

    assert "@champion" in line.train_out, line.train_out[-2000:]
    client = MlflowClient(tracking_uri=line.env["MLFLOW_TRACKING_URI"])  # not the session's store
    mv = client.get_model_version_by_alias("ccrisk-fraud", "champion")
    assert client.get_run(mv.run_id).data.params["spec.name"] == "home_claims"
    copy = client.download_artifacts(mv.run_id, "config/claim_spec.yaml", str(line.folder))
    logged = yaml.safe_load(Path(copy).read_text())
    assert len(logged["columns"]["adjuster"]["levels"]) == 20  # learned, and kept with the model
    assert "home_claims.rules.yaml" in {Path(a.path).name for a in client.list_artifacts(mv.run_id, "config")}


def test_it_serves_with_question_marks_dates_and_a_rule_that_escalates(served):
    r = served.post("/v1/claims/score", json={"claim": CLAIM})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"]["rules_version"].startswith("1+")
    assert {h["id"] for h in out["rules_hit"]} == {"HC-001"}  # loss 19 days after the start
    raised = out["model_risk_band"] != "high"
    assert out["risk_band"] == "high" and out["band_raised_by"] == ("HC-001" if raised else None)
    assert out["fraud_probability"] < 0.5  # the probability stays the model's
    features = {reason["feature"] for reason in out["reasons"]}
    assert not features & {"description", "policy_id", "loss_date"}  # never features
    theft = {**CLAIM, "claim_id": "HOME-2", "peril": "theft", "alarm_fitted": "N"}
    assert served.post("/v1/claims/score", json={"claim": theft}).json()["manual_review"] is True


def test_a_bad_date_gets_a_400_naming_the_field_and_format(served):
    r = served.post("/v1/claims/score", json={"claim": {**CLAIM, "loss_date": "2024-31-12"}})
    assert r.status_code == 400
    assert "claim.loss_date" in r.json()["detail"] and "'%d/%m/%Y'" in r.json()["detail"]


def test_the_prediction_log_keeps_no_free_text_or_ids(served, line):
    from features.ops.outcomes import PredictionLog
    from features.settings import load_settings

    served.post("/v1/claims/score", json={"claim": CLAIM})
    log = PredictionLog(load_settings(Path(line.env["CCRISK_SETTINGS"])).stores_url)
    deadline = time.monotonic() + 10  # the log is written by each worker's background writer
    while (frame := log.frame("ccrisk-fraud")).empty and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = [json.loads(s) for s in frame["inputs"]]
    assert rows and all("description" not in r and "policy_id" not in r for r in rows)
    assert all("loss_date" in r for r in rows)


def test_batch_scoring_and_monitoring(served, line):
    out = line.folder / "scored.parquet"
    _ccrisk(["score", "claims", "--input", str(line.table), "--output", str(out)], line.env)
    scored = pd.read_parquet(out)
    assert len(scored) == 1500 and scored["claim_id"].str.startswith("HC-").all()
    order = {"low": 0, "medium": 1, "high": 2}
    raised = scored["band_raised_by"].notna()
    assert raised.any() and (scored["risk_band"].map(order) >= scored["model_risk_band"].map(order)).all()
    assert (scored.loc[raised, "risk_band"] == "high").all()
    assert (scored["risk_band"] != scored["model_risk_band"]).sum() == raised.sum()
    csv = pd.read_csv(line.table)
    review = (csv["peril"] == "theft") & (csv["alarm_fitted"] == "N")
    assert scored["manual_review"].tolist() == review.tolist()
    batch = [{**CLAIM, "claim_id": f"HOME-B{i}"} for i in range(30)]
    assert served.post("/v1/claims/score_batch", json={"claims": batch}).status_code == 200
    drift = _ccrisk(["monitor", "drift", "--window", "1h"], line.env)
    assert "served rows" in drift
    report = json.loads((line.folder / "state/monitoring/ccrisk-fraud/latest.json").read_text())
    assert {"adjuster", "region", "prior_claims", "claim_amount"} <= {
        f["feature"] for f in report["features"]
    }


def test_capacity_is_set_in_the_settings_without_retraining(line):
    """models.fraud.capacity: the same model, cut-offs from its stored score distribution."""
    shares = {}
    for label, capacity in (("trained", None), ("wider", {"high_share": 0.3, "medium_share": 0.2})):
        data = yaml.safe_load(Path(line.env["CCRISK_SETTINGS"]).read_text())
        if capacity:
            data["models"]["fraud"]["capacity"] = capacity
        path = line.folder / f"mlflow-{label}.yaml"
        path.write_text(yaml.safe_dump(data))
        out = line.folder / f"scored-{label}.parquet"
        _ccrisk(["score", "claims", "--input", str(line.table), "--output", str(out)],
                {**line.env, "CCRISK_SETTINGS": str(path)})  # fmt: skip
        bands = pd.read_parquet(out)["model_risk_band"]
        shares[label] = (bands == "high").mean(), (bands != "low").mean()
    assert shares["wider"][0] > 2 * shares["trained"][0]  # 30 % high instead of 5 % (of out-of-fold scores)
    assert 0.2 < shares["wider"][0] < 0.45 and 0.35 < shares["wider"][1] < 0.65
