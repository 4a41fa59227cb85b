"""Access control, limits, audit trail, claims feedback, hit rate and drift through the real server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import polars as pl
import psutil

from features.ops.audit import open_audit
from features.ops.hitrate import HitRates
from features.ops.keys import create_key, revoke_key
from features.settings import load_settings
from tests.conftest import SAMPLE_CLAIMS

PII_TEXT = "I'm Jane Morgan, jane.morgan@example.com, 07700 900123. Third time asking, this is a disgrace!"


def client(server, key: str | None = None, header: str = "Authorization") -> httpx.Client:
    headers = {} if key is None else {header: key if header != "Authorization" else f"Bearer {key}"}
    return httpx.Client(base_url=server.base_url, headers=headers, timeout=60)


def settings_of(trained):
    return load_settings(trained.settings_path)


def sample_claims(spec, n: int, prefix: str) -> list[dict]:
    rows = pl.read_csv(SAMPLE_CLAIMS).head(n).to_dicts()
    return [
        {"claim_id": f"{prefix}-{i}", **{k: r[k] for k in spec.columns if k in r}} for i, r in enumerate(rows)
    ]


def cli(trained, *args: str, timeout: int = 300, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ccrisk", *args],
        env={**(env or trained.env()), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_open_paths_need_no_key_and_v1_paths_do(server, api_keys):
    anonymous = client(server)
    for path in ("/readyz", "/healthz", "/metrics", "/docs.json"):
        assert anonymous.get(path).status_code == 200, path
    r = anonymous.post("/v1/kb/search", json={"query": "how do I file a claim"})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer KEY" in r.json()["detail"]
    assert client(server, "ccrisk_not-a-key").post("/v1/kb/search", json={"query": "x"}).status_code == 401


def test_roles_decide_which_endpoints_a_key_may_call(server, api_keys):
    query = {"query": "how do I file a claim"}
    r = client(server, api_keys["claims_system"]).post("/v1/kb/search", json=query)
    assert r.status_code == 403 and "role 'claims_system' may not call /v1/kb/search" in r.json()["detail"]
    agent = client(server, api_keys["agent_assist"], header="X-API-Key")
    assert agent.post("/v1/kb/search", json=query).status_code == 200
    assert agent.post("/v1/admin/reload_rules", json={}).status_code == 403
    scientist = client(server, api_keys["data_scientist"])
    assert scientist.get("/v1/admin/monitoring").status_code == 200
    assert scientist.post("/v1/kb/search", json=query).status_code == 403


def _within_a_second(c: httpx.Client, status: int, what: str) -> None:
    since = time.monotonic()
    while c.post("/v1/kb/search", json={"query": "windscreen"}).status_code != status:
        assert time.monotonic() - since < 1.0, f"a {what} key was not honoured within a second"
        time.sleep(0.05)


def test_new_and_revoked_keys_are_honoured_within_a_second_without_a_restart(server, trained):
    path = settings_of(trained).stores_url
    key = create_key(path, "temporary", "agent_assist")
    c = client(server, key)
    _within_a_second(c, 200, "new")
    revoke_key(path, "temporary")
    _within_a_second(c, 401, "revoked")


def test_rate_limit_answers_429_with_retry_after(server, api_keys):
    c = client(server, api_keys["limited"])  # 30 requests/minute, per worker
    statuses, retry = [], None
    for _ in range(120):
        r = c.post("/v1/kb/search", json={"query": ""})  # cheap: refused with 400 by the endpoint
        statuses.append(r.status_code)
        if r.status_code == 429:
            retry = int(r.headers["retry-after"])
            break
    assert 429 in statuses and retry >= 1, statuses[-5:]
    assert set(statuses[:-1]) == {400}


def test_body_type_and_size_limits(server, trained):
    r = server.post("/v1/kb/search", content=b"query=x", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 415 and "application/json" in r.json()["detail"]
    limit = settings_of(trained).security.max_body_bytes
    r = server.post("/v1/kb/search", content=b'{"query": "' + b"a" * limit + b'"}')
    assert r.status_code == 413 and "split the batch" in r.json()["detail"]


def test_every_call_is_in_an_intact_audit_chain_without_raw_pii(server, api_keys, trained):
    agent = client(server, api_keys["agent_assist"])
    assert agent.post("/v1/contact/analyze", json={"text": PII_TEXT}).status_code == 200
    settings = settings_of(trained)
    log = open_audit(settings)
    assert log.verify() == []
    rows = log.rows()
    last = next(r for r in reversed(rows) if r["endpoint"] == "/v1/contact/analyze")
    assert (last["caller"], last["role"], last["status"], last["model"]) == (
        "agent_assist", "agent_assist", 200, "ccrisk-complaint"
    )  # fmt: skip
    assert {"bands", "topics", "intents"} <= set(json.loads(last["outcome"]))
    assert any(r["status"] == 403 and r["caller"] == "claims_system" for r in rows)
    stored = settings.state_path.glob("*.sqlite*")
    for path in stored:
        raw = path.read_bytes()
        for secret in (b"jane.morgan@example.com", b"07700 900123", b"Jane Morgan"):
            assert secret not in raw, (path.name, secret)


def test_claims_feedback_hit_rate_and_drift(server, api_keys, trained, spec):
    claims_system = client(server, api_keys["claims_system"])
    scored = claims_system.post("/v1/claims/score_batch", json={"claims": sample_claims(spec, 40, "HR")})
    bands = {r["claim_id"]: r["risk_band"] for r in scored.json()["results"]}
    metrics = client(server).get("/metrics").text  # per endpoint, model version and band
    band = next(iter(bands.values()))
    assert any(
        line.startswith("ccrisk_predictions_total{")
        and f'band="{band}"' in line
        and 'endpoint="/v1/claims/score_batch"' in line
        and 'model="ccrisk-fraud"' in line
        for line in metrics.splitlines()
    )
    for i, claim_id in enumerate(sorted(bands)[:10]):
        outcome = "confirmed_fraud" if i % 2 else "legitimate"
        body = {"claim_id": claim_id, "outcome": outcome, "investigator": "inv-1"}
        r = claims_system.post("/v1/claims/feedback", json=body)
        assert r.status_code == 200 and r.json()["stored"] is True
    bad = claims_system.post(
        "/v1/claims/feedback", json={"claim_id": "x", "outcome": "maybe", "investigator": "i"}
    )
    assert bad.status_code == 400 and "outcome" in bad.text
    panel = claims_system.get("/v1/ui/hit_rate", params={"days": 30}).json()["rows"]
    table = HitRates(settings_of(trained)).table("ccrisk-fraud", 30 * 86400.0)
    assert {(r["model_version"], r["band"], r["scored"], r["confirmed"]) for r in panel} == {
        (str(r.model_version), r.band, r.scored, r.confirmed) for r in table.itertuples()
    }  # the claims screen's panel is `ccrisk report hit-rate`'s table
    report = cli(trained, "report", "hit-rate")
    assert report.returncode == 0, report.stdout + report.stderr
    assert "hit" in report.stdout and any(b in report.stdout for b in ("high", "medium", "low"))
    drift = cli(trained, "monitor", "drift", "--model", "ccrisk-fraud", "--window", "1d")
    assert drift.returncode == 0, drift.stdout + drift.stderr
    summary = client(server, api_keys["data_scientist"]).get("/v1/admin/monitoring").json()
    fraud = summary["models"]["ccrisk-fraud"]
    assert fraud["rows"] >= 40 and {f["feature"] for f in fraud["features"]} <= set(spec.feature_names)
    assert fraud["score_psi"] >= 0 and isinstance(fraud["drift_detected"], bool)


def test_train_with_feedback_adds_the_reviewed_served_claims(server, trained, spec, api_keys, tmp_path):
    """Outcomes join the logged inputs of the served claims (a batch large enough to be logged as
    one block); `train fraud --with-feedback` (run on a copy of the store, so the session's
    champion stays) logs how many rows they added."""
    import shutil

    from features.ops.outcomes import ClaimFeedbackStore, PredictionLog
    from serving.domain.records import BLOCK_MIN
    from tests.conftest import write_settings
    from training.fraud.data import feedback_rows

    claims_system = client(server, api_keys["claims_system"])
    claims = sample_claims(spec, BLOCK_MIN + 6, "FB")
    assert claims_system.post("/v1/claims/score_batch", json={"claims": claims}).status_code == 200
    for claim, outcome in zip(claims[:3], ("confirmed_fraud", "legitimate", "inconclusive"), strict=True):
        body = {"claim_id": claim["claim_id"], "outcome": outcome, "investigator": "inv-2"}
        assert claims_system.post("/v1/claims/feedback", json=body).status_code == 200
    settings = settings_of(trained)
    log = PredictionLog(settings.stores_url)
    for _ in range(100):  # the prediction log is written by a background thread
        if {"FB-0", "FB-1", "FB-2"} <= set(log.frame("ccrisk-fraud", with_inputs=False)["entity_id"]):
            break
        time.sleep(0.1)
    served = set(log.frame("ccrisk-fraud", with_inputs=False)["entity_id"])
    with log.db.engine.connect() as conn:
        blocked = conn.exec_driver_sql("SELECT SUM(row_count) FROM prediction_block").scalar()
    assert blocked and blocked >= len(claims)
    latest = ClaimFeedbackStore(settings.stores_url).latest()
    usable = latest[
        latest["claim_id"].isin(served) & latest["outcome"].isin(["confirmed_fraud", "legitimate"])
    ]
    rows = feedback_rows(settings, spec, "ccrisk-fraud")
    assert rows.height == len(usable) >= 2
    assert rows.get_column(spec.target).sum() == (usable["outcome"] == "confirmed_fraud").sum()

    copy = tmp_path / "store"
    shutil.copytree(trained.folder, copy, ignore=shutil.ignore_patterns("bentoml"))
    write_settings(copy)
    env = {
        **trained.env(),
        "CCRISK_SETTINGS": str(copy / "mlflow.yaml"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{copy}/mlflow.db",
    }
    args = ["train", "fraud", "--data", str(SAMPLE_CLAIMS), "--with-feedback", "--set", "folds=3",
            "--set", "num_boost_round=300", "--set", "early_stopping_rounds=50"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "ccrisk", *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    import mlflow

    client_ = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    run = client_.search_runs(
        [client_.get_experiment_by_name("ccrisk-fraud").experiment_id],
        order_by=["start_time DESC"],
        max_results=1,
    )[0]
    assert int(run.data.params["rows.feedback"]) == rows.height


def test_ccrisk_serve_becomes_the_bentoml_server_and_holds_no_models_itself(server):
    """`ccrisk serve` loads every champion to check it, then execs BentoML: no idle parent keeps
    those models in memory, and the only Python processes are BentoML's server and workers."""
    root = psutil.Process(server.server_pid)
    assert root.cmdline()[1:4] == ["-m", "bentoml", "serve"]
    workers = root.children(recursive=True)
    assert workers and all("_bentoml_impl.worker.service" in " ".join(w.cmdline()) for w in workers)


