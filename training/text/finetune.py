"""A measured trial of fine-tuning the sentence encoder (not part of the shipped pipeline).

`ccrisk train text-finetune-trial --task complaint --folds 5` fine-tunes all-MiniLM-L6-v2 with a
softmax head (cross-entropy, class-balanced when the task's head is, AdamW, linear warm-up/decay)
on the training rows of each CV fold, then fits the task's usual head on the tuned sentence
embeddings, and compares macro-F1 and accuracy with the frozen-encoder model (the shipped
config) on the very same rows. With every fold run it also scores the pooled out-of-fold
predictions (the figure `train text` reports) for each model and for their mean. Every trial
is an MLflow run (`text-<task>-finetune-trial`), so the comparison stays next to the pipeline's
runs. Measured results and why none is shipped: README "Results on the real data".
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import mlflow
import numpy as np
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.class_weight import compute_class_weight

from features.contact import encoder
from features.contact.classifier import TextClassifier
from features.settings import Settings
from training.registry import ensure_experiment
from training.text import evaluate, fit
from training.text.config import TextTrainConfig
from training.text.data import load_text_table

logger = logging.getLogger(__name__)
VARIANTS = ("frozen", "finetuned")


def class_weights(y: np.ndarray, balanced: bool) -> np.ndarray | None:
    """Per-class loss weights as the head's `class_weight="balanced"` (scikit-learn's n / (k * count))."""
    return compute_class_weight("balanced", classes=np.unique(y), y=y) if balanced else None


def finetune(
    texts: list[str],
    y: np.ndarray,
    epochs: int,
    lr: float,
    seed: int,
    max_tokens: int,
    weights: np.ndarray | None = None,
):
    """A fine-tuned copy of the packaged encoder (cross-entropy on the labels `y`, ints)."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(seed)
    model = SentenceTransformer(str(encoder.packaged_path()), device="cpu")
    model.max_seq_length = max_tokens
    head = torch.nn.Linear(model.get_embedding_dimension(), int(y.max()) + 1)
    params = [{"params": model.parameters(), "lr": lr}, {"params": head.parameters(), "lr": 2e-3}]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    batch, steps = 32, epochs * -(-len(texts) // 32)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps)
    )
    loss_weight = None if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for i in range(0, len(order), batch):
            b = order[i : i + batch]
            out = model(model.preprocess([texts[j] for j in b]))["sentence_embedding"]
            loss = torch.nn.functional.cross_entropy(head(out), torch.as_tensor(y[b]), weight=loss_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


def pooled_metrics(y: np.ndarray, oof: dict[str, np.ndarray], classes: list[str], positive) -> dict:
    """`oof_<variant>_<metric>` over every row (each row scored by the fold that held it out)."""
    out = {}
    for name, p in oof.items():
        for key, value in evaluate.text_metrics(y, p, classes, positive).items():
            out[f"oof_{name}_{key}"] = value
    return out


def run_trial(
    data_path: Path | None, cfg: TextTrainConfig, settings: Settings, folds: int, epochs: int, lr: float
) -> dict:
    if not cfg.features.embeddings:
        raise ValueError(f"task {cfg.task!r} does not use embeddings; add --set features.embeddings=true")
    data = load_text_table(Path(data_path or cfg.data.path), cfg.data)
    prepared = TextClassifier(cfg.task, [], None, max_words=cfg.features.max_words).prepare(data.texts)
    y = np.asarray(data.labels)
    classes = sorted(set(data.labels))
    y_int = np.searchsorted(classes, y)
    frozen_emb = fit.embed_all(prepared, cfg, settings.state_path / "cache" / "embeddings")
    splitter = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    model_cfg = settings.model(cfg.task)
    mlflow.set_experiment(experiment_id=ensure_experiment(model_cfg.experiment, settings))
    results: dict = {}
    oof = {name: np.zeros((len(y), len(classes))) for name in VARIANTS}
    balanced = cfg.head.class_weight == "balanced"
    with mlflow.start_run(run_name=f"text-{cfg.task}-finetune-trial"):
        mlflow.log_params(
            {"task": cfg.task, "epochs": epochs, "lr": lr, "folds_run": folds, "balanced_loss": balanced}
            | data.lineage.as_params()
        )
        texts = np.asarray(prepared, dtype=object)
        for k, (tr, te) in enumerate(splitter.split(texts, y)):
            if k >= folds:
                break
            start = time.monotonic()
            weights = class_weights(y_int[tr], balanced)
            tuned = finetune(
                texts[tr].tolist(), y_int[tr], epochs, lr, cfg.seed, cfg.features.max_tokens, weights
            )
            fold = {f"fold{k}_finetune_seconds": time.monotonic() - start}
            tuned_emb = tuned.encode(prepared, batch_size=64, normalize_embeddings=True)
            for name, emb in zip(VARIANTS, (frozen_emb, tuned_emb), strict=True):
                oof[name][te] = fit.fold_proba(texts, y, emb, tr, te, classes, cfg)
                for key, value in evaluate.text_metrics(y[te], oof[name][te], classes, None).items():
                    fold[f"fold{k}_{name}_{key}"] = value
            mlflow.log_metrics(fold)
            results |= fold
            logger.info("fold %d: %s", k, {key: round(v, 4) for key, v in fold.items()})
        if folds >= cfg.folds:  # and the two models' mean, the ensemble one could ship
            oof["mean"] = (oof["frozen"] + oof["finetuned"]) / 2
            pooled = pooled_metrics(y, oof, classes, cfg.positive)
            mlflow.log_metrics(pooled)
            results |= pooled
    return results
