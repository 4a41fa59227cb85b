"""Champion/challenger: shadow leaves answers unchanged, split is sticky, promote and rollback reach
a running server without a restart. Runs on a copy of the session store with a second fraud
version as @challenger, so the other tests keep their champion."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time

import httpx
import pytest
import yaml
from mlflow import MlflowClient

from features.ops import delegation
from features.ops.audit import open_audit
from features.ops.keys import issue_key
from features.settings import load_settings
from tests.conftest import FAST_TRAINING, SAMPLE_CLAIMS, write_settings
from tests.integration.test_platform import sample_claims
from tests.servers import start_server, stop


def _settings_file(folder, **traffic):
    path = write_settings(folder)
    data = yaml.safe_load(path.read_text())
    data["models"]["fraud"]["traffic"] = traffic
    data["serving"]["alias_poll_s"] = 1
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture(scope="module")
def release_store(trained, api_keys, tmp_path_factory):
    """Copy of the store (keys included) + a second fraud version (another seed) as @challenger."""
    folder = tmp_path_factory.mktemp("release")
    shutil.copytree(trained.folder, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("bentoml"))
    path = _settings_file(folder, mode="shadow")
    uri = f"sqlite:///{folder}/mlflow.db"
    env = {**trained.env(), "CCRISK_SETTINGS": str(path), "MLFLOW_TRACKING_URI": uri}
    sets = [arg for kv in [*FAST_TRAINING, "seed=7"] for arg in ("--set", kv)]
    done = subprocess.run(
        [sys.executable, "-m", "ccrisk", "train", "fraud", "--data", str(SAMPLE_CLAIMS), *sets],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    client = MlflowClient(tracking_uri=uri)
    versions = sorted(int(v.version) for v in client.search_model_versions("name='ccrisk-fraud'"))
    client.set_registered_model_alias("ccrisk-fraud", "champion", str(versions[0]))
    client.set_registered_model_alias("ccrisk-fraud", "challenger", str(versions[-1]))
    stores = load_settings(path).stores_url  # a tenant piloting the challenger, whatever the traffic mode
    delegation.create_tenant(stores, delegation.operator(), "pilot-west", ["claims_system"], pin="challenger")
    return folder, env, str(versions[0]), str(versions[-1])


def test_shadow_scores_with_the_challenger_and_leaves_the_answer_unchanged(release_store, spec, monkeypatch):
    from features.claims.api import claim_model
    from serving.domain.fraud import FraudService

    folder, env, champion, challenger = release_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    Claim = claim_model(spec)
    claims = [Claim(**c) for c in sample_claims(spec, 30, "SH")]
    shadowed = []
    service = FraudService(
        load_settings(_settings_file(folder, mode="shadow")),
        spec,
        on_shadow=lambda c, r, t: shadowed.append(r),
    )
    plain = FraudService(load_settings(_settings_file(folder, mode="off")), spec)
    live = service.score(claims, "none")
    assert [r.fraud_probability for r in live.results] == [
        r.fraud_probability for r in plain.score(claims, "none").results
    ]
    assert {r.model.version for r in live.results} == {champion} and {r.variant for r in live.results} == {
        "champion"
    }
    for _ in range(100):
        if shadowed:
            break
        time.sleep(0.05)
    shadow = shadowed[0].results
    assert {r.model.version for r in shadow} == {challenger} and {r.variant for r in shadow} == {"challenger"}
    assert [r.claim_id for r in shadow] == [c.claim_id for c in claims]


def test_a_tenant_pinned_to_the_challenger_is_scored_by_it_with_traffic_off(release_store, spec, monkeypatch):
    from features.claims.api import claim_model
    from serving.domain.fraud import FraudService

    folder, env, champion, challenger = release_store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
    Claim = claim_model(spec)
    claims = [Claim(**c) for c in sample_claims(spec, 10, "PN")]
    service = FraudService(load_settings(_settings_file(folder, mode="off")), spec)
    pinned = service.score(claims, "none", pin="challenger", tenant="pilot-west").results
    assert {(r.model.version, r.variant) for r in pinned} == {(challenger, "challenger")}
    plain = service.score(claims, "none").results
    assert {(r.model.version, r.variant) for r in plain} == {(champion, "champion")}


def _version_now(c: httpx.Client, claim: dict, want: str, timeout: float = 30.0) -> float:
    """Seconds until every one of 6 consecutive answers (both workers) comes from version `want`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        versions = {
            c.post("/v1/claims/score", json={"claim": claim}).json()["model"]["version"] for _ in range(6)
        }
        if versions == {want}:
            return time.monotonic() - start
        time.sleep(0.2)
    raise AssertionError(f"served versions still {versions} after {timeout}s; wanted {want}")


def test_split_is_sticky_and_promote_rollback_reach_the_running_server(
    release_store, api_keys, spec, tmp_path
):
    folder, env, champion, challenger = release_store
    _settings_file(folder, mode="split", split_percent=50)
    proc, base = start_server(env, tmp_path / "server.log")
    try:
        c = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {api_keys['admin']}"}, timeout=60)
        claims = sample_claims(spec, 40, "SP")
        first = c.post("/v1/claims/score_batch", json={"claims": claims, "explain": "none"}).json()["results"]
        again = c.post("/v1/claims/score_batch", json={"claims": claims[::-1], "explain": "none"}).json()[
            "results"
        ]
        variants = {r["claim_id"]: r["variant"] for r in first}
        assert variants == {r["claim_id"]: r["variant"] for r in again}  # sticky, whatever the order
        assert 8 <= list(variants.values()).count("challenger") <= 32
        assert all(
            r["model"]["version"] == (challenger if r["variant"] == "challenger" else champion) for r in first
        )
        pilot = issue_key(load_settings(folder / "mlflow.yaml").stores_url, "pilot-core", "claims_system",
                          tenant="pilot-west").secret  # fmt: skip
        time.sleep(1)  # every worker has read the key
        p = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {pilot}"}, timeout=60)
        piloted = p.post("/v1/claims/score_batch", json={"claims": claims, "explain": "none"}).json()[
            "results"
        ]
        assert {(r["model"]["version"], r["variant"]) for r in piloted} == {(challenger, "challenger")}

        cli = [sys.executable, "-m", "ccrisk"]
        done = subprocess.run(
            [*cli, "promote", "--force"], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0 and f"v{champion} -> v{challenger}" in done.stdout, (
            done.stdout + done.stderr
        )
        took = _version_now(c, claims[0], challenger)
        done = subprocess.run([*cli, "rollback"], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and f"v{challenger} -> v{champion}" in done.stdout, (
            done.stdout + done.stderr
        )
        took_back = _version_now(c, claims[0], champion)
        print(f"alias change served after {took:.1f}s (promote), {took_back:.1f}s (rollback); poll 1s")
        client = MlflowClient(env["MLFLOW_TRACKING_URI"])
        client.set_registered_model_alias("ccrisk-fraud", "champion", challenger)  # behind ccrisk's back
        _version_now(c, claims[0], challenger)
        time.sleep(2)  # both workers' pollers have seen it
    finally:
        stop(proc)
    rows = open_audit(load_settings(folder / "mlflow.yaml")).rows()
    actions = [r["endpoint"] for r in rows]
    assert "cli:promote" in actions and "cli:rollback" in actions
    moves = [
        r for r in rows if r["endpoint"] == "registry:alias_moved" and '"alias":"champion"' in r["outcome"]
    ]
    assert len(moves) == 1 and moves[0]["model_version"] == challenger  # the direct set, recorded once
