"""A measured trial of fine-tuning the sentence encoder, beside the frozen one (registers nothing).

`ccrisk train text-finetune-trial --task complaint --folds 5` fine-tunes all-MiniLM-L6-v2 with a
softmax head (cross-entropy, class-balanced when the task's head is, AdamW, linear warm-up/decay)
on the training rows of each CV fold, then scores the held-out rows four ways against the
frozen-encoder model (the shipped config, `frozen`) on the very same rows:
- `finetuned`: the task's usual head fitted on the tuned sentence embeddings;
- `softmax`: the tuned model's own softmax head;
- `mean`: the mean of `frozen` and `finetuned` (with every fold run);
- `blend`: `(1 - w) * frozen + w * softmax`, w = `--blend` (with every fold run).
With every fold run it scores the pooled out-of-fold predictions (the figure `train text`
reports). Every trial is an MLflow run (`text-<task>-finetune-trial`), so the comparison stays
next to the pipeline's runs. `--device auto` tunes on a CUDA GPU when torch sees one: the topic
task's 9,987 narratives take hours a fold on 2 CPU cores and about a minute on one GPU.
The tuning loop is `training/text/tuning.py`; to ship the `blend` variant, train the task with
`--set finetune.enabled=true` (training/text/tuned.py). Measured results: docs/contact-text.md.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
from sklearn.model_selection import StratifiedKFold

from features.contact.classifier import TextClassifier
from features.contact.tuned import blend as mix
from features.settings import Settings
from training.registry import ensure_experiment
from training.text import evaluate, fit
from training.text.config import TextTrainConfig
from training.text.data import load_text_table
from training.text.tuning import class_weights, finetune, resolve_device, softmax_proba

logger = logging.getLogger(__name__)
VARIANTS = ("frozen", "finetuned")  # scored by the task's usual head


def pooled_metrics(y: np.ndarray, oof: dict[str, np.ndarray], classes: list[str], positive) -> dict:
    """`oof_<variant>_<metric>` over every row (each row scored by the fold that held it out)."""
    out = {}
    for name, p in oof.items():
        for key, value in evaluate.text_metrics(y, p, classes, positive).items():
            out[f"oof_{name}_{key}"] = value
    return out


@dataclass
class TrialRows:
    """Every row of the task's table, as each fold reads it."""

    texts: np.ndarray  # prepared texts, dtype object
    y: np.ndarray  # class names
    y_int: np.ndarray  # class indices into `classes`
    classes: list[str]
    frozen_emb: np.ndarray


def run_fold(
    k: int, tr: np.ndarray, te: np.ndarray, rows: TrialRows, cfg: TextTrainConfig, oof: dict, **tune
) -> dict:
    """Fine-tune on the `tr` rows, fill every variant's `oof` rows `te`, return the fold's metrics.
    `tune`: epochs, lr, device."""
    start = time.monotonic()
    weights = class_weights(rows.y_int[tr], cfg.head.class_weight == "balanced")
    tuned, head = finetune(
        rows.texts[tr].tolist(),
        rows.y_int[tr],
        seed=cfg.seed,
        max_tokens=cfg.features.max_tokens,
        weights=weights,
        **tune,
    )
    fold = {f"fold{k}_finetune_seconds": time.monotonic() - start}
    tuned_emb = tuned.encode(rows.texts.tolist(), batch_size=64, normalize_embeddings=True)
    for name, emb in zip(VARIANTS, (rows.frozen_emb, tuned_emb), strict=True):
        oof[name][te] = fit.fold_proba(rows.texts, rows.y, emb, tr, te, rows.classes, cfg)
    p = softmax_proba(head, tuned_emb[te])
    oof["softmax"][te] = 0.0
    oof["softmax"][te, : p.shape[1]] = p  # a class absent from the fold's training rows: 0
    for name in (*VARIANTS, "softmax"):
        for key, value in evaluate.text_metrics(rows.y[te], oof[name][te], rows.classes, None).items():
            fold[f"fold{k}_{name}_{key}"] = value
    return fold


def run_trial(
    data_path: Path | None,
    cfg: TextTrainConfig,
    settings: Settings,
    folds: int,
    epochs: int,
    lr: float,
    blend: float = 0.25,
    device: str = "auto",
) -> dict:
    if not cfg.features.embeddings:
        raise ValueError(f"task {cfg.task!r} does not use embeddings; add --set features.embeddings=true")
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"--blend {blend}: use a weight between 0 and 1")
    device = resolve_device(device)
    data = load_text_table(Path(data_path or cfg.data.path), cfg.data)
    prepared = TextClassifier(cfg.task, [], None, max_words=cfg.features.max_words).prepare(data.texts)
    y, classes = np.asarray(data.labels), sorted(set(data.labels))
    rows = TrialRows(
        texts=np.asarray(prepared, dtype=object),
        y=y,
        y_int=np.searchsorted(classes, y),
        classes=classes,
        frozen_emb=fit.embed_all(prepared, cfg, settings.state_path / "cache" / "embeddings"),
    )
    splitter = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    mlflow.set_experiment(experiment_id=ensure_experiment(settings.model(cfg.task).experiment, settings))
    results: dict = {}
    oof = {name: np.zeros((len(y), len(classes))) for name in (*VARIANTS, "softmax")}
    with mlflow.start_run(run_name=f"text-{cfg.task}-finetune-trial"):
        mlflow.log_params(
            {"task": cfg.task, "epochs": epochs, "lr": lr, "folds_run": folds, "blend": blend}
            | {"balanced_loss": cfg.head.class_weight == "balanced", "device": device}
            | data.lineage.as_params()
        )
        for k, (tr, te) in enumerate(splitter.split(rows.texts, y)):
            if k >= folds:
                break
            fold = run_fold(k, tr, te, rows, cfg, oof, epochs=epochs, lr=lr, device=device)
            mlflow.log_metrics(fold)
            results |= fold
            logger.info("fold %d: %s", k, {key: round(v, 4) for key, v in fold.items()})
        if folds >= cfg.folds:  # and the ensembles one could ship
            oof["mean"] = (oof["frozen"] + oof["finetuned"]) / 2
            oof["blend"] = mix(oof["frozen"], oof["softmax"], blend)
            pooled = pooled_metrics(y, oof, classes, cfg.positive)
            mlflow.log_metrics(pooled)
            results |= pooled
    return results
