"""`ccrisk evaluate kb` (an MLflow run, nothing registered), `ccrisk kb upsert|delete` (a new
ccrisk-kb version built from the champion's articles, reusing its vectors) and `ccrisk train
kb-encoder` (fine-tuning measured before/after on the same held-out queries; the tuned encoder
is kept under the cache, keyed by its inputs, so `make bench` and a second run reuse it)."""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import mlflow

from features.kb.articles import Article, chunk_article, dense_text, load_articles
from features.kb.retriever import KBRetriever
from features.registry import alias_version
from features.settings import Settings
from training.kb import pipeline
from training.kb.build import Queries
from training.kb.config import KBTrainConfig, load_kb_config
from training.kb.data import load_dataset, load_queries
from training.kb.encoder_tune import finetune
from training.kb.feedback import Feedback, stored, training_queries
from training.registry import ensure_experiment

logger = logging.getLogger(__name__)


def load_source(
    dataset: str | None, data_root: Path | None, kb: Path | None, queries: Path | None
) -> tuple[list[Article], Queries, str]:
    """(articles, queries, source name) of a real set (`dataset`) or of a KB with its query file."""
    if (dataset is None) == (kb is None):
        raise ValueError("pass either --dataset NAME or --kb PATH with --queries PATH")
    if dataset is not None:
        articles, pairs = load_dataset(dataset, Path(data_root or "../shared/datasets"))
        return articles, pairs, dataset
    if queries is None:
        raise ValueError("--queries: a knowledge base needs its queries (CSV query,article_id)")
    articles = load_articles(kb)
    return articles, load_queries(queries, articles), str(kb)


def evaluate_run(
    articles: list[Article], pairs: Queries, cfg: KBTrainConfig, settings: Settings, source: str
) -> pipeline.KBResult:
    """Every retrieval method on the held-out share of the queries."""
    experiment = settings.model(pipeline.FAMILY).experiment
    mlflow.set_experiment(experiment_id=ensure_experiment(experiment, settings))
    with mlflow.start_run(run_name=f"kb-evaluate-{Path(source).name}"):
        result = pipeline.fit_and_score(
            articles, pairs, cfg, pipeline.vector_cache(cfg, settings), refit=False
        )
        if not result.metrics:
            raise ValueError(f"{source}: fewer than two queries; nothing to evaluate")
        pipeline.log_run(cfg, result, source)
        mlflow.set_tag("evaluation", source)
    return result


def update_champion(
    change: Callable[[list[Article]], list[Article]],
    settings: Settings,
    queries: Path | None,
    overrides: list[str],
    takedown: str | None = None,
) -> pipeline.KBResult:
    """Apply `change` to the champion's articles and train a new version from the result. A
    `takedown` (why articles were removed) makes the new version champion whatever the gate says:
    a removal must take effect, never wait as @challenger while the article is still served."""
    name = settings.model(pipeline.FAMILY).registered_name
    alias = settings.aliases.champion
    if alias_version(name, alias) is None:
        raise ValueError(f"{name}@{alias} does not exist; build one first with `ccrisk train kb`")
    current: KBRetriever = mlflow.pyfunc.load_model(f"models:/{name}@{alias}").unwrap_python_model()
    articles = change(list(current.index.articles))
    if not articles:
        raise ValueError("the knowledge base would be empty; keep at least one article")
    cfg = load_kb_config(None, overrides)
    if current.encoder_ref == "artifact:encoder":  # keep the champion's tuned encoder
        cfg = cfg.model_copy(update={"encoder": current.encoder_path})
    q_path = queries or (Path(cfg.queries) if cfg.queries else None)
    pairs = load_queries(q_path, articles, strict=False) if q_path and q_path.is_file() else []
    source = current.metadata.get("source", "") + " (updated)"
    return pipeline.train_kb(
        articles, pairs, cfg, settings, previous=current, source=source, takedown=takedown
    )


