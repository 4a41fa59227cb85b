"""`ccrisk evaluate kb` (an MLflow run, nothing registered) and `ccrisk kb upsert|delete`
(a new ccrisk-kb version built from the champion's articles, reusing its vectors)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import mlflow

from features.kb.articles import Article, load_articles
from features.kb.retriever import KBRetriever
from features.settings import Settings
from training.kb import pipeline
from training.kb.config import KBTrainConfig, load_kb_config
from training.kb.data import load_dataset, load_queries
from training.registry import alias_version, ensure_experiment

logger = logging.getLogger(__name__)


def evaluate_run(
    cfg: KBTrainConfig,
    settings: Settings,
    dataset: str | None = None,
    data_root: Path | None = None,
    kb: Path | None = None,
    queries: Path | None = None,
) -> pipeline.KBResult:
    """Every retrieval method on the held-out share of the queries of a real set or a KB."""
    if dataset is not None:
        articles, pairs = load_dataset(dataset, Path(data_root or "../shared/datasets"))
        source = dataset
    else:
        if queries is None:
            raise ValueError(
                "--queries: evaluating a knowledge base needs its queries (CSV query,article_id)"
            )
        articles = load_articles(kb)
        pairs, source = load_queries(queries, articles), str(kb)
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
) -> pipeline.KBResult:
    """Apply `change` to the champion's articles and train a new version from the result."""
    name = settings.model(pipeline.FAMILY).registered_name
    alias = settings.aliases.champion
    if alias_version(name, alias) is None:
        raise ValueError(f"{name}@{alias} does not exist; build one first with `ccrisk train kb`")
    current: KBRetriever = mlflow.pyfunc.load_model(f"models:/{name}@{alias}").unwrap_python_model()
    articles = change(list(current.index.articles))
    if not articles:
        raise ValueError("the knowledge base would be empty; keep at least one article")
    cfg = load_kb_config(None, overrides)
    q_path = queries or (Path(cfg.queries) if cfg.queries else None)
    pairs = load_queries(q_path, articles, strict=False) if q_path and q_path.is_file() else []
    source = current.metadata.get("source", "") + " (updated)"
    return pipeline.train_kb(articles, pairs, cfg, settings, previous=current, source=source)