def test_workers_on_the_onnx_encoder_never_load_torch(server):
    """The encoder runs under ONNX Runtime and spaCy is imported with torch hidden, so a worker
    maps no libtorch (~200 MB RSS each). (The supervisor's imports: tests/unit/test_service_import.py.)"""
    assert (
        server.post(
            "/v1/contact/analyze",
            json={"text": "My card never arrived, this is a disgrace", "key_phrases": "all"},
        ).status_code
        == 200
    )
    workers = psutil.Process(server.server_pid).children(recursive=True)
    mapped = {
        w.pid: sorted({Path(m.path).name for m in w.memory_maps() if "torch" in m.path}) for w in workers
    }
    assert workers and all(libs == [] for libs in mapped.values()), mapped
    assert all(any("onnxruntime" in m.path for m in w.memory_maps()) for w in workers)


def test_workers_run_pandas_without_pyarrow(server, spec):
    """pandas 3 imports pyarrow whenever it is installed; no worker path needs it, so the
    workers hide it (`serving.platform.runtime.without_pyarrow`: ~45 MB RSS a worker). Every endpoint
    family still answers."""
    calls = [
        ("/v1/claims/score_batch", {"claims": sample_claims(spec, 3, "arrow"), "explain": "all"}),
        ("/v1/contact/analyze", {"text": "My card never arrived, this is a disgrace", "key_phrases": "all"}),
        ("/v1/kb/search", {"query": "how do I file a claim", "top_k": 3}),
    ]
    assert all(server.post(path, json=body).status_code == 200 for path, body in calls)
    workers = psutil.Process(server.server_pid).children(recursive=True)
    mapped = {
        w.pid: sorted({Path(m.path).name for m in w.memory_maps() if "arrow" in m.path}) for w in workers
    }
    assert workers and all(libs == [] for libs in mapped.values()), mapped


