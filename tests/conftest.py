"""Shared fixtures: the shipped spec, the sample claims, and a trained model in a temp store."""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import polars as pl
import pytest
import yaml

# The served-process fixtures (`api_keys`, `server`) and the failed run's server-log summary, shared
# by the integration and UI tiers: one server for both in one run.
from tests.servers import api_keys, pytest_terminal_summary, server  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_CLAIMS = ROOT / "data_samples" / "claims_sample.csv"
SAMPLE_HEALTH = ROOT / "data_samples" / "health_claims_sample.csv"
SHARED = ROOT.parent / "shared" / "datasets"
REAL_CLAIMS = SHARED / "vehicle_claim_fraud" / "fraud_oracle_dev.csv.gz"
FAST_TRAINING = ["folds=3", "num_boost_round=400", "early_stopping_rounds=50"]
SAMPLE_MESSAGES = ROOT / "data_samples" / "contact_messages.csv"
TEXT_TASKS = ("complaint", "complaint_topic", "intent")
FAST_TEXT = ["folds=3"]
SAMPLE_KB = ROOT / "data_samples" / "kb" / "articles"
SAMPLE_KB_QUERIES = ROOT / "data_samples" / "kb" / "queries.csv"


def require_real(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"real data {path} is absent (../shared/datasets is only on CI and dev machines)")
    return path


STATM = Path("/proc/self/statm")
needs_proc = pytest.mark.skipif(not STATM.exists(), reason="reads resident memory from /proc (Linux)")


def resident_mb() -> float:
    """This process's resident memory (RSS), MB."""
    return int(STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.fixture(scope="session")
def spec():
    from features.claims.spec import load_spec

    return load_spec("vehicle_claims")


@pytest.fixture(scope="session")
def sample_frame() -> pl.DataFrame:
    return pl.read_csv(SAMPLE_CLAIMS)


def write_settings(folder: Path, security: dict | None = None, **serving) -> Path:
    """A copy of mlflow.yaml whose state and sqlite store live in `folder`."""
    data = yaml.safe_load((ROOT / "mlflow.yaml").read_text())
    data["state_dir"] = str(folder / "state")
    data["tracking_uri"] = f"sqlite:///{folder}/mlflow.db"
    data["artifact_location"] = str(folder / "artifacts")
    data["serving"].update(serving)
    for model in data["models"].values():  # the copy lives elsewhere: its sample tables stay the repo's
        if model.get("sample_data"):
            model["sample_data"] = str(ROOT / model["sample_data"])
    data.setdefault("security", {}).update(security or {})
    path = folder / "mlflow.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class TrainedStore:
    folder: Path
    settings_path: Path
    rules_path: Path
    result: object  # training.fraud.pipeline.TrainResult
    text_results: dict | None = None  # task -> training.text.pipeline.TextTrainResult
    kb_result: object = None  # training.kb.pipeline.KBResult
    health_result: object = None  # the health_claims line's training.fraud.pipeline.TrainResult

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (CLI or server) that uses this store."""
        uri = f"sqlite:///{self.folder}/mlflow.db"
        return {
            **os.environ,
            "CCRISK_SETTINGS": str(self.settings_path),
            "MLFLOW_TRACKING_URI": uri,
            "BENTOML_HOME": str(self.folder / "bentoml"),
        }


MAX_BATCH = 80  # above serving.domain.records.BLOCK_MIN: a full batch is logged as one block
# A phone system that may frame /agent and hand it a message (tests/ui: the browser serves its page).
# On localhost, a secure context: Chromium lets such a page frame a loopback service once permitted.
PHONE_ORIGIN = "http://localhost:7999"
MAX_TEXTS = 10  # with 20,000 characters each: the default serving.max_batch_chars
# The fuzzer sends many calls with bad credentials from one address: more than a caller would.
FUZZ_SECURITY = {"anonymous_per_minute": 100_000}


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TrainedStore:
    """Train every served model on the sample data into a temporary MLflow store (once)."""
    from features.claims.rules import default_rules_path
    from features.kb.articles import load_articles
    from features.settings import load_settings, prepare_environment
    from training.config import default_config_path, load_config
    from training.fraud.config import FraudTrainConfig
    from training.fraud.pipeline import train_fraud
    from training.kb.config import load_kb_config
    from training.kb.data import load_queries
    from training.kb.pipeline import train_kb
    from training.text.config import load_text_config
    from training.text.pipeline import train_text

    folder = tmp_path_factory.mktemp("store")
    rules = folder / "rules.yaml"
    shutil.copy(default_rules_path("vehicle_claims"), rules)
    settings_path = write_settings(
        folder,
        FUZZ_SECURITY,
        rules_file=str(rules),
        max_batch_claims=MAX_BATCH,
        max_batch_texts=MAX_TEXTS,
        ui_message_origins=[PHONE_ORIGIN],
    )
    store = TrainedStore(folder, settings_path, rules, None)
    os.environ.update(
        {
            k: v
            for k, v in store.env().items()
            if k in ("CCRISK_SETTINGS", "MLFLOW_TRACKING_URI", "BENTOML_HOME")
        }
    )
    settings = load_settings(settings_path)
    prepare_environment(settings)
    cfg = load_config(FraudTrainConfig, default_config_path("fraud"), FAST_TRAINING)
    store.result = train_fraud(SAMPLE_CLAIMS, cfg, settings)
    store.health_result = train_fraud(
        SAMPLE_HEALTH, cfg.model_copy(update={"spec": "health_claims"}), settings
    )
    store.text_results = {
        task: train_text(None, load_text_config(task, overrides=FAST_TEXT, sample=True), settings)
        for task in TEXT_TASKS
    }
    articles = load_articles(SAMPLE_KB)
    store.kb_result = train_kb(
        articles, load_queries(SAMPLE_KB_QUERIES, articles), load_kb_config(), settings, source="sample"
    )
    return store


@pytest.fixture(scope="session")
def postgres():
    """A throwaway PostgreSQL server for the session (tests/postgres.py); skipped where absent."""
    from tests.postgres import start_postgres

    pg = start_postgres()
    try:
        yield pg
    finally:
        pg.stop()


def post_through(gateway, path: str = "/v1/claims/score", response_headers=()) -> list[dict]:
    """One POST through `gateway` (serving/platform/gateway.py) in front of an app that answers 200 with
    `response_headers` and `{}`; the ASGI messages the gateway sent on."""
    import asyncio

    async def app(scope, receive, send):
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": list(response_headers)})
        await send({"type": "http.response.body", "body": b"{}"})

    gateway.app = app
    sent: list[dict] = []
    messages = iter([{"type": "http.request", "body": b"{}", "more_body": False}])

    async def receive():
        return next(messages)

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", b"application/json")]
    asyncio.run(gateway({"type": "http", "path": path, "method": "POST", "headers": headers}, receive, send))
    return sent


@pytest.fixture
def webhook():
    """An HTTP receiver on loopback: (its URL, the JSON bodies posted to it)."""
    got: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    receiver = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{receiver.server_port}/hook", got
    receiver.shutdown()
