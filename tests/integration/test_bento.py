"""`ccrisk bento build` (make bento): the Bento serves from an empty folder with no MLflow store and
no access to this repo, and answers as the registry's champions do (docs/deployment.md)."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.integration.test_claims_service import _claims, _pyfunc_scores
from tests.servers import outside_repo, start_server, stop


@pytest.fixture(scope="module")
def bento(trained, tmp_path_factory) -> tuple[str, dict]:
    """The Bento built from the trained store, in a BentoML home of its own: (tag, environment)."""
    env = {**trained.env(), "BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml-home"))}
    proc = subprocess.run(
        [sys.executable, "-m", "ccrisk", "bento", "build"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout.strip().splitlines()[-1], env


@pytest.fixture(scope="module")
def served_bento(bento, tmp_path_factory):
    """`bentoml serve TAG` run in an empty folder: no settings file, no MLflow store, repo hidden."""
    from features.ops.keys import create_key

    tag, build_env = bento
    empty, state = tmp_path_factory.mktemp("empty"), tmp_path_factory.mktemp("state")
    env = outside_repo(empty, build_env)
    env.pop("MLFLOW_TRACKING_URI")
    env["CCRISK_STATE_DIR"] = str(state)
    key = create_key(f"sqlite:///{state}/stores.sqlite", "ops", "admin")
    proc, base = start_server(
        env, tmp_path_factory.mktemp("bento-log") / "server.log", bento=tag, cwd=empty / "hide"
    )
    try:
        with httpx.Client(base_url=base, timeout=60, headers={"Authorization": f"Bearer {key}"}) as client:
            yield client, empty, state
    finally:
        stop(proc)


def test_the_bento_carries_the_champions_with_their_versions(served_bento, trained):
    client, _, _ = served_bento
    models = client.get("/readyz").json()["models"]
    assert models["ccrisk-fraud@champion"]["version"] == trained.result.version
    assert {m.split("@")[0] for m in models} >= {
        "ccrisk-fraud",
        "ccrisk-complaint",
        "ccrisk-intent",
        "ccrisk-kb",
    }


def test_the_bento_scores_claims_as_the_registry_model_does(served_bento, trained, spec):
    from features.claims.rules import RuleBook

    client, _, _ = served_bento
    claims = _claims(10, start=50)
    r = client.post("/v1/claims/score_batch", json={"claims": claims, "explain": "all"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["fraud_probability"] for x in results] == pytest.approx(list(_pyfunc_scores(claims)), abs=1e-12)
    assert results[0]["model"]["run_id"] == trained.result.run_id
    # the settings' own rules file travelled with the Bento (the trained store names a copy of its own)
    assert {x["model"]["rules_version"] for x in results} == {RuleBook(trained.rules_path, spec).version}


def test_the_bento_analyses_a_message_and_answers_a_kb_query(served_bento):
    client, _, _ = served_bento
    r = client.post(
        "/v1/contact/analyze", json={"text": "This is the third time I complain, you overcharged me"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["complaint"]["band"] in {"low", "medium", "high"}
    r = client.post("/v1/kb/search", json={"query": "how long is the grace period if I miss a payment"})
    assert r.status_code == 200, r.text
    assert r.json()["answers"][0]["article_id"] == "premium-grace-period"


def test_the_bento_needs_no_mlflow_store_and_writes_only_its_state_dir(served_bento):
    _, empty, state = served_bento
    assert not list(empty.rglob("*.db")) and not (empty / "hide" / ".ccrisk").exists()
    assert not list(state.rglob("mlflow.db"))
    assert (state / "audit.sqlite").exists()  # the calls above were audited, in the state dir given


def test_container_says_why_it_cannot_build_without_a_docker_daemon(bento):
    from ccrisk.bento_cli import docker_problem

    if docker_problem() is None:
        pytest.skip("a Docker daemon and the base image are here: containerize is not refused")
    tag, env = bento
    proc = subprocess.run(
        [sys.executable, "-m", "ccrisk", "bento", "container", "--tag", tag],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 3
    assert "cannot build a container image" in proc.stdout and f"bentoml serve {tag}" in proc.stdout
