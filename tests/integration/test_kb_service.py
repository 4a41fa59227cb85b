"""The knowledge-base endpoints over HTTP, against the real server and the registry's champion."""

import mlflow
import pandas as pd
import pytest

from features.kb.feedback import FeedbackStore
from features.settings import load_settings


def test_docs_list_the_kb_routes(server):
    paths = set(server.get("/docs.json").json()["paths"])
    assert {"/v1/kb/search", "/v1/kb/feedback"} <= paths


def test_search_returns_ranked_answers_equal_to_the_registered_model(server, trained):
    r = server.post(
        "/v1/kb/search", json={"query": "how long is the grace period if I miss a payment", "top_k": 3}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answers"][0]["article_id"] == "premium-grace-period"
    assert len(body["answers"]) == 3 and body["no_confident_answer"] is False
    assert "<mark>" in body["answers"][0]["snippet"]
    assert body["model"]["version"] == trained.kb_result.version
    logged = mlflow.pyfunc.load_model("models:/ccrisk-kb@champion").predict(
        pd.DataFrame({"query": ["how long is the grace period if I miss a payment"], "top_k": [3]})
    )
    assert [a["article_id"] for a in body["answers"]] == logged["article_ids"][0]
    assert [a["score"] for a in body["answers"]] == pytest.approx(logged["scores"][0], abs=1e-9)


def test_filters_and_feedback_round_trip(server, trained):
    r = server.post(
        "/v1/kb/search", json={"query": "make a claim", "filters": {"line_of_business": ["health"]}}
    )
    body = r.json()
    assert r.status_code == 200 and body["answers"]
    chosen = body["answers"][0]["article_id"]
    assert chosen.startswith("health-")
    fb = server.post(
        "/v1/kb/feedback", json={"query_id": body["query_id"], "article_id": chosen, "feedback": "helpful"}
    )
    assert fb.status_code == 200, fb.text
    assert fb.json()["stored"] is True
    rows = FeedbackStore(load_settings(trained.settings_path).stores_url).feedback_rows()
    assert [(r["article_id"], r["verdict"]) for r in rows if r["id"] == fb.json()["feedback_id"]] == [
        (chosen, "helpful")
    ]


@pytest.mark.parametrize(
    ("route", "payload", "status", "field"),
    [
        ("/v1/kb/search", {"query": ""}, 400, "query"),
        ("/v1/kb/search", {"query": "   "}, 400, "query"),
        ("/v1/kb/search", {"query": "x" * 2001}, 400, "query"),
        ("/v1/kb/search", {"query": "claim", "top_k": 51}, 400, "top_k"),
        ("/v1/kb/search", {"query": "claim", "filters": {"colour": ["red"]}}, 400, "colour"),
        ("/v1/kb/feedback", {"query_id": "nope", "article_id": "a", "feedback": "helpful"}, 404, "query_id"),
        ("/v1/kb/feedback", {"query_id": "q", "article_id": "a", "feedback": "great"}, 400, "feedback"),
    ],
)
def test_bad_input_is_a_4xx_naming_the_field(server, route, payload, status, field):
    r = server.post(route, json=payload)
    assert r.status_code == status, r.text
    assert field in r.text


def test_feedback_for_an_article_that_was_not_shown_is_not_found(server):
    qid = server.post("/v1/kb/search", json={"query": "lost my insurance card", "top_k": 1}).json()[
        "query_id"
    ]
    r = server.post(
        "/v1/kb/feedback", json={"query_id": qid, "article_id": "life-claim", "feedback": "dismissed"}
    )
    assert r.status_code == 404 and "article_id" in r.json()["detail"]
