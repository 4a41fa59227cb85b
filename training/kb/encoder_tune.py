"""Domain fine-tuning of the KB bi-encoder on question -> answer pairs.

The loss is sentence-transformers' MultipleNegativesRankingLoss (in-batch negatives: every other
answer in the batch is a wrong answer), run in a plain torch loop so no extra training stack is
needed. The tuned encoder is a sentence-transformers folder that `ccrisk train kb --set
encoder=FOLDER` uses (the KB model then carries it as an MLflow artifact).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

from features.contact import encoder

logger = logging.getLogger(__name__)


def _mnrl(model, scale: float):
    try:  # the module moved in sentence-transformers 6
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # pragma: no cover - older sentence-transformers
        from sentence_transformers.losses import MultipleNegativesRankingLoss
    return MultipleNegativesRankingLoss(model, scale=scale)


def finetune(
    pairs: list[tuple[str, str]],
    base: str,
    out_dir: Path,
    epochs: int = 1,
    batch_size: int = 32,
    lr: float = 3e-5,
    max_tokens: int = 256,
    seed: int = 42,
    on_step: Callable[[int, float], None] | None = None,
) -> Path:
    """Fine-tune `base` (a path or encoder reference) on (question, answer) pairs; save to `out_dir`."""
    import torch
    from sentence_transformers import SentenceTransformer

    if len(pairs) < 2:
        raise ValueError("fine-tuning needs at least two question -> answer pairs")
    torch.manual_seed(seed)
    rng = random.Random(seed)
    model = SentenceTransformer(str(encoder.resolve(base)), device="cpu")
    model.max_seq_length = max_tokens
    loss_fn = _mnrl(model, scale=20.0)
    steps = epochs * ((len(pairs) + batch_size - 1) // batch_size)
    optim = torch.optim.AdamW(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: min(1.0, (s + 1) / max(1, steps // 10)))
    model.train()
    step = 0
    for _ in range(epochs):
        order = _distinct_answer_batches(pairs, batch_size, rng)
        for batch in order:
            qs = model.preprocess([pairs[i][0] for i in batch])
            answers = model.preprocess([pairs[i][1] for i in batch])
            loss = loss_fn([qs, answers], labels=None)
            optim.zero_grad()
            loss.backward()
            optim.step()
            sched.step()
            step += 1
            if on_step:
                on_step(step, float(loss))
    model.eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(str(out_dir))
    logger.info("fine-tuned encoder saved to %s (%d steps)", out_dir, step)
    return out_dir


def _distinct_answer_batches(pairs: list[tuple[str, str]], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches in which no answer repeats (a repeat would be a false in-batch negative)."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    batches: list[list[int]] = []
    open_batches: list[tuple[list[int], set[str]]] = []
    for i in order:
        answer = pairs[i][1]
        for members, seen in open_batches:
            if answer not in seen and len(members) < size:
                members.append(i)
                seen.add(answer)
                break
        else:
            open_batches.append(([i], {answer}))
        full = [b for b in open_batches if len(b[0]) == size]
        batches += [b[0] for b in full]
        open_batches = [b for b in open_batches if len(b[0]) < size]
    batches += [b[0] for b in open_batches if len(b[0]) > 1]
    return batches
