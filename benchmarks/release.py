"""Champion/challenger on the real claims: shadow-mode latency, a worked compare -> promote ->
rollback, and how long a running server takes to follow an alias move.

The challenger is the same pipeline with other LightGBM settings (same split and seed, so both
models' held-out claims are the same). Traffic is the held-out part of the dev file, with ids;
"investigators" review every claim either variant alerted on, using the file's label.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import httpx
from mlflow import MlflowClient

from benchmarks.loadgen import auth_headers, run_load
from benchmarks.servers import settings_variant, start_ccrisk
from features.claims.spec import load_spec
from features.settings import Settings

logger = logging.getLogger(__name__)
CHALLENGER_PARAMS = ["lightgbm.num_leaves=15", "lightgbm.learning_rate=0.08"]


def train_challenger(settings: Settings, data: Path) -> tuple[str, str, list[dict]]:
    """Second fraud version as @challenger (the first stays @champion); held-out claims with ids."""
    from training.config import default_config_path, load_config
    from training.fraud import fit
    from training.fraud.config import FraudTrainConfig
    from training.fraud.data import load_claims
    from training.fraud.pipeline import train_fraud

    cfg = load_config(FraudTrainConfig, default_config_path("fraud"), CHALLENGER_PARAMS)
    train_fraud(data, cfg, settings)
    client, name = MlflowClient(), settings.model("fraud").registered_name
    versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
    champion, challenger = str(versions[0]), str(versions[-1])
    client.set_registered_model_alias(name, settings.aliases.champion, champion)
    client.set_registered_model_alias(name, settings.aliases.challenger, challenger)
    spec = load_spec(cfg.spec)
    frame, _ = load_claims(data, spec)
    _, test_idx = fit.split_indices(frame, spec, cfg)
    test = frame[test_idx].with_row_index("row")
    keep = [c for c in spec.columns if c in test.columns]
    claims = [
        {"claim_id": f"R-{r['row']}", **{k: r[k] for k in keep}, "_label": r[spec.target]}
        for r in test.iter_rows(named=True)
    ]
    return champion, challenger, claims


def _variant_settings(env: dict, label: str, mode: str) -> dict:
    return settings_variant(env, f"traffic-{label}", {"models": {"fraud": {"traffic": {"mode": mode}}}})


def shadow_overhead(env: dict, logs: Path, seconds: float, workers: int) -> dict:
    """One claim at concurrency 1 and 8 with the challenger shadowing vs traffic mode off."""
    out = {}
    for mode in ("off", "shadow"):
        server = start_ccrisk(
            _variant_settings(env, mode, mode), logs / f"ccrisk-traffic-{mode}.log", workers
        )
        try:
            url, payload = (
                server.base + "/v1/claims/score",
                {"claim": {"claim_id": "BENCH-1", **load_spec().example}},
            )
            out[mode] = {f"c{c}": run_load(url, payload, c, seconds).as_dict() for c in (1, 8)}
        finally:
            server.stop()
    return out


def worked_example(env: dict, logs: Path, settings: Settings, claims: list[dict], workers: int) -> dict:
    """Shadow traffic of the held-out claims, investigators' outcomes, compare, promote, rollback."""
    from ccrisk.ops.release import compare, promote, rollback
    from features.ops.outcomes import ClaimFeedbackStore, PredictionLog

    server = start_ccrisk(
        _variant_settings(env, "shadow-example", "shadow"), logs / "ccrisk-release.log", workers
    )
    try:
        c = httpx.Client(base_url=server.base, headers=auth_headers(), timeout=600)
        labels = {x["claim_id"]: x.pop("_label") for x in claims}
        for i in range(0, len(claims), 1000):
            c.post(
                "/v1/claims/score_batch", json={"claims": claims[i : i + 1000], "explain": "none"}
            ).raise_for_status()
        name = settings.model("fraud").registered_name
        log = PredictionLog(settings.stores_url)
        _wait_for(
            lambda: (log.frame(name, with_inputs=False)["variant"] == "challenger").sum() >= len(claims)
        )
        preds = log.frame(name, with_inputs=False)
        alerted = set(preds.loc[preds["band"].isin(["medium", "high"]), "entity_id"]) & labels.keys()
        for claim_id in sorted(alerted):
            outcome = "confirmed_fraud" if labels[claim_id] == 1 else "legitimate"
            body = {"claim_id": claim_id, "outcome": outcome, "investigator": "bench"}
            c.post("/v1/claims/feedback", json=body).raise_for_status()
        result = {"claims": len(claims), "reviewed": len(alerted)}
        result["compare"] = compare(
            log.frame(name, with_inputs=False), ClaimFeedbackStore(settings.stores_url).latest()
        )
        move = promote(settings, "fraud", force=True)
        result["promote"] = {**move.__dict__, "served_after_s": _served_after(c, move.to_version)}
        back = rollback(settings, "fraud")
        result["rollback"] = {**back.__dict__, "served_after_s": _served_after(c, back.to_version)}
        result["alias_poll_s"] = settings.serving.alias_poll_s
        return result
    finally:
        server.stop()


