"""Batch scoring side by side on the same claims: `ccrisk score claims` on the local engine and on
Spark local[2] (each a whole job: start-up, model load, read, score with reasons, write Parquet),
the HTTP batch endpoint (posts of serving.max_batch_claims, every claim explained) and the raw
`Booster.predict` of the champion on the encoded matrix (no reasons, no I/O: the floor)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import polars as pl

from benchmarks.fraud import _claims, _workers
from benchmarks.loadgen import timed_posts
from benchmarks.servers import start_ccrisk
from features.claims.spec import load_spec


def measure(env: dict, folder: Path, data: Path, rows: int, max_batch: int) -> dict:
    claims = _claims(data, rows)
    spec = load_spec()
    table = folder / "batch-claims.parquet"
    ids = [f"B-{i}" for i in range(rows)]
    pl.DataFrame(claims).with_columns(pl.Series(spec.identifier, ids)).write_parquet(table)
    out: dict = {"rows": rows, "input": "Parquet, one file", "cpus": os.cpu_count()}
    for engine in ("local", "spark"):
        seconds = _job(env, engine, table, folder / f"scores-{engine}")
        out[f"{engine}_engine_rows_per_s"] = round(rows / seconds)
        out[f"{engine}_engine_job_s"] = round(seconds, 1)
    out["http_batch_rows_per_s"] = round(rows / _http(env, folder, claims, max_batch))
    out["raw_booster_predict_rows_per_s"] = round(rows / _raw(claims))
    return out


def _job(env: dict, engine: str, table: Path, target: Path) -> float:
    started = time.perf_counter()
    cmd = [sys.executable, "-m", "ccrisk", "score", "claims", "--input", str(table), "--output", str(target)]
    proc = subprocess.run([*cmd, "--engine", engine], env=env, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(
            f"ccrisk score claims --engine {engine} failed:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        )
    return time.perf_counter() - started


def _http(env: dict, folder: Path, claims: list[dict], max_batch: int) -> float:
    """Seconds to score every claim through /v1/claims/score_batch, one post after another."""
    server = start_ccrisk(env, folder / "ccrisk-batch-scoring.log", _workers(env))
    try:
        total = 0.0
        for start in range(0, len(claims), max_batch):
            part = claims[start : start + max_batch]
            total += timed_posts(
                server.base + "/v1/claims/score_batch", {"claims": part, "explain": "all"}, 1
            )[0]
        return total
    finally:
        server.stop()


def _raw(claims: list[dict]) -> float:
    scorer = mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion").unwrap_python_model()
    x = scorer.encoder.matrix(pl.DataFrame(claims))
    started = time.perf_counter()
    scorer.raw_scores(x)
    return time.perf_counter() - started


def markdown_lines(report: dict) -> list[str]:
    b = report["serving"].get("batch_scoring")
    if not b:
        return []
    return [
        f"Batch scoring, {b['rows']:,} claims ({b['input']}, {b['cpus']} CPUs), every claim with its reasons "
        "except the raw predict:",
        "",
        "| path | claims/s | job s |",
        "| --- | --- | --- |",
        f"| `ccrisk score claims --engine local` (whole job) | {b['local_engine_rows_per_s']:,} | "
        f"{b['local_engine_job_s']} |",
        f"| `ccrisk score claims --engine spark`, local[2] (whole job) | {b['spark_engine_rows_per_s']:,} | "
        f"{b['spark_engine_job_s']} |",
        f"| HTTP `/v1/claims/score_batch`, sequential posts | {b['http_batch_rows_per_s']:,} | |",
        f"| raw `Booster.predict`, encoded matrix (floor) | {b['raw_booster_predict_rows_per_s']:,} | |",
        "",
    ]
