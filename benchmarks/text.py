"""Contact-text benchmarks: cross-validated quality per task on the real development files, and
per-message latency through the service (one text at a time, and under concurrency)."""

from __future__ import annotations

import logging
import statistics
from pathlib import Path

from benchmarks.loadgen import run_load
from benchmarks.servers import settings_variant, start_ccrisk
from features.settings import Settings

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
NEUTRAL = "Hi team, how do I change the PIN on my card? Many thanks."
COMPLAINT = "Third time I'm asking: my card was stolen and nobody helps! Absolutely unacceptable."


def train_for_bench(settings: Settings) -> dict:
    """Train each task on its real development file (the sample messages when it is absent)."""
    from training.text.config import load_text_config
    from training.text.pipeline import train_text

    out = {}
    for task in settings.families("text"):
        cfg = load_text_config(task)
        real = (ROOT / cfg.data.path).exists()
        if not real:
            logger.warning("%s absent: %s trained on the sample messages", cfg.data.path, task)
            cfg = load_text_config(task, sample=True)
        result = train_text(None, cfg, settings)
        out[task] = {
            "data": Path(cfg.data.path).name if real else "skipped: real data absent (sample model)",
            "cv": f"stratified {result.folds}-fold, seed {cfg.seed}",
            "train_seconds": round(result.seconds, 1),
            **{k: round(v, 4) for k, v in result.metrics.items()},
        }
    return out


def train_samples(settings: Settings) -> None:
    """Each task's sample model, for a run that measures other families only."""
    from training.text.config import load_text_config
    from training.text.pipeline import train_text

    for task in settings.families("text"):
        train_text(None, load_text_config(task, sample=True), settings)


def latency(env: dict, logs: Path, levels: list[int], seconds: float, workers: int) -> dict:
    """/v1/contact/analyze for a neutral message (no key phrases) and a complaint (with them)."""
    server = start_ccrisk(env, logs / "ccrisk-text.log", workers)
    out: dict = {"cold_start_s": round(server.cold_start_s, 2)}
    try:
        for name, text in (("neutral", NEUTRAL), ("complaint_with_key_phrases", COMPLAINT)):
            payload = {"text": text, "key_phrases": "flagged"}
            out[name] = [server.load("/v1/contact/analyze", payload, c, seconds) for c in levels]
        out["rss_mb"] = round(server.rss_mb(), 1)
    finally:
        server.stop()
    return out


TUNING = {  # label: (settings changes, environment changes) against the configured service
    "configured": ({}, {}),
    "encoder_torch": ({}, {"CCRISK_ENCODER_BACKEND": "torch"}),
}


def tuning(env: dict, logs: Path, seconds: float, workers: int, rounds: int) -> dict:
    """The message path's encoder, one neutral message at concurrency 1: the configured service
    (ONNX Runtime) against the torch reference the ONNX export is checked against. All
    servers stay up and take turns, `rounds` times; figures are medians over rounds."""
    servers: dict = {}
    try:
        for label, (changes, extra) in TUNING.items():
            variant = settings_variant(env, f"text-{label}", changes) if changes else env
            servers[label] = start_ccrisk({**variant, **extra}, logs / f"ccrisk-text-{label}.log", workers)
        runs: dict[str, list[dict]] = {label: [] for label in servers}
        for _ in range(rounds):
            for label, server in servers.items():
                payload = {"text": NEUTRAL, "key_phrases": "flagged"}
                runs[label].append(
                    run_load(server.base + "/v1/contact/analyze", payload, 1, seconds).as_dict()
                )
        return {
            label: {
                **{k: statistics.median(r[k] for r in points) for k in ("rps", "p50_ms", "p95_ms", "p99_ms")},
                "errors": sum(r["errors"] for r in points),
                "rounds": len(points),
            }
            for label, points in runs.items()
        }
    finally:
        for server in servers.values():
            server.stop()


QUALITY_BARS = {
    "complaint": ("macro_f1", 0.88),
    "intent": ("accuracy", 0.93),
    "complaint_topic": ("macro_f1", 0.80),
}


def quality_bars(quality: dict) -> dict:
    """Bars on the cross-validated metric of each task trained on its real file."""
    out = {}
    for task, (metric, bar) in QUALITY_BARS.items():
        q = quality.get(task, {})
        if isinstance(q, dict) and not str(q.get("data", "")).startswith("skipped") and metric in q:
            out[f"{task}_cv_{metric}"] = (bar, q[metric])
    return out


def table_rows(report: dict) -> list[tuple[str, str]]:
    rows = []
    for task, q in report["quality"].get("text", {}).items():
        rows.append((f"text {task}", f"macro-F1 {q['macro_f1']}, accuracy {q['accuracy']} ({q['data']})"))
    for name in ("neutral", "complaint_with_key_phrases"):
        for r in report["serving"].get("text_single", {}).get(name, []):
            rows.append(
                (
                    f"message {name} c={r['concurrency']}",
                    f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} / "
                    f"p95 {r['p95_ms']:.1f} ms, errors {r['errors']}",
                )
            )
    return rows


def markdown_lines(report: dict) -> list[str]:
    lines = [
        "| text task | data | cross-validation | macro-F1 | accuracy | train s |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for task, q in report["quality"].get("text", {}).items():
        lines.append(
            f"| {task} | {q['data']} | {q['cv']} | {q['macro_f1']} | {q['accuracy']} | {q['train_seconds']} |"
        )
    lines += [
        "",
        "| one message, /v1/contact/analyze | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors "
        "| busiest process's CPU share |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in ("neutral", "complaint_with_key_phrases"):
        for r in report["serving"].get("text_single", {}).get(name, []):
            lines.append(
                f"| {name} | {r['concurrency']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
                f"| {r['p99_ms']:.1f} | {r['errors']} | {r.get('busiest_process_cpu_share', '')} |"
            )
    tuned = report["serving"].get("text_tuning")
    if tuned:
        lines += [
            "",
            "| tuning (one neutral message, concurrency 1) | req/s | p50 ms | p95 ms | p99 ms | rounds |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| {k} | {v['rps']:.0f} | {v['p50_ms']:.1f} | {v['p95_ms']:.1f} | {v['p99_ms']:.1f} "
            f"| {v['rounds']} |"
            for k, v in tuned.items()
        ]
    return [*lines, ""]