def _wait_for(condition, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("shadow scores did not reach the prediction log in time")
        time.sleep(0.5)


def _served_after(c: httpx.Client, version: str, timeout: float = 120.0) -> float:
    """Seconds from now until 8 answers in a row (every worker) come from `version`."""
    start, claim = time.monotonic(), {"claim_id": "ALIAS-1", **load_spec().example}
    while time.monotonic() - start < timeout:
        got = {c.post("/v1/claims/score", json={"claim": claim}).json()["model"]["version"] for _ in range(8)}
        if got == {version}:
            return round(time.monotonic() - start, 2)
        time.sleep(0.1)
    return float("nan")


def markdown_lines(report: dict) -> list[str]:
    """Added-latency tables (auth + audit, prediction log, shadow) and the champion/challenger example."""
    serving = report["serving"]
    rows = [("platform", k, v) for k, v in serving.get("security_overhead", {}).items()]
    cc = serving.get("champion_challenger", {})
    rows += [("traffic mode", k, v) for k, v in cc.get("shadow_overhead", {}).items()]
    lines = [
        "| one claim | setting | c | req/s | p50 ms | p95 ms | p99 ms |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for what, setting, levels in rows:
        for c, r in levels.items():
            cells = " | ".join(f"{r[k]:.1f}" for k in ("p50_ms", "p95_ms", "p99_ms"))
            cells = f"{r['rps']:.0f} | {cells}"
            lines.append(f"| {what} | {setting} | {c[1:]} | {cells} |")
    example = cc.get("worked_example")
    if example:
        lines += ["", _example_sentence(cc, example)]
    return ["", *lines, ""]


def _ci(v: dict) -> str:
    lo, hi = v["precision_ci95"]
    return f"{v['precision']:.3f} [{lo:.3f}, {hi:.3f}]"


def _example_sentence(cc: dict, example: dict) -> str:
    comp = example["compare"]
    champ, chall = comp["variants"]["champion"], comp["variants"]["challenger"]
    spearman = comp.get("score_spearman", float("nan"))
    promote, back = example["promote"], example["rollback"]
    return (
        f"Champion/challenger on {example['claims']} held-out real claims in shadow mode (challenger: "
        f"{', '.join(cc['challenger_params'])}): band agreement {comp['band_agreement']:.3f}, score "
        f"Spearman {spearman:.3f}; alert precision (investigators = file labels, {example['reviewed']} "
        f"alerted claims reviewed) champion v{cc['champion']} {_ci(champ)} on {champ['alerted']} alerts, "
        f"challenger v{cc['challenger']} {_ci(chall)} on {chall['alerted']}. `promote`: {promote['reason']}; "
        f"served by every worker after {promote['served_after_s']} s; `rollback` after "
        f"{back['served_after_s']} s (each worker polls every {example['alias_poll_s']} s)."
    )
