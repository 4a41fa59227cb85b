"""Orchestrates `make bench`: a temporary MLflow store, quality, serving, JSON + table + docs."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import mlflow
import yaml
from rich.console import Console

from benchmarks import batch, fraud, kb, kb_feedback, pii, release, screens, text
from benchmarks.report import check_bars, summary_table, update_docs
from features.ops.keys import create_key
from features.settings import load_settings, prepare_environment

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PACKAGES = ("lightgbm", "mlflow", "bentoml", "polars", "scikit-learn", "numpy", "torch", "pydantic")
FAMILIES = ("fraud", "text", "kb", "batch", "screens")  # what `make bench ARGS=--only=FAMILY` can select


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
        f"sqlite:///{folder / 'state' / 'stores.sqlite'}", "bench", "admin", rate_per_minute=100_000_000
    )
    mlflow.set_tracking_uri(os.environ["MLFLOW_TRACKING_URI"])
    # Sentence embeddings of the real files are label-free and slow (minutes for 10k narratives):
    # share the project's embedding cache instead of recomputing it in every bench store.
    cache = ROOT / ".ccrisk" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (folder / "state").mkdir(parents=True, exist_ok=True)
    (folder / "state" / "cache").symlink_to(cache, target_is_directory=True)


def run_bench(quick: bool, console: Console, only: Sequence[str] = FAMILIES) -> Path:
    """The whole bench, or only the `only` families' figures (the others' models are trained on
    the sample data, so the service starts, and are not measured; the README is left as it is)."""
    unknown = sorted(set(only) - set(FAMILIES))
    if unknown or not only:
        raise ValueError(f"only: {', '.join(unknown) or 'nothing'} given; choose from {', '.join(FAMILIES)}")
    partial = [f for f in FAMILIES if f in only] if set(only) != set(FAMILIES) else []
    seconds, levels = (2.0, [1, 8]) if quick else (10.0, [1, 8, 32])
    report: dict = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "quick": quick,
        **({"only": partial} if partial else {}),
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
        report["quality"], data = _train(settings, only, quick, console)
        report["quality"]["pii"] = pii.measure()
        serving = report["serving"] = {}
        workers = settings.serving.workers
        if "text" in only:
            serving.update(_text_serving(env, folder, workers, levels, seconds, quick, console))
        if "kb" in only:
            console.log("one query through /v1/kb/search")
            serving["kb_search"] = kb.latency(env, folder, levels, seconds, workers)
        if "fraud" in only:
            serving.update(_fraud_serving(env, folder, settings, data, levels, seconds, quick, console))
        if "batch" in only:
            console.log(
                "batch scoring: local engine, Spark local[2], HTTP batch endpoint, raw Booster.predict"
            )
            rows = 20_000 if quick else 200_000
            serving["batch_scoring"] = batch.measure(
                env, folder, data, rows, settings.serving.max_batch_claims
            )
        if "kb" in only:  # after every other measure in this store: it makes a BankFAQs KB champion
            console.log("KB learning loop: BankFAQs traffic and agent feedback, retrain, before/after")
            report["quality"]["kb_feedback"] = kb_feedback.measure(env, folder, settings)
        if "screens" in only:  # last: it points this process at a store of its own
            serving["screens"] = _screens(quick, console)
    report["bars"] = check_bars(report)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "bench" + "".join(f"-{f}" for f in partial) + ("-quick" if quick else "")
    out = RESULTS / f"{stem}.json"
    out.write_text(json.dumps(report, indent=2))
    console.print(summary_table(report))
    if not quick and not partial:
        update_docs(report)
    return out


def _train(settings, only: Sequence[str], quick: bool, console: Console) -> tuple[dict, Path]:
    """Quality of the families measured; the sample models of the others."""
    quality: dict = {}
    if "fraud" in only:
        console.log("training the fraud model (quality)")
        fraud_quality, data = fraud.train_for_bench(settings)
        quality.update(fraud_quality)
    else:
        data = fraud.train_sample(settings)
    fraud.train_health_sample(settings)
    if "text" in only:
        console.log("training the contact-text models (quality)")
        quality["text"] = text.train_for_bench(settings)
    else:
        text.train_samples(settings)
    if "kb" in only:
        console.log("knowledge base: every method on each real set; the MedQuAD KB is served")
        quality["kb"] = kb.train_for_bench(settings, quick)
    else:
        kb.train_sample(settings)
    return quality, data


def _text_serving(env: dict, folder: Path, workers: int, levels: list[int], seconds: float, quick: bool,
                  console: Console) -> dict:  # fmt: skip
    console.log("one message through /v1/contact/analyze")
    out = {"text_single": text.latency(env, folder, levels, seconds, workers)}
    console.log("message path: ONNX encoder vs the torch reference (alternating rounds)")
    out["text_tuning"] = text.tuning(env, folder, seconds, workers, rounds=1 if quick else 3)
    return out


def _fraud_serving(env: dict, folder: Path, settings, data: Path, levels: list[int], seconds: float,
                   quick: bool, console: Console) -> dict:  # fmt: skip
    sizes, repeats = ([1000], 3) if quick else ([1000, 10000], 9)
    workers, rounds = settings.serving.workers, 1 if quick else 3
    console.log("single claim: ccrisk vs mlflow models serve")
    out = {"fraud_single": fraud.single_claim(env, folder, levels, seconds, workers, rounds=rounds)}
    console.log("batch endpoint vs in-process predict")
    out["fraud_batch"] = fraud.batches(env, folder, data, sizes, repeats)
    if data == fraud.REAL_CLAIMS:
        console.log("champion/challenger: shadow latency, compare -> promote -> rollback on real claims")
        out["champion_challenger"] = _champion_challenger(env, folder, settings, data, seconds, quick)
    console.log("workers 1 vs configured; cost of auth and of the prediction log")
    out["tuning"] = fraud.workers_tuning(env, folder, seconds)
    out["security_overhead"] = fraud.security_overhead(env, folder, seconds, rounds=1 if quick else 2)
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


def _screens(quick: bool, console: Console) -> dict:
    """The screens in a browser, on the sample models, in a store of their own."""
    console.log("screens: /agent Enter to every panel, /claims upload to table (sample models, Chromium)")
    with tempfile.TemporaryDirectory(prefix="ccrisk-bench-screens-") as tmp:
        folder = Path(tmp)
        _isolated_store(folder)
        settings = load_settings(folder / "mlflow.yaml")
        prepare_environment(settings)
        fraud.train_sample(settings)
        fraud.train_health_sample(settings)
        text.train_samples(settings)
        kb.train_sample(settings)
        messages, uploads = (20, 2) if quick else (100, 5)
        workers = settings.serving.workers
        return screens.measure(dict(os.environ), folder, workers, messages, uploads, screenshots=not quick)