def answer_pairs(articles: list[Article], queries: Queries, cfg: KBTrainConfig) -> list[tuple[str, str]]:
    """(question, answer passage) pairs: each relevant article's first chunk, with its title."""
    by_id = {a.id: (i, a) for i, a in enumerate(articles)}
    pairs = []
    for q, ids in queries:
        for article_id in sorted(ids):
            i, a = by_id[article_id]
            first = chunk_article(i, a, cfg.chunk.max_words, cfg.chunk.overlap)[0]
            pairs.append((q, dense_text(a.title, first.text)))
    return pairs


def tune_encoder_run(
    articles: list[Article],
    queries: Queries,
    cfg: KBTrainConfig,
    settings: Settings,
    source: str,
) -> tuple[pipeline.KBResult, pipeline.KBResult, Path]:
    """Fine-tune on the training share of the queries (or take the cached encoder of the same
    inputs); retrieval on the held-out share before and after (same split, so the tuned encoder
    never saw a test query). An MLflow run with the folder."""
    experiment = settings.model(pipeline.FAMILY).experiment
    mlflow.set_experiment(experiment_id=ensure_experiment(experiment, settings))
    with mlflow.start_run(run_name=f"kb-encoder-{Path(source).name}"):
        train, _ = pipeline.split(queries, cfg)
        mlflow.log_params({"source": source, **cfg.tuning.model_dump(), "train_queries": len(train)})
        feedback = stored(settings, articles) if cfg.with_feedback else None
        before = pipeline.fit_and_score(
            articles, queries, cfg, pipeline.vector_cache(cfg, settings), refit=False, feedback=feedback
        )
        out, seconds = cached_encoder(articles, queries, cfg, settings, feedback)
        mlflow.log_metric("finetune_seconds", seconds)
        mlflow.set_tag("encoder_cached", str(seconds == 0.0).lower())
        tuned = cfg.model_copy(update={"encoder": str(out)})
        after = pipeline.fit_and_score(
            articles, queries, tuned, pipeline.vector_cache(tuned, settings), refit=False, feedback=feedback
        )
        if feedback is not None:
            mlflow.log_params({f"feedback.{k}": v for k, v in feedback.counts().items()})
        for tag, result in (("before", before), ("after", after)):
            for method in ("dense", "hybrid") if result.metrics else ():
                mlflow.log_metrics({f"{tag}_{method}_{k}": v for k, v in result.metrics[method].items()})
        mlflow.log_artifacts(str(out), artifact_path="encoder")
    return before, after, out


def encoder_key(pairs: list[tuple[str, str]], cfg: KBTrainConfig) -> str:
    """A fine-tuned encoder is a function of its pairs, base encoder and settings (the seed is
    fixed): the hash of those names its cache folder."""
    spec = {"pairs": pairs, "base": cfg.encoder, "max_tokens": cfg.max_tokens, **cfg.tuning.model_dump()}
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def cached_encoder(
    articles: list[Article],
    queries: Queries,
    cfg: KBTrainConfig,
    settings: Settings,
    feedback: Feedback | None = None,
) -> tuple[Path, float]:
    """(folder, seconds spent fine-tuning; 0 when cached) of the encoder fine-tuned on the
    training share of `queries` (and the questions of `feedback` with a helpful answer): the
    split `fit_and_score` holds out, so no test query is seen."""
    train, test = pipeline.split(queries, cfg)
    learn_from, _ = training_queries(train, feedback, held_out=test)
    pairs = answer_pairs(articles, [(q, ids) for q, ids in learn_from if ids], cfg)
    folder = settings.state_path / "cache" / "kb_encoders" / encoder_key(pairs, cfg)
    if (folder / "modules.json").is_file():
        logger.info("fine-tuned encoder from the cache: %s", folder)
        return folder, 0.0
    partial = folder.with_name(folder.name + ".partial")
    for stale in (partial, folder):  # an interrupted run's leftovers
        shutil.rmtree(stale, ignore_errors=True)
    start = time.monotonic()
    finetune(pairs, cfg.encoder, partial, **cfg.tuning.model_dump(), max_tokens=cfg.max_tokens)
    partial.rename(folder)  # only a finished encoder gets the key's name
    return folder, time.monotonic() - start
