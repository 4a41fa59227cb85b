"""Knowledge-base commands: `train kb`, `evaluate kb`, `kb upsert`, `kb delete`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.table import Table

from ccrisk.common import Overrides, console, load_cli_settings, print_decision, user_errors

kb_app = typer.Typer(
    help="Update the knowledge base behind ccrisk-kb (a new model version).", no_args_is_help=True
)
evaluate_app = typer.Typer(help="Evaluate a pipeline on data (logged to MLflow).", no_args_is_help=True)
SHARED = Path("../shared/datasets")


def train_kb(
    kb: Annotated[
        Optional[Path], typer.Option(help="folder of .md files, or .jsonl/.csv (default: config)")
    ] = None,
    queries: Annotated[
        Optional[Path],
        typer.Option(help="CSV query,article_id to learn the fusion and gate (default: config)"),
    ] = None,
    with_feedback: Annotated[
        bool, typer.Option(help="also learn from agents' helpful / not-helpful feedback in the stores")
    ] = False,
    config: Annotated[Optional[Path], typer.Option(help="pipeline config YAML")] = None,
    set_: Overrides = None,
) -> None:
    """Index a knowledge base (BM25 + MiniLM + learned fusion), log it to MLflow, register, gate.
    With --with-feedback, answers agents marked helpful are positives and dismissed ones negatives
    for the fusion and the query adapter (the held-out test queries stay curated only)."""
    from features.kb.articles import load_articles
    from training.kb.config import load_kb_config
    from training.kb.data import load_queries
    from training.kb.pipeline import train_kb as run

    settings = load_cli_settings()
    with user_errors():
        cfg = load_kb_config(config, list(set_ or []) + (["with_feedback=true"] if with_feedback else []))
        kb_path = kb or Path(cfg.kb)
        articles = load_articles(kb_path)
        q_path = queries or (Path(cfg.queries) if cfg.queries else None)
        pairs = load_queries(q_path, articles) if q_path else []
        result = run(articles, pairs, cfg, settings, source=str(kb_path))
    _print_metrics(result, f"{settings.model('kb').registered_name} v{result.version}")
    print_decision(result)


@evaluate_app.command("kb")
def evaluate_kb(
    kb: Annotated[Optional[Path], typer.Option(help="knowledge base: .md folder, .jsonl or .csv")] = None,
    queries: Annotated[Optional[Path], typer.Option(help="CSV query,article_id")] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="a real set instead: medquad | bankfaqs | stackfaq")
    ] = None,
    data_root: Annotated[Path, typer.Option(help="where the real sets live")] = SHARED,
    config: Annotated[Optional[Path], typer.Option(help="pipeline config YAML")] = None,
    set_: Overrides = None,
) -> None:
    """BM25-only, dense-only, RRF and learned hybrid on held-out queries (nDCG@10, recall@k, MRR@10,
    latency); an MLflow run in the KB experiment, nothing registered."""
    from training.kb.config import load_kb_config
    from training.kb.runs import evaluate_run, load_source

    settings = load_cli_settings()
    with user_errors():
        cfg = load_kb_config(config, list(set_ or []))
        articles, pairs, source = load_source(dataset, data_root, kb, queries)
        result = evaluate_run(articles, pairs, cfg, settings, source)
    _print_metrics(result, f"{source}: {result.test_queries} held-out queries")


def train_kb_encoder(
    pairs: Annotated[Optional[Path], typer.Option(help="CSV query,article_id (questions -> answers)")] = None,
    kb: Annotated[Optional[Path], typer.Option(help="the knowledge base the pairs point into")] = None,
    dataset: Annotated[
        Optional[str], typer.Option(help="or a real set: medquad | bankfaqs | stackfaq")
    ] = None,
    data_root: Annotated[Path, typer.Option(help="where the real sets live")] = SHARED,
    epochs: Annotated[
        Optional[int], typer.Option(min=1, help="passes over the pairs (default: config tuning.epochs)")
    ] = None,
    lr: Annotated[Optional[float], typer.Option(help="learning rate (default: config tuning.lr)")] = None,
    batch_size: Annotated[
        Optional[int], typer.Option(min=2, help="pairs per batch (default: config tuning.batch_size)")
    ] = None,
    with_feedback: Annotated[
        bool, typer.Option(help="add the questions agents found a helpful answer for to the pairs")
    ] = False,
    config: Annotated[Optional[Path], typer.Option(help="pipeline config YAML")] = None,
    set_: Overrides = None,
) -> None:
    """Fine-tune the KB bi-encoder on the training share of question -> answer pairs; retrieval on
    the held-out share before and after. Use the result with `ccrisk train kb --set encoder=FOLDER`."""
    from features.kb.articles import load_articles
    from training.kb.config import load_kb_config
    from training.kb.runs import load_source, tune_encoder_run

    settings = load_cli_settings()
    with user_errors():
        given = {"epochs": epochs, "lr": lr, "batch_size": batch_size}
        flags = [f"tuning.{k}={v}" for k, v in given.items() if v is not None]
        flags += ["with_feedback=true"] if with_feedback else []
        cfg = load_kb_config(config, list(set_ or []) + flags)
        if with_feedback and pairs is None and dataset is None:  # the agents' feedback is the only pairs
            kb_path = kb or Path(cfg.kb)
            articles, queries, source = load_articles(kb_path), [], str(kb_path)
        else:
            articles, queries, source = load_source(
                dataset, data_root, kb or (Path(cfg.kb) if pairs else None), pairs
            )
        before, after, folder = tune_encoder_run(articles, queries, cfg, settings, source)
    _print_metrics(before, f"{source}: frozen encoder")
    _print_metrics(after, f"{source}: fine-tuned encoder")
    console.print(f"tuned encoder: {folder}\nuse it: ccrisk train kb --set encoder={folder}")


@kb_app.command("upsert")
def kb_upsert(
    path: Annotated[Path, typer.Argument(help="articles to add or replace (.md folder, .jsonl or .csv)")],
    queries: Annotated[Optional[Path], typer.Option(help="CSV query,article_id (default: config)")] = None,
    set_: Overrides = None,
) -> None:
    """Add or replace articles in the champion KB; unchanged articles are not re-embedded."""
    from features.kb.articles import load_articles

    with user_errors():
        ids = sorted(a.id for a in load_articles(path))
    _update(lambda current: _merge(current, path), queries, set_, "cli:kb_upsert", {"article_ids": ids})


@kb_app.command("delete")
def kb_delete(
    article_id: Annotated[list[str], typer.Argument(help="id(s) of the article(s) to remove")],
    queries: Annotated[Optional[Path], typer.Option(help="CSV query,article_id (default: config)")] = None,
    set_: Overrides = None,
) -> None:
    """Remove articles from the champion KB: a new version, made champion at once (a takedown is
    never held back by the quality gate)."""

    def drop(current):
        missing = set(article_id) - {a.id for a in current}
        if missing:
            raise ValueError(f"article id(s) {sorted(missing)} are not in the knowledge base")
        return [a for a in current if a.id not in set(article_id)]

    why = f"article(s) {', '.join(sorted(set(article_id)))} removed"
    _update(drop, queries, set_, "cli:kb_delete", {"article_ids": sorted(set(article_id))}, takedown=why)


def _merge(current, path: Path):
    from features.kb.articles import load_articles

    new = {a.id: a for a in load_articles(path)}
    kept = [new.pop(a.id, a) for a in current]
    return kept + list(new.values())


def _update(
    change, queries: Path | None, set_, action: str, outcome: dict, takedown: str | None = None
) -> None:
    from ccrisk.ops.release import audit_change
    from training.kb.runs import update_champion

    settings = load_cli_settings()
    with user_errors():
        result = update_champion(change, settings, queries, list(set_ or []), takedown=takedown)
    outcome = {**outcome, "alias": result.decision.alias, "reason": result.decision.reason}
    audit_change(settings, action, settings.model("kb").registered_name, str(result.version), outcome)
    console.print(
        f"{result.embedded} text(s) embedded anew (chunks, titles); kb_version {result.model.version}"
    )
    _print_metrics(result, f"{settings.model('kb').registered_name} v{result.version}")
    print_decision(result)


def _print_metrics(result, title: str) -> None:
    table = Table("method", "nDCG@10", "recall@10", "recall@1", "MRR@10", "ms/query", title=title)
    for method, m in result.metrics.items():
        table.add_row(
            method,
            *(f"{m[k]:.4f}" for k in ("ndcg_at_10", "recall_at_10", "recall_at_1", "mrr_at_10")),
            f"{m['ms_per_query']:.1f}",
        )
    if not result.metrics:
        console.print("no evaluation queries: metrics not computed")
    else:
        console.print(table)
