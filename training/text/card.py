"""A text model's card (training/model_card.py): out-of-fold metrics with intervals, and the
metrics per message length (short messages carry little for the model to read)."""

from __future__ import annotations

from functools import partial

import numpy as np

from features.registry import GateDecision
from training.model_card import ModelCard, bootstrap, length_groups
from training.text import evaluate
from training.text.config import TextTrainConfig
from training.text.data import TextData

LENGTH_EDGES = (20, 60, 150)  # words


def text_card(
    name: str,
    version: str,
    run_id: str,
    data: TextData,
    y: np.ndarray,
    oof: np.ndarray,
    classes: list[str],
    cfg: TextTrainConfig,
    decision: GateDecision,
) -> ModelCard:
    score = partial(evaluate.text_metrics, classes=classes, positive=cfg.positive)
    names = ("macro_f1", "accuracy", "weighted_f1", *(("roc_auc",) if cfg.positive else ()))
    metrics = bootstrap(lambda a, b: score(a, b), (y, oof), names, cfg.seed)
    lengths = np.asarray([len(t.split()) for t in data.texts])
    buckets = length_groups(lengths, LENGTH_EDGES)
    rows = []
    for group in dict.fromkeys(sorted(buckets, key=lambda b: lengths[buckets == b].min())):
        mask = buckets == group
        part = score(y[mask], oof[mask]) if mask.sum() > 1 else {}
        rows.append(
            {
                "group": group,
                "messages": int(mask.sum()),
                "accuracy": part.get("accuracy"),
                "macro_f1": part.get("macro_f1"),
            }
        )
    lineage = {**data.lineage.as_params(), "task": cfg.task, "classes": ", ".join(classes)}
    limits = []
    if "data_samples" in data.lineage.path:
        limits.append(
            "Trained on the project's generated sample messages, not real ones: a demonstration only."
        )
    return ModelCard(
        name,
        version,
        "text",
        run_id,
        {k: str(v) for k, v in lineage.items()},
        metrics,
        decision,
        {"message length": rows},
        limits,
        "out-of-fold predictions of cross-validation",
    )
