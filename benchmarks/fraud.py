"""Fraud benchmarks: quality on the real claims, and the served model side by side with
`mlflow models serve` on the same registered model and the same claim."""

from __future__ import annotations

import logging
import statistics
import time
from pathlib import Path

import mlflow
import polars as pl

from benchmarks.loadgen import timed_poster, timed_posts
from benchmarks.servers import settings_variant, start_ccrisk, start_floor, start_mlflow
from features.claims.spec import load_spec
from features.settings import Settings

logger = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
REAL_CLAIMS = ROOT.parent / "shared" / "datasets" / "vehicle_claim_fraud" / "fraud_oracle_dev.csv.gz"
SAMPLE_CLAIMS = ROOT / "data_samples" / "claims_sample.csv"
SAMPLE_HEALTH = ROOT / "data_samples" / "health_claims_sample.csv"
QUALITY_KEYS = ("roc_auc", "pr_auc", "brier", "precision_at_recall_95", "recall_at_top_5pct", "cv_auc_mean")


def train_for_bench(settings: Settings) -> tuple[dict, Path]:
    """Train the default pipeline (real data when present) into the current store."""
    from training.config import default_config_path, load_config
    from training.fraud.config import FraudTrainConfig
    from training.fraud.pipeline import train_fraud

    data = REAL_CLAIMS if REAL_CLAIMS.exists() else SAMPLE_CLAIMS
    if data == SAMPLE_CLAIMS:
        logger.warning("real claims absent (%s): quality skipped, serving uses the sample model", REAL_CLAIMS)
    cfg = load_config(FraudTrainConfig, default_config_path("fraud"))
    result = train_fraud(data, cfg, settings)
    quality = {
        "data": data.name,
        "split": "stratified 80/20, seed 42",
        "train_seconds": round(result.seconds, 1),
        **{k: round(result.metrics[k], 4) for k in QUALITY_KEYS},
    }
    return ({"fraud": quality} if data == REAL_CLAIMS else {"fraud": "skipped: real data absent"}), data


def train_sample(settings: Settings) -> Path:
    """The sample claims' model, for a run that measures other families only."""
    from training.config import default_config_path, load_config
    from training.fraud.config import FraudTrainConfig
    from training.fraud.pipeline import train_fraud

    train_fraud(SAMPLE_CLAIMS, load_config(FraudTrainConfig, default_config_path("fraud")), settings)
    return SAMPLE_CLAIMS


def train_health_sample(settings: Settings) -> None:
    """The second line of business (health claims) on its sample: the service serves every line."""
    from training.config import default_config_path, load_config
    from training.fraud.config import FraudTrainConfig
    from training.fraud.pipeline import train_fraud

    cfg = load_config(FraudTrainConfig, default_config_path("fraud"), ["spec=health_claims"])
    train_fraud(SAMPLE_HEALTH, cfg, settings)


def _claims(data: Path, n: int) -> list[dict]:
    spec = load_spec()
    frame = pl.read_csv(data)
    while frame.height < n:
        frame = pl.concat([frame, frame])
    keep = [c for c in spec.columns if c in frame.columns]
    return frame.head(n).select(keep).to_dicts()


