"""The claims endpoints over HTTP, against the real server and the registry's champion."""

import os
import time

import httpx
import mlflow
import numpy as np
import polars as pl
import pytest
import yaml

from tests.conftest import MAX_BATCH, SAMPLE_CLAIMS


def _claims(n: int, start: int = 0) -> list[dict]:
    df = pl.read_csv(SAMPLE_CLAIMS).slice(start, n)
    rows = df.drop("FraudFound_P").rename({"PolicyNumber": "claim_id"}).to_dicts()
    for r in rows:
        r["claim_id"] = f"C-{r['claim_id']}"
    return rows


def _pyfunc_scores(rows: list[dict]) -> np.ndarray:
    frame = pl.DataFrame([{k: v for k, v in r.items() if k != "claim_id"} for r in rows]).to_pandas()
    out = mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion").predict(frame)
    return out["fraud_probability"].to_numpy()


def test_health_and_docs(server):
    assert server.get("/healthz").status_code == 200
    assert server.get("/readyz").status_code == 200
    spec = server.get("/docs.json").json()
    assert {"/v1/claims/score", "/v1/claims/score_batch"} <= set(spec["paths"])
    assert "VehiclePrice" in str(spec["components"])


def test_score_one_claim(server, trained):
    claim = _claims(1)[0]
    r = server.post("/v1/claims/score", json={"claim": claim})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["claim_id"] == claim["claim_id"]
    assert 0 <= body["fraud_probability"] <= 1
    assert body["risk_band"] in {"low", "medium", "high"}
    assert len(body["reasons"]) == 3 and all(x["text"] for x in body["reasons"])
    assert body["model"]["name"] == "ccrisk-fraud"
    assert body["model"]["version"] == trained.result.version
    assert body["model"]["run_id"] == trained.result.run_id
    assert isinstance(body["rules_hit"], list)


def test_batch_round_trip_equals_the_logged_model(server):
    claims = _claims(40, start=100)
    r = server.post("/v1/claims/score_batch", json={"claims": claims, "explain": "all"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["claim_id"] for x in results] == [c["claim_id"] for c in claims]
    served = np.array([x["fraud_probability"] for x in results])
    assert np.allclose(served, _pyfunc_scores(claims), rtol=0, atol=1e-12)
    assert all(len(x["reasons"]) == 3 for x in results)


def test_batch_explains_flagged_claims_by_default(server):
    results = server.post("/v1/claims/score_batch", json={"claims": _claims(40)}).json()["results"]
    assert {x["risk_band"] for x in results} != {"low"}
    for x in results:
        assert (len(x["reasons"]) == 3) == (x["risk_band"] != "low")
    r = server.post("/v1/claims/score_batch", json={"claims": _claims(2), "explain": "some"})
    assert r.status_code == 400 and "explain" in r.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"VehiclePrice": "cheap"}, "VehiclePrice"),
        ({"DriverRating": 9}, "DriverRating"),
        ({"Fault": None}, "Fault"),
        ({"Vehicle_Price": "x"}, "Vehicle_Price"),
    ],
)
def test_bad_claim_gets_400_naming_the_field(server, change, field):
    claim = {**_claims(1)[0], **change}
    r = server.post("/v1/claims/score", json={"claim": claim})
    assert r.status_code == 400
    assert field in [loc for d in r.json()["errors"] for loc in d["loc"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"VehiclePrice": "cheap"}, "VehiclePrice"),
        ({"DriverRating": 9}, "DriverRating"),
        ({"Extra": 1}, "Extra"),
    ],
)
def test_bad_claim_in_a_batch_gets_400_naming_the_claim_and_field(server, change, field):
    """msgspec refuses the body (features/claims/wire.py) and pydantic words the error."""
    claims = _claims(3)
    claims[2] = {**claims[2], **change}
    r = server.post("/v1/claims/score_batch", json={"claims": claims})
    assert r.status_code == 400
    assert ["claims", 2, field] in [d["loc"] for d in r.json()["errors"]]


def test_a_batch_pydantic_coerces_scores_as_the_same_claims_sent_strictly(server):
    """`30.0` for an integer, a number sent as text: msgspec leaves such a body to pydantic,
    whose lax mode accepts it; the answer is the one the strictly typed body gets."""
    claims = _claims(70, start=200)  # over serving/records.BLOCK_MIN: logged as one block either way
    lax = [{**c, "Age": float(c["Age"]), "Deductible": str(c["Deductible"])} for c in claims]
    strict = server.post("/v1/claims/score_batch", json={"claims": claims, "explain": "all"})
    coerced = server.post("/v1/claims/score_batch", json={"claims": lax, "explain": "all"})
    assert strict.status_code == coerced.status_code == 200, coerced.text
    assert coerced.content == strict.content


def test_missing_field_bad_json_and_empty_batch(server):
    claim = _claims(1)[0]
    del claim["Fault"]
    r = server.post("/v1/claims/score", json={"claim": claim})
    assert r.status_code == 400 and "Fault" in r.text
    assert server.post("/v1/claims/score", content=b"{not json").status_code == 400
    r = server.post("/v1/claims/score_batch", json={"claims": []})
    assert r.status_code == 400 and "claims" in r.text


def test_batch_over_the_maximum_gets_413(server):
    r = server.post("/v1/claims/score_batch", json={"claims": _claims(MAX_BATCH + 1)})
    assert r.status_code == 413
    assert f"maximum is {MAX_BATCH}" in r.text


