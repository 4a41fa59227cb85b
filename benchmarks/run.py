"""Orchestrates `ccrisk bench`: a temporary MLflow store, quality, serving, JSON + table + README."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from importlib import metadata
from pathlib import Path

import mlflow
import yaml
from rich.console import Console
from rich.table import Table

from benchmarks import fraud, kb, release, text
from features.ops.keys import create_key
from features.settings import load_settings, prepare_environment

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = ("lightgbm", "mlflow", "bentoml", "polars", "scikit-learn", "numpy", "torch", "pydantic")
BARS = {
    "fraud_rps_vs_mlflow_at_c8": 3.0,
    "single_claim_p99_ms_at_c8": 10.0,
    "batch_none_share_of_raw_predict": 0.5,
    "rss_mb_all_models": 1536,
    "message_p95_ms_at_c1": 30.0,
    "kb_query_p95_ms_at_c1": 50.0,
}
SINGLE_SERVERS = ("ccrisk", "mlflow", "floor")  # floor: absent from runs before 2026-11-23 11:50


def machine() -> dict:
    import psutil

    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
    }


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        return "unknown"


def _isolated_store(folder: Path) -> None:
    """Point this process and its servers at a fresh store in `folder`."""
    data = yaml.safe_load((ROOT / "mlflow.yaml").read_text())
    data.update(
        state_dir=str(folder / "state"),
        tracking_uri=f"sqlite:///{folder}/mlflow.db",
        artifact_location=str(folder / "artifacts"),
    )
    (folder / "mlflow.yaml").write_text(yaml.safe_dump(data))
    os.environ["CCRISK_SETTINGS"] = str(folder / "mlflow.yaml")
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{folder}/mlflow.db"
    os.environ["BENTOML_HOME"] = str(folder / "bentoml")
    # every /v1 call needs a key: an admin key for the load generator (benchmarks.loadgen reads it)
    # (with a rate limit far above what the load generator can send: 429s would count as errors)
    os.environ["CCRISK_API_KEY"] = create_key(
        folder / "state" / "api_keys.json", "bench", "admin", rate_per_minute=100_000_000
    )
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    # Sentence embeddings of the real files are label-free and slow (minutes for 10k narratives):
    # share the project's embedding cache instead of recomputing it in every bench store.
    cache = ROOT / ".ccrisk" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(parents=True, exist_ok=True)
    (folder / "state" / "cache").symlink_to(cache, target_is_directory=True)


def run_bench(quick: bool, console: Console) -> Path:
    seconds, levels = (2.0, [1, 8]) if quick else (10.0, [1, 8, 32])
    sizes, repeats = ([1000], 2) if quick else ([1000, 10000], 3)
    report: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        "machine": machine(),
        "versions": {p: metadata.version(p) for p in PACKAGES},
        "git_commit": git_commit(),
        "load_generator": "aiohttp bounded async client, same process for both servers, loopback",
        "duration_s_per_point": seconds,
    }
    with tempfile.TemporaryDirectory(prefix="ccrisk-bench-") as tmp:
        folder = Path(tmp)
        _isolated_store(folder)
        settings = load_settings(folder / "mlflow.yaml")
        prepare_environment(settings)
        env = dict(os.environ)
        console.log("training the fraud model (quality)")
        report["quality"], data = fraud.train_for_bench(settings)
        console.log("training the contact-text models (quality)")
        report["quality"]["text"] = text.train_for_bench(settings)
        console.log("knowledge base: every method on each real set; the MedQuAD KB is served")
        report["quality"]["kb"] = kb.train_for_bench(settings)
        console.log("one message through /v1/contact/analyze")
        report["serving"] = {
            "text_single": text.latency(env, folder, levels, seconds, settings.serving.workers)
        }
        console.log("message path tuning: GIL switch interval, encoder backend (alternating rounds)")
        report["serving"]["text_tuning"] = text.tuning(
            env, folder, seconds, settings.serving.workers, rounds=1 if quick else 3
        )
        console.log("one query through /v1/kb/search")
        report["serving"]["kb_search"] = kb.latency(env, folder, levels, seconds, settings.serving.workers)
        console.log("single claim: ccrisk vs mlflow models serve")
        report["serving"]["fraud_single"] = fraud.single_claim(
            env, folder, levels, seconds, settings.serving.workers, rounds=1 if quick else 3
        )
        console.log("batch endpoint vs in-process predict")
        report["serving"]["fraud_batch"] = fraud.batches(env, folder, data, sizes, repeats)
        if data == fraud.REAL_CLAIMS:
            console.log("champion/challenger: shadow latency, compare -> promote -> rollback on real claims")
            report["serving"]["champion_challenger"] = _champion_challenger(
                env, folder, settings, data, seconds, quick
            )
        console.log("tuning: BentoML workers, frozen heap; cost of auth + audit and of the prediction log")
        report["serving"]["tuning"] = fraud.workers_tuning(env, folder, seconds)
        report["serving"]["security_overhead"] = fraud.security_overhead(
            env, folder, seconds, rounds=1 if quick else 2
        )
    report["bars"] = check_bars(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("bench-quick.json" if quick else "bench.json")
    out.write_text(json.dumps(report, indent=2))
    console.print(summary_table(report))
    if not quick:
        update_readme(report)
    return out


def _champion_challenger(env: dict, folder: Path, settings, data: Path, seconds: float, quick: bool) -> dict:
    champion, challenger, claims = release.train_challenger(settings, data)
    workers = settings.serving.workers
    out = {"champion": champion, "challenger": challenger, "challenger_params": release.CHALLENGER_PARAMS}
    out["shadow_overhead"] = release.shadow_overhead(env, folder, seconds, workers)
    out["worked_example"] = release.worked_example(
        env, folder, settings, claims[: 1000 if quick else None], workers
    )
    return out


def check_bars(report: dict) -> dict:
    single = report["serving"]["fraud_single"]
    at8 = {r["concurrency"]: r for r in single["ccrisk"]["load"]}[8]
    levels = [r["concurrency"] for r in single["ccrisk"]["load"]]
    batch = report["serving"]["fraud_batch"]
    largest = batch[max((k for k in batch if k.isdigit()), key=int)]
    measured = {
        "fraud_rps_vs_mlflow_at_c8": dict(zip(levels, single["ratio_rps"], strict=True))[8],
        "single_claim_p99_ms_at_c8": at8["p99_ms"],
        "batch_none_share_of_raw_predict": largest["endpoint_none_vs_raw"],
        "rss_mb_all_models": single["ccrisk"]["rss_mb"],
        "message_p95_ms_at_c1": {r["concurrency"]: r for r in report["serving"]["text_single"]["neutral"]}[1][
            "p95_ms"
        ],
        "kb_query_p95_ms_at_c1": {r["concurrency"]: r for r in report["serving"]["kb_search"]["search"]}[1][
            "p95_ms"
        ],
    }
    lower_is_better = {
        "single_claim_p99_ms_at_c8",
        "rss_mb_all_models",
        "message_p95_ms_at_c1",
        "kb_query_p95_ms_at_c1",
    }
    bars = {
        k: {"bar": BARS[k], "measured": v, "met": v <= BARS[k] if k in lower_is_better else v >= BARS[k]}
        for k, v in measured.items()
    }
    quality = {
        **text.quality_bars(report["quality"].get("text", {})),
        **kb.quality_bars(report["quality"].get("kb", {})),
    }
    for k, (bar, value) in quality.items():
        bars[k] = {"bar": bar, "measured": value, "met": value >= bar}
    return bars


def summary_table(report: dict) -> Table:
    table = Table(title="ccrisk bench" + (" (quick)" if report["quick"] else ""))
    for col in ("figure", "value"):
        table.add_column(col)
    q = report["quality"].get("fraud")
    if isinstance(q, dict):
        for k in ("roc_auc", "pr_auc", "brier", "precision_at_recall_95"):
            table.add_row(f"fraud test {k}", str(q[k]))
    single = report["serving"]["fraud_single"]
    for name in SINGLE_SERVERS:
        for r in single.get(name, {}).get("load", []):
            figures = f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} / p99 {r['p99_ms']:.1f} ms"
            table.add_row(f"{name} single c={r['concurrency']}", f"{figures}, errors {r['errors']}")
    for row in text.table_rows(report):
        table.add_row(*row)
    for k, v in report["bars"].items():
        table.add_row(f"bar {k}", f"{v['measured']} vs {v['bar']}: {'met' if v['met'] else 'NOT met'}")
    return table


README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


def markdown(report: dict) -> str:
    """The README's Performance section, generated from one bench run."""
    single = report["serving"]["fraud_single"]
    lines = [
        README_START,
        "",
        f"Generated by `make bench` ({report['started']}, commit {report['git_commit'][:8]}, "
        f"{report['machine']['cpus']} CPUs, {report['duration_s_per_point']:.0f} s per point; "
        "JSON in `benchmarks/results/bench.json`).",
        "",
    ]
    q = report["quality"].get("fraud")
    if isinstance(q, dict):
        lines += [
            f"Fraud quality ({q['data']}, {q['split']}): ROC-AUC {q['roc_auc']}, PR-AUC {q['pr_auc']}, "
            f"Brier {q['brier']}, precision at recall 0.95 {q['precision_at_recall_95']}.",
            "",
        ]
    lines += text.markdown_lines(report)
    lines += kb.markdown_lines(report)
    lines += [
        "| one claim | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in SINGLE_SERVERS:
        for r in single.get(name, {}).get("load", []):
            lines.append(
                f"| {name} | {r['concurrency']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
                f"| {r['p99_ms']:.1f} | {r['errors']} |"
            )
    levels = [r["concurrency"] for r in single["ccrisk"]["load"]]
    ratios = ", ".join(f"c={c} {x}" for c, x in zip(levels, single["ratio_rps"], strict=True))
    lines += [
        "",
        f"The servers are up at once, taking turns point by point, {single.get('rounds', 1)} round(s); "
        f"figures are medians over rounds. ccrisk / mlflow req/s, median of the per-round ratios: {ratios}. "
        "`floor` is BentoML with the same request and response types and a constant answer "
        "(benchmarks/floor_service.py): no model, auth or audit.",
        "",
        _rounds_at(single, 8),
        "",
        "| batch size | in-process raw predict rows/s | endpoint, no reasons | endpoint, flagged explained |",
        "| --- | --- | --- | --- |",
    ]
    for n, b in report["serving"]["fraud_batch"].items():
        if n.isdigit():
            lines.append(
                f"| {n} | {b['in_process_raw_predict_rows_per_s']} "
                f"| {b['endpoint_explain_none_claims_per_s']} "
                f"| {b['endpoint_explain_flagged_claims_per_s']} |"
            )
    lines += release.markdown_lines(report)
    lines += [
        "",
        "| tuning (one claim, concurrency 8) | req/s | p50 ms | p99 ms | busiest share | RSS sum MB "
        "| PSS sum MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {k} | {v['rps']:.0f} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} "
        f"| {v.get('busiest_process_cpu_share', '')} | {v.get('rss_mb', '')} | {v.get('pss_mb', '')} |"
        for k, v in report["serving"].get("tuning", {}).items()
    ]
    lines += ["", "| bar | target | measured | met |", "| --- | --- | --- | --- |"]
    lines += [
        f"| {k} | {v['bar']} | {v['measured']} | {'yes' if v['met'] else 'no'} |"
        for k, v in report["bars"].items()
    ]
    lines += ["", README_END]
    return "\n".join(lines)


def _rounds_at(single: dict, c: int) -> str:
    """Each round's req/s at concurrency `c`, with the busiest process's share of the server's CPU
    (about 0.5: the two workers shared the connections; near 1.0: one worker had them all)."""
    parts = []
    for name in SINGLE_SERVERS:
        rounds_by_level = single.get(name, {}).get("load_rounds", {})
        points = rounds_by_level.get(c) or rounds_by_level.get(str(c))
        if points:
            rounds = ", ".join(f"{p['rps']:.0f} ({p.get('busiest_process_cpu_share')})" for p in points)
            parts.append(f"{name} {rounds}")
    return f"Rounds at c={c}, req/s (busiest process's CPU share): " + "; ".join(parts) + "."


def update_readme(report: dict) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if README_START in text and README_END in text:
        head, rest = text.split(README_START, 1)
        tail = rest.split(README_END, 1)[1]
        readme.write_text(head + markdown(report) + tail)