def single_claim(env: dict, logs: Path, levels: list[int], seconds: float, workers: int, rounds: int) -> dict:
    """Same claim, same load generator: ccrisk's endpoint vs `mlflow models serve`, and the
    framework's floor (benchmarks/floor_service.py: the same BentoML request and response types,
    a constant answer), which bounds what any model behind BentoML can reach here.

    The servers stay up and take turns, point by point, `rounds` times: this VM's speed drifts
    by up to 2x between minutes, so a ratio is only fair between neighbouring points. Reported per
    level: the median of the rounds for every figure, and the median of the per-round ratios."""
    claim = load_spec().example
    targets = {
        "ccrisk": ("/v1/claims/score", {"claim": claim}),
        "mlflow": ("/invocations", {"dataframe_records": [claim]}),
        "floor": ("/v1/claims/score", {"claim": claim}),
    }
    servers: dict = {}
    try:
        servers["ccrisk"] = start_ccrisk(env, logs / "ccrisk.log", workers)
        servers["mlflow"] = start_mlflow("models:/ccrisk-fraud@champion", env, logs / "mlflow.log", workers)
        servers["floor"] = start_floor({**env, "PYTHONPATH": str(ROOT)}, logs / "floor.log", workers)
        runs: dict[str, dict[int, list[dict]]] = {name: {c: [] for c in levels} for name in targets}
        for _ in range(rounds):
            for c in levels:
                for name, (url, payload) in targets.items():
                    runs[name][c].append(servers[name].load(url, payload, c, seconds))
        out: dict = {"rounds": rounds}
        for name, server in servers.items():
            out[name] = {
                "cold_start_s": round(server.cold_start_s, 2),
                "load": [_median_point(runs[name][c]) for c in levels],
                "load_rounds": runs[name],
                **server.memory(),
            }
    finally:
        for server in servers.values():
            server.stop()
    out["ratio_rps"] = [_median_ratio(runs["ccrisk"][c], runs["mlflow"][c]) for c in levels]
    out["ratio_rps_balanced"] = balanced_ratios(runs["ccrisk"], runs["mlflow"], levels)
    return out


def _median_ratio(ours: list[dict], theirs: list[dict]) -> float | None:
    ratios = [a["rps"] / b["rps"] for a, b in zip(ours, theirs, strict=True) if b["rps"]]
    return round(statistics.median(ratios), 2) if ratios else None


BALANCED_SHARE = 0.6  # busiest worker's share of a server's CPU: ~0.5 split, ~1.0 one worker


def balanced_ratios(ours: dict, theirs: dict, levels: list[int]) -> list[float | None]:
    """Per level, the median ratio over the rounds in which *both* servers spread the connections
    over their workers (None when no round did). A round where every keep-alive connection landed
    on one of mlflow's workers halves its req/s and doubles the ratio; these rounds compare the
    two servers with the same CPU. At c=1 one connection is one worker's in every round: all count."""
    out = []
    for c in levels:
        a, b = ours.get(c) or ours.get(str(c), []), theirs.get(c) or theirs.get(str(c), [])
        pairs = [(x, y) for x, y in zip(a, b, strict=True) if c == 1 or (_balanced(x) and _balanced(y))]
        out.append(_median_ratio([x for x, _ in pairs], [y for _, y in pairs]) if pairs else None)
    return out


def _balanced(point: dict) -> bool:
    share = point.get("busiest_process_cpu_share")
    return share is not None and share <= BALANCED_SHARE


def _median_point(points: list[dict]) -> dict:
    """Figure by figure, the median over rounds (errors and requests are summed)."""
    out = dict(points[0])
    for key in ("rps", "p50_ms", "p95_ms", "p99_ms", "seconds"):
        out[key] = round(statistics.median(p[key] for p in points), 3)
    for key in ("requests", "errors"):
        out[key] = sum(p[key] for p in points)
    shares = [p["busiest_process_cpu_share"] for p in points if p.get("busiest_process_cpu_share")]
    if "busiest_process_cpu_share" in out:
        out["busiest_process_cpu_share"] = round(statistics.median(shares), 3) if shares else None
    return out


def _one_claim_at_c8(env: dict, log: Path, workers: int, seconds: float) -> dict:
    """Start ccrisk with `env`, load it with one claim at concurrency 8, stop it."""
    server = start_ccrisk(env, log, workers)
    try:
        point = server.load("/v1/claims/score", {"claim": load_spec().example}, 8, seconds)
        return {**point, **server.memory()}
    finally:
        server.stop()


def workers_tuning(env: dict, logs: Path, seconds: float) -> dict:
    """One claim at c=8 with one BentoML worker process and with the configured count
    (`serving.workers`): what the second worker buys, and what it costs in memory."""
    variants = {f"workers_{w}": {"workers": w} for w in sorted({1, _workers(env)})}
    out = {}
    for label, serving in variants.items():
        out[label] = _one_claim_at_c8(
            settings_variant(env, label, {"serving": serving}),
            logs / f"ccrisk-{label}.log",
            serving.get("workers", _workers(env)),
            seconds,
        )
    return out