def test_editing_the_rules_file_changes_hits_without_retraining(server, trained):
    claim = _claims(1)[0]
    before = server.post("/v1/claims/score", json={"claim": claim}).json()
    library = yaml.safe_load(trained.rules_path.read_text())
    original = trained.rules_path.read_text()
    library["version"] = "test-edit"
    library["rules"].append(
        {
            "id": "T-001",
            "description": "every claim",
            "severity": "low",
            "escalate": "high",
            "review": True,
            "when": {"field": "Sex", "op": "in", "value": ["Female", "Male"]},
        }
    )
    try:
        trained.rules_path.write_text(yaml.safe_dump(library))
        os.utime(trained.rules_path, (time.time() + 5, time.time() + 5))
        after = server.post("/v1/claims/score", json={"claim": claim}).json()
        assert "T-001" in [h["id"] for h in after["rules_hit"]]
        assert after["model"]["rules_version"].startswith("test-edit+")
        assert after["fraud_probability"] == before["fraud_probability"]  # the model's, unchanged
        assert after["model_risk_band"] == before["risk_band"] and after["risk_band"] == "high"
        assert after["band_raised_by"] == ("T-001" if before["risk_band"] != "high" else None)
        assert after["manual_review"] is True
        for _ in range(12):  # new connections, spread over the workers: each has reloaded the file
            with httpx.Client(base_url=str(server.base_url), headers=server.headers, timeout=30) as fresh:
                answer = fresh.post("/v1/claims/score", json={"claim": claim}).json()
            assert answer["model"]["rules_version"] == after["model"]["rules_version"]
    finally:
        trained.rules_path.write_text(original)
        os.utime(trained.rules_path, (time.time() + 10, time.time() + 10))


def _csv(n: int, start: int = 0) -> str:
    lines = SAMPLE_CLAIMS.read_text().splitlines()
    return "\n".join([lines[0], *lines[1 + start : 1 + start + n]]) + "\n"


def test_a_claims_csv_scores_as_the_batch_endpoint_does(server):
    """The screens' upload: the spec's identifier column is the claim id, the label is ignored, and
    every claim scores exactly as the same claim sent to /v1/claims/score_batch."""
    r = server.post("/v1/claims/score_csv", json={"csv": _csv(30, start=200)})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    claims = [{**c, "claim_id": c["claim_id"].removeprefix("C-")} for c in _claims(30, start=200)]
    assert [x["claim_id"] for x in results] == [c["claim_id"] for c in claims]
    batch = server.post("/v1/claims/score_batch", json={"claims": claims, "explain": "all"}).json()["results"]
    assert [x["fraud_probability"] for x in results] == [x["fraud_probability"] for x in batch]
    assert [x["reasons"] for x in results] == [x["reasons"] for x in batch]


@pytest.mark.parametrize(
    ("csv", "status", "words"),
    [
        ("PolicyNumber,Colour\n1,red\n", 422, "unknown column(s) ['Colour']"),
        ("Age\n", 422, "a header but no claims"),
        ("PolicyNumber,Age\n1,40,extra\n", 422, "data row 1 has 3 cells"),
        (None, 422, "row 2 Age"),
        ("Age\n" + "40\n" * (MAX_BATCH + 1), 413, f"over {MAX_BATCH} claims"),
    ],
)
def test_a_bad_claims_csv_is_refused_naming_the_fix(server, csv, status, words):
    if csv is None:  # a full CSV whose second claim has an age that is not a number
        lines = _csv(3).splitlines()
        header = lines[0].split(",")
        cells = lines[2].split(",")
        cells[header.index("Age")] = "forty"
        csv = "\n".join([lines[0], lines[1], ",".join(cells), lines[3]])
    r = server.post("/v1/claims/score_csv", json={"csv": csv})
    assert r.status_code == status, r.text
    assert words in r.json()["detail"]


def test_two_lines_are_served_side_by_side(server):
    """The health line beside the default vehicle one: its own endpoints, model, rules and spec."""
    from features.claims.spec import load_spec

    health = {"claim_id": "H-1", **load_spec("health_claims").example}
    out = server.post("/v1/claims/health_claims/score", json={"claim": health})
    assert out.status_code == 200, out.text
    scored = out.json()
    assert scored["model"]["name"] == "ccrisk-fraud-health_claims"
    assert scored["model"]["rules_version"].startswith("2026.12.1+")
    assert "HL-001" in [h["id"] for h in scored["rules_hit"]]  # treatment 19 days after the start
    assert scored["model_risk_band"] != "low" or scored["band_raised_by"] == "HL-001"
    assert not {"member_sex", "member_age"} & {r["feature"] for r in scored["reasons"]}  # protected
    batch = server.post("/v1/claims/health_claims/score_batch", json={"claims": [health, health]}).json()
    assert batch["count"] == 2 and batch["results"][0]["fraud_probability"] == scored["fraud_probability"]
    vehicle = _claims(1)[0]
    same = server.post("/v1/claims/vehicle_claims/score", json={"claim": vehicle}).json()
    assert same == server.post("/v1/claims/score", json={"claim": vehicle}).json()
    wrong = server.post("/v1/claims/health_claims/score", json={"claim": vehicle})
    assert wrong.status_code == 400 and "claim.provider_type" in wrong.text
    models = server.get("/readyz").json()["models"]
    assert models["ccrisk-fraud-health_claims@champion"]["problem"] is None