def test_workers_run_uvicorn_on_uvloop_and_httptools(server):
    """uvicorn picks uvloop and httptools only when they are installed and silently falls back
    to asyncio and the pure-Python h11 parser otherwise (~10 % fewer claims a second, measured)."""
    assert server.get("/readyz").status_code == 200
    workers = psutil.Process(server.server_pid).children(recursive=True)
    for lib in ("uvloop", "httptools"):
        assert workers and all(any(f"/{lib}/" in m.path for m in w.memory_maps()) for w in workers), lib


def test_screen_routes_say_who_signed_in_and_keep_to_roles(server, api_keys):
    screens = {
        role: client(server, api_keys[role]).get("/v1/ui/session").json()["screens"]
        for role in ("agent_assist", "claims_system", "data_scientist", "admin")
    }
    assert screens == {
        "agent_assist": ["agent"],
        "claims_system": ["claims"],
        "data_scientist": [],
        "admin": ["agent", "claims", "admin"],
    }
    assert client(server).get("/v1/ui/session").status_code == 401
    assert client(server, api_keys["agent_assist"]).get("/v1/ui/hit_rate").status_code == 403
    bad = client(server, api_keys["claims_system"]).get("/v1/ui/hit_rate", params={"days": "week"})
    assert bad.status_code == 400 and "days" in bad.json()["detail"]
