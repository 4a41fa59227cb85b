"""A measured trial of fine-tuning the sentence encoder (not part of the shipped pipeline).

`ccrisk train text-finetune-trial --task complaint` fine-tunes all-MiniLM-L6-v2 with a softmax
head (cross-entropy, AdamW, linear warm-up/decay) on the training rows of the first CV fold(s),
then fits the task's usual head on the tuned embeddings, and compares the fold's macro-F1 and
accuracy with the frozen-encoder model on the very same rows. Every trial is an MLflow run
(`text-<task>-finetune-trial`) so the comparison stays next to the pipeline's runs.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import mlflow
import numpy as np
from sklearn.model_selection import StratifiedKFold

from features.contact import encoder
from features.contact.classifier import TextClassifier
from features.settings import Settings
from training.registry import ensure_experiment
from training.text import evaluate, fit
from training.text.config import TextTrainConfig
from training.text.data import load_text_table

logger = logging.getLogger(__name__)


def finetune(texts: list[str], y: np.ndarray, epochs: int, lr: float, seed: int, max_tokens: int):
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
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for i in range(0, len(order), batch):
            b = order[i : i + batch]
            out = model(model.preprocess([texts[j] for j in b]))["sentence_embedding"]
            loss = torch.nn.functional.cross_entropy(head(out), torch.as_tensor(y[b]))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model


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
    with mlflow.start_run(run_name=f"text-{cfg.task}-finetune-trial"):
        mlflow.log_params(
            {"task": cfg.task, "epochs": epochs, "lr": lr, "folds_run": folds, **data.lineage.as_params()}
        )
        texts = np.asarray(prepared, dtype=object)
        for k, (tr, te) in enumerate(splitter.split(texts, y)):
            if k >= folds:
                break
            start = time.monotonic()
            tuned = finetune(texts[tr].tolist(), y_int[tr], epochs, lr, cfg.seed, cfg.features.max_tokens)
            seconds = time.monotonic() - start
            tuned_emb = tuned.encode(prepared, batch_size=64, normalize_embeddings=True)
            for name, emb in (("frozen", frozen_emb), ("finetuned", tuned_emb)):
                p = fit.fold_proba(texts, y, emb, tr, te, classes, cfg)
                for key, value in evaluate.text_metrics(y[te], p, classes, None).items():
                    results[f"fold{k}_{name}_{key}"] = value
            results[f"fold{k}_finetune_seconds"] = seconds
            mlflow.log_metrics(results)
            logger.info(
                "fold %d: %s",
                k,
                {key: round(v, 4) for key, v in results.items() if key.startswith(f"fold{k}")},
            )
    return results
