"""`ccrisk score claims|messages` on both engines: the output equals the HTTP service's answers for
the same claims and messages (the Spark tests: `-m spark`, Spark local[2] on Java 17)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pandas as pd
import polars as pl
import pytest

from tests.conftest import MAX_BATCH, MAX_TEXTS, SAMPLE_CLAIMS, SAMPLE_MESSAGES

CLAIMS, MESSAGES = 60, 20
needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="Spark needs Java (17) on the PATH")


def _score(what: str, engine: str, source, target, trained) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ccrisk", "score", what, "--input", str(source), "--output", str(target),
         "--engine", engine],
        env=trained.env(), capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert f"{CLAIMS if what == 'claims' else MESSAGES} {what} scored" in proc.stdout


@pytest.fixture(scope="module")
def claims_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("batch") / "claims.csv"
    pl.read_csv(SAMPLE_CLAIMS).slice(200, CLAIMS).write_csv(path)  # as exported: id and label columns too
    return path


@pytest.fixture(scope="module")
def http_claims(server, claims_csv, spec) -> pd.DataFrame:
    """The service's answers for the same claims (/v1/claims/score_batch, every claim explained)."""
    rows = pl.read_csv(claims_csv).drop(spec.target).rename({spec.identifier: "claim_id"})
    rows = rows.with_columns(pl.col("claim_id").cast(pl.String)).to_dicts()
    results = []
    for start in range(0, len(rows), MAX_BATCH):
        r = server.post(
            "/v1/claims/score_batch", json={"claims": rows[start : start + MAX_BATCH], "explain": "all"}
        )
        assert r.status_code == 200, r.text
        results += r.json()["results"]
    return pd.DataFrame(
        {
            "claim_id": [x["claim_id"] for x in results],
            "fraud_probability": [x["fraud_probability"] for x in results],
            "risk_band": [x["risk_band"] for x in results],
            "model_risk_band": [x["model_risk_band"] for x in results],
            "band_raised_by": [x["band_raised_by"] for x in results],
            "manual_review": [x["manual_review"] for x in results],
            "top_reasons": ["; ".join(r["text"] for r in x["reasons"]) for x in results],
            "rules_hit": [[h["id"] for h in x["rules_hit"]] for x in results],
            "model_version": [x["model"]["version"] for x in results],
            "rules_version": [x["model"]["rules_version"] for x in results],
        }
    ).set_index("claim_id")


def _same_claims(out: pd.DataFrame, http: pd.DataFrame) -> None:
    out = out.set_index("claim_id").loc[http.index]
    assert len(out) == len(http) == CLAIMS
    assert (out["fraud_probability"] - http["fraud_probability"]).abs().max() <= 1e-9
    for column in ("risk_band", "model_risk_band", "band_raised_by", "manual_review", "top_reasons",
                   "model_version", "rules_version"):  # fmt: skip
        values = [None if pd.isna(v) else v for v in out[column].tolist()]  # a null as None, as in JSON
        assert values == http[column].tolist(), column
    assert [list(x) for x in out["rules_hit"]] == http["rules_hit"].tolist()
    assert any(http["rules_hit"].map(len)) and http["top_reasons"].str.len().min() > 0  # not vacuous


ENGINES = ["local", pytest.param("spark", marks=[pytest.mark.spark, needs_java])]


@pytest.mark.parametrize("engine", ENGINES)
def test_claims_scored_by_either_engine_equal_the_http_service(
    engine, claims_csv, http_claims, trained, tmp_path
):
    source = claims_csv
    if engine == "spark":  # Parquet in, as well as CSV
        source = tmp_path / "claims.parquet"
        pl.read_csv(claims_csv).write_parquet(source)
    target = tmp_path / ("scores.parquet" if engine == "local" else "scores")  # Spark writes part files
    _score("claims", engine, source, target, trained)
    _same_claims(pd.read_parquet(target), http_claims)


@pytest.fixture(scope="module")
def messages_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("batch") / "messages.csv"
    frame = pl.read_csv(SAMPLE_MESSAGES).slice(0, MESSAGES).select("text")
    frame.with_row_index("message_id", offset=1).with_columns(
        pl.format("M-{}", "message_id").alias("message_id")
    ).write_csv(path)
    return path


@pytest.fixture(scope="module")
def http_messages(server, messages_csv) -> pd.DataFrame:
    rows = pl.read_csv(messages_csv)
    results = []
    for start in range(0, rows.height, MAX_TEXTS):
        texts = [{"text": t} for t in rows["text"].slice(start, MAX_TEXTS)]
        r = server.post("/v1/contact/analyze_batch", json={"messages": texts, "key_phrases": "none"})
        assert r.status_code == 200, r.text
        results += r.json()["results"]
    return pd.DataFrame(results, index=rows["message_id"].to_list())


def _same_messages(out: pd.DataFrame, http: pd.DataFrame) -> None:
    out = out.set_index("message_id").loc[http.index]
    assert "text" not in out.columns  # the messages themselves are not written
    for task, answer in (("complaint_topic", "topic"), ("intent", "intent")):
        assert out[f"{task}_label"].tolist() == [a["label"] for a in http[answer]]
        assert (
            max(
                abs(p - a["probability"])
                for p, a in zip(out[f"{task}_probability"], http[answer], strict=True)
            )
            <= 1e-6
        )
    p_complaint = [
        p if label == "complaint" else 1 - p
        for label, p in zip(out["complaint_label"], out["complaint_probability"], strict=True)
    ]
    assert max(abs(p - a["probability"]) for p, a in zip(p_complaint, http["complaint"], strict=True)) <= 1e-6


@pytest.mark.parametrize("engine", ENGINES)
def test_messages_scored_by_either_engine_equal_the_http_service(
    engine, messages_csv, http_messages, trained, tmp_path
):
    target = tmp_path / ("messages.parquet" if engine == "local" else "messages")
    _score("messages", engine, messages_csv, target, trained)
    _same_messages(pd.read_parquet(target), http_messages)


def test_a_table_without_the_claim_columns_is_refused_naming_them(trained, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("PolicyNumber,Make\n1,Honda\n")
    out = tmp_path / "o.parquet"
    proc = subprocess.run(
        [sys.executable, "-m", "ccrisk", "score", "claims", "--input", str(bad), "--output", str(out)],
        env=trained.env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "needs the columns" in proc.stdout and "AccidentArea" in proc.stdout
