"""The pipeline's `finetune` option: a tuned encoder's softmax blended into the text model.

For cross-validation the encoder is tuned once per fold on that fold's training rows (the same
folds as the model's, so the blend's out-of-fold figure is honest); for the logged model once on
every row, saved as a folder that travels inside the MLflow model (features/contact/tuned.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedKFold

from features.contact.tuned import TunedSoftmax
from training.text.config import TextTrainConfig
from training.text.fit import TrainingOnly
from training.text.tuning import class_weights, finetune, head_arrays, resolve_device, softmax_proba

logger = logging.getLogger(__name__)
SLOW_ON_CPU = 2_000  # texts above which tuning on CPU is worth a warning


def max_tokens(cfg: TextTrainConfig) -> int:
    """Word pieces the tuned encoder reads (training and serving alike)."""
    return cfg.finetune.max_tokens or cfg.features.max_tokens


def _tune(texts: np.ndarray, y_int: np.ndarray, cfg: TextTrainConfig, device: str):
    ft = cfg.finetune
    weights = class_weights(y_int, cfg.head.class_weight == "balanced")
    return finetune(texts.tolist(), y_int, ft.epochs, ft.lr, cfg.seed, max_tokens(cfg), weights, device)


def _device(cfg: TextTrainConfig, rows: int) -> str:
    device = resolve_device(cfg.finetune.device, "finetune.device")
    if device == "cpu" and rows > SLOW_ON_CPU:
        logger.warning(
            "%s: fine-tuning the encoder on %d texts on CPU, once per fold and once on every row: "
            "tens of minutes for short messages, hours for long narratives (a CUDA GPU: minutes)",
            cfg.task,
            rows,
        )
    return device


def tuned_oof(
    texts: np.ndarray,
    y: np.ndarray,
    classes: list[str],
    folds: int,
    cfg: TextTrainConfig,
    extra: TrainingOnly | None = None,
    on_fold: Callable[[int], None] = lambda _: None,
) -> np.ndarray:
    """Out-of-fold softmax probabilities (columns in `classes` order, sorted) of an encoder tuned
    per fold; the folds are `fit.cross_validate`'s (same count, seed and rows)."""
    device = _device(cfg, len(texts))
    oof = np.zeros((len(y), len(classes)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=cfg.seed)
    for k, (tr, te) in enumerate(splitter.split(texts, y)):
        rows = (texts[tr], y[tr], None)
        tr_texts, tr_y, _ = extra.join(*rows) if extra is not None else rows
        model, head = _tune(tr_texts, np.searchsorted(classes, tr_y), cfg, device)
        emb = model.encode(texts[te].tolist(), batch_size=64, normalize_embeddings=True)
        p = softmax_proba(head, emb)
        oof[te, : p.shape[1]] = p  # a class after the last one the fold trained on: 0
        on_fold(k)
    return oof


def fit_tuned(
    texts: np.ndarray, y: np.ndarray, labels: list[str], cfg: TextTrainConfig, folder: Path
) -> TunedSoftmax:
    """Tune on every row, save the encoder to `folder`, return the softmax in `labels` order."""
    classes = sorted(set(y.tolist()))
    if [str(c) for c in classes] != list(labels):
        raise ValueError(f"{cfg.task}: the tuned head's classes {classes} differ from the model's {labels}")
    model, head = _tune(texts, np.searchsorted(classes, y), cfg, _device(cfg, len(texts)))
    folder.mkdir(parents=True, exist_ok=True)
    model.save(str(folder))
    weight, bias = head_arrays(head)
    logger.info("%s: tuned encoder saved to %s", cfg.task, folder)
    return TunedSoftmax(weight, bias, cfg.finetune.blend, max_tokens(cfg), path=str(folder))
