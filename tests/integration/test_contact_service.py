"""The contact-text endpoints over HTTP, against the real server and the registry's champions."""

import mlflow
import numpy as np
import pytest

from tests.conftest import MAX_TEXTS

COMPLAINT = "Third time I'm asking: my card was stolen and nobody helps! Absolutely unacceptable."
NEUTRAL = "Hi team, how do I change my PIN? Many thanks."


def test_docs_list_the_contact_routes(server):
    paths = set(server.get("/docs.json").json()["paths"])
    assert {"/v1/contact/analyze", "/v1/contact/analyze_batch"} <= paths


def test_analyze_one_message(server, trained):
    r = server.post("/v1/contact/analyze", json={"text": COMPLAINT, "channel": "chat"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["complaint"]["band"] == "high"
    assert body["complaint"]["probability"] > 0.7
    assert body["complaint"]["key_phrases"], "a flagged complaint comes with its key phrases"
    assert body["topic"]["label"] == "Credit card or prepaid card"
    assert len(body["topic"]["top3"]) == 3
    assert body["intent"]["label"] == "lost_or_stolen_card"
    assert body["intent"]["low_confidence"] is False
    assert body["truncated"] is False
    versions = {m["task"]: m["version"] for m in body["models"]}
    assert versions == {t: r.version for t, r in trained.text_results.items()}


def test_neutral_message_is_low_risk_without_phrases(server):
    body = server.post("/v1/contact/analyze", json={"text": NEUTRAL}).json()
    assert body["complaint"]["band"] == "low"
    assert body["complaint"]["key_phrases"] == []
    assert body["intent"]["label"] == "change_pin"


def test_batch_in_order_and_equal_to_the_registered_models(server):
    texts = [COMPLAINT, NEUTRAL, "The money I sent to my landlord never arrived, fed up with you people."]
    r = server.post("/v1/contact/analyze_batch", json={"messages": [{"text": t} for t in texts]})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert r.json()["count"] == 3
    import pandas as pd

    frame = pd.DataFrame({"text": texts})
    served = np.array([x["complaint"]["probability"] for x in results])
    logged = mlflow.pyfunc.load_model("models:/ccrisk-complaint@champion").predict(frame)
    assert np.allclose(served, logged["p_complaint"].to_numpy(), atol=1e-9)
    intents = mlflow.pyfunc.load_model("models:/ccrisk-intent@champion").predict(frame)
    assert [x["intent"]["label"] for x in results] == intents["label"].tolist()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"text": ""}, "text"),
        ({"text": "   \n "}, "text"),
        ({}, "text"),
        ({"text": "x" * 20001}, "text"),
        ({"text": "hello", "channel": "fax"}, "channel"),
        ({"text": "hello", "key_phrases": "some"}, "key_phrases"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(server, payload, field):
    r = server.post("/v1/contact/analyze", json=payload)
    assert r.status_code == 400, r.text
    assert field in r.text


def test_batch_limits(server):
    r = server.post("/v1/contact/analyze_batch", json={"messages": []})
    assert r.status_code == 400 and "messages" in r.text
    too_many = [{"text": f"message {i}"} for i in range(MAX_TEXTS + 1)]
    r = server.post("/v1/contact/analyze_batch", json={"messages": too_many})
    assert r.status_code == 413 and "split the batch" in r.text
    r = server.post("/v1/contact/analyze_batch", json={"messages": [{"text": "ok"}, {"text": " "}]})
    assert r.status_code == 400 and "messages[1].text" in r.text


def test_the_largest_batch_finishes_inside_the_request_timeout(server):
    """The most a batch may hold (max_batch_texts messages of the longest text, 200,000
    characters: the default serving.max_batch_chars), every message explained: not a 504."""
    words = "Claim PX-4839201: Jane Morgan is furious, the repair is late and nobody calls back. "
    text = (words * (20000 // len(words) + 1))[:20000]
    batch = [{"text": text[i:] + text[:i]} for i in range(MAX_TEXTS)]
    assert sum(len(m["text"]) for m in batch) == 200_000
    r = server.post("/v1/contact/analyze_batch", json={"messages": batch, "key_phrases": "all"}, timeout=70)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["count"] == MAX_TEXTS


def test_the_answer_carries_the_message_with_personal_data_masked(server):
    text = "I'm Jane Morgan, ring me on 07700 900123: my card still hasn't arrived, this is unacceptable"
    body = server.post("/v1/contact/analyze", json={"text": text, "key_phrases": "all"}).json()
    assert "07700 900123" not in body["masked_text"] and "Jane Morgan" not in body["masked_text"]
    assert "[PHONE]" in body["masked_text"] and "my card still hasn't arrived" in body["masked_text"]