def security_overhead(env: dict, logs: Path, seconds: float, rounds: int = 2) -> dict:
    """One claim at concurrency 1 and 8 as configured, with API-key auth off (`security.auth`, for
    local experiments) and with the prediction log off (`monitoring.log_predictions`): what each
    adds per request. The audit trail is always on (compare with the floor for its cost). The three servers
    are up at once and take turns point by point, `rounds` times (medians): single points minutes
    apart differ by more than these costs on this VM."""
    variants = {
        "configured": {},
        "auth_off": {"security": {"auth": False}},
        "prediction_log_off": {"monitoring": {"log_predictions": False}},
    }
    servers: dict = {}
    points: dict[str, dict[int, list[dict]]] = {label: {1: [], 8: []} for label in variants}
    try:
        for label, changes in variants.items():
            variant_env = settings_variant(env, f"security-{label}", changes)
            servers[label] = start_ccrisk(variant_env, logs / f"ccrisk-{label}.log", _workers(env))
        payload = {"claim": load_spec().example}
        for _ in range(rounds):
            for c in (1, 8):
                for label, server in servers.items():
                    points[label][c].append(server.load("/v1/claims/score", payload, c, seconds))
    finally:
        for server in servers.values():
            server.stop()
    return {label: {f"c{c}": _median_point(p) for c, p in levels.items()} for label, levels in points.items()}


def batches(env: dict, logs: Path, data: Path, sizes: list[int], repeats: int) -> dict:
    """Claims/s through the batch endpoint vs in-process raw prediction on the same rows.

    The share (`endpoint_none_vs_raw`) is read from paired rounds: each round times the raw
    predict once and then one POST of the same claims, and the share is the median of the
    rounds' ratios. Measured apart (all raw timings, then all posts), a change in this VM's
    speed between the two phases moved the share by 0.1-0.2 from run to run."""
    scorer = mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion").unwrap_python_model()
    server = start_ccrisk(env, logs / "ccrisk-batch.log", _workers(env))
    out = {}
    try:
        for n in sizes:
            rows = _claims(data, n)
            x = scorer.encoder.matrix(pl.DataFrame(rows))
            url = server.base + "/v1/claims/score_batch"
            with timed_poster(url, {"claims": rows, "explain": "none"}) as post:
                rounds = [(_time(lambda x=x: scorer.raw_scores(x)), post()) for _ in range(repeats)]
            flagged = statistics.median(timed_posts(url, {"claims": rows, "explain": "flagged"}, repeats))
            out[str(n)] = batch_entry(n, rounds, flagged)
        out["rss_mb_after"] = round(server.rss_mb(), 1)
    finally:
        server.stop()
    return out


def batch_entry(n: int, rounds: list[tuple[float, float]], flagged_s: float) -> dict:
    """One batch size's figures from its paired rounds, (raw predict s, explain-none post s)
    each, and the median seconds of a post with "explain": "flagged"."""
    raw = statistics.median(r for r, _ in rounds)
    none = statistics.median(e for _, e in rounds)
    return {
        "in_process_raw_predict_rows_per_s": round(n / raw),
        "in_process_raw_predict_rows_per_s_best": round(n / min(r for r, _ in rounds)),
        "endpoint_explain_none_claims_per_s": round(n / none),
        "endpoint_explain_flagged_claims_per_s": round(n / flagged_s),
        "endpoint_none_vs_raw": round(statistics.median(r / e for r, e in rounds), 3),
        "endpoint_none_vs_raw_rounds": [round(r / e, 3) for r, e in rounds],
    }


def _workers(env: dict) -> int:
    """Worker processes the ccrisk server under test will start (from its settings file)."""
    import yaml

    return int(yaml.safe_load(Path(env["CCRISK_SETTINGS"]).read_text())["serving"].get("workers", 2))


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
