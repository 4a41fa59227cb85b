"""The KB learning loop on BankFAQs, through the service: does agents' feedback improve answers?

1. BankFAQs' development questions are split in half (seeded): the *traffic* half and the
   *evaluation* half.
2. The KB is deployed as a new insurer would: its articles, no labelled question (the default
   fusion, no adapter). That is the *before* model, and it is made champion.
3. Every traffic question goes through `/v1/kb/search` (top 5). A simulated agent marks the
   correct answer helpful when it is among the five, and every other answer not helpful
   (`/v1/kb/feedback`). Nothing else of the question's label reaches training.
4. `ccrisk train kb --with-feedback` (the same `train_kb`) learns the fusion and the query
   adapter from the stored feedback: the *after* model. Then the encoder too, as `ccrisk train
   kb-encoder --with-feedback` does (fine-tuned on the helpful pairs; cached by its inputs like
   BankFAQs' other tuned encoder), and `train kb --with-feedback` with it.
5. Every model is scored in-process on the evaluation half (nDCG@10). For scale, the frozen
   pipeline learned from the traffic half's full labels is scored there too (an agent sees
   only five answers, so feedback says less than a label).
"""

from __future__ import annotations

import logging
import random
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

from benchmarks.kb import SHARED
from benchmarks.loadgen import auth_headers
from benchmarks.servers import start_ccrisk
from features.settings import Settings

logger = logging.getLogger(__name__)
DATASET = "bankfaqs"
SHOWN = 5  # answers an agent sees, and the cut-off for "the correct answer was shown"
SEED = 7


def halves(queries: list, seed: int = SEED) -> tuple[list, list]:
    """(traffic, evaluation): a seeded shuffle cut in two."""
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    cut = len(order) // 2
    return [queries[i] for i in order[:cut]], [queries[i] for i in order[cut:]]


def replay(base: str, traffic: list, threads: int = 4) -> dict:
    """Each question through the service and the simulated agent's feedback on its answers."""
    headers = {**auth_headers(), "content-type": "application/json"}

    def one(client: httpx.Client, question: str, relevant: set[str]) -> tuple[bool, int]:
        r = client.post(f"{base}/v1/kb/search", json={"query": question, "top_k": SHOWN})
        r.raise_for_status()
        body = r.json()
        for answer in body["answers"]:
            verdict = "helpful" if answer["article_id"] in relevant else "dismissed"
            payload = {"query_id": body["query_id"], "article_id": answer["article_id"], "feedback": verdict}
            client.post(f"{base}/v1/kb/feedback", json=payload).raise_for_status()
        return any(a["article_id"] in relevant for a in body["answers"]), len(body["answers"])

    with httpx.Client(timeout=60, headers=headers) as client, ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(lambda qr: one(client, *qr), traffic))
    return {
        "questions": len(traffic),
        "correct_shown": sum(hit for hit, _ in results),
        "feedback_posts": sum(n for _, n in results),
    }


def measure(env: dict, folder: Path, settings: Settings) -> dict | str:
    """Before / after nDCG@10 on the evaluation half (and the full-label reference); the last
    step of a bench run in its store, since it makes the BankFAQs KB champion."""
    from features.registry import GateDecision
    from training.kb import evaluate, pipeline
    from training.kb.config import load_kb_config
    from training.kb.data import load_dataset
    from training.kb.feedback import stored
    from training.kb.runs import cached_encoder
    from training.registry import apply_decision

    try:
        articles, queries = load_dataset(DATASET, SHARED)
    except FileNotFoundError as exc:
        return f"skipped: {exc}"
    traffic, held = halves(queries)
    cfg = load_kb_config().model_copy(update={"queries": None})
    source = f"{DATASET} articles, no labelled question"
    cold = pipeline.train_kb(articles, [], cfg, settings, source=source)
    deploy = GateDecision("champion", "bench: a new KB deployed before any feedback", float("nan"), None)
    apply_decision(settings.model("kb").registered_name, cold.version, deploy, settings)
    server = start_ccrisk(env, folder / "ccrisk-kb-feedback.log", settings.serving.workers)
    try:
        traffic_counts = replay(server.base, traffic)
    finally:
        server.stop()
    with_feedback = cfg.model_copy(update={"with_feedback": True})
    learned = pipeline.train_kb(articles, [], with_feedback, settings, source=source + " + feedback")
    folder, tune_s = cached_encoder(articles, [], cfg, settings, stored(settings, articles))
    tuned_cfg = with_feedback.model_copy(update={"encoder": str(folder)})
    tuned = pipeline.train_kb(articles, [], tuned_cfg, settings, source=source + " + feedback, tuned encoder")
    labelled = pipeline.fit_and_score(
        articles, traffic, cfg, pipeline.vector_cache(cfg, settings), refit=True
    )
    models = {"before": cold, "after": learned, "tuned": tuned, "labels": labelled}
    per_question = {
        name: np.array([q["ndcg_at_10"] for q in evaluate.per_query(r.model, held)[0]])
        for name, r in models.items()
    }
    scores = {name: round(float(v.mean()), 4) for name, v in per_question.items()}
    return {
        "dataset": DATASET,
        "evaluation_questions": len(held),
        "traffic": traffic_counts,
        "feedback_used": learned.feedback,
        "adapter_learned": learned.model.index.adapter is not None,
        "fusion": learned.model.index.fusion.kind,
        "encoder": {"folder": folder.name, "finetune_s": round(tune_s, 1)},
        "ndcg_at_10": scores,
        "gain": round(scores["after"] - scores["before"], 4),
        "gain_with_encoder": round(scores["tuned"] - scores["before"], 4),
        "gain_95_interval": gain_intervals(per_question),
    }


def gain_intervals(per_question: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """95 % paired bootstrap intervals of each model's mean nDCG@10 gain over `before`, on the
    same evaluation questions."""
    from training.model_card import bootstrap

    names = [n for n in per_question if n != "before"]
    gains = [per_question[n] - per_question["before"] for n in names]
    metrics = bootstrap(lambda *g: {n: float(x.mean()) for n, x in zip(names, g, strict=True)}, gains, names)
    return {m.name: [round(m.low, 4), round(m.high, 4)] for m in metrics}


def markdown_lines(report: dict) -> list[str]:
    loop = report["quality"].get("kb_feedback")
    if loop is None:
        return []
    if not isinstance(loop, dict):
        return [f"KB learning loop: {loop}", ""]
    t, s, ci = loop["traffic"], loop["ndcg_at_10"], loop.get("gain_95_interval", {})
    return [
        f"KB learning loop ({loop['dataset']}; `benchmarks/kb_feedback.py`): {t['questions']} questions "
        f"replayed through /v1/kb/search, the correct answer among the top {SHOWN} for "
        f"{t['correct_shown']}, {t['feedback_posts']} feedback posts; nDCG@10 on the other "
        f"{loop['evaluation_questions']} questions: before {s['before']}, after `train kb "
        f"--with-feedback` {s['after']} (gain {loop['gain']}, 95 % paired bootstrap interval "
        f"{ci.get('after')}), with the encoder fine-tuned on the feedback too {s['tuned']} (gain "
        f"{loop['gain_with_encoder']}, {ci.get('tuned')}); the frozen pipeline learned from the "
        f"traffic half's full labels instead: {s['labels']} ({ci.get('labels')}).",
        "",
    ]
