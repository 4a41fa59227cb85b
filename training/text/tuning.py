"""Fine-tuning the sentence encoder with a softmax head: the loop shared by the pipeline's
`finetune` option (`training/text/tuned.py`) and the measured trial (`training/text/finetune.py`).

Cross-entropy (class-balanced when the task's head is), AdamW (encoder `lr`, head 2e-3), 10 %
linear warm-up then linear decay, batch 32, on a CUDA GPU when one is asked for.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.class_weight import compute_class_weight

from features.contact import encoder
from features.contact.tuned import head_softmax

HEAD_LR = 2e-3
BATCH = 32


def class_weights(y: np.ndarray, balanced: bool) -> np.ndarray | None:
    """Per-class loss weights as the head's `class_weight="balanced"` (scikit-learn's n / (k * count))."""
    return compute_class_weight("balanced", classes=np.unique(y), y=y) if balanced else None


def resolve_device(name: str, option: str = "--device") -> str:
    """`auto` -> `cuda` when torch sees a GPU, else `cpu`; `cuda` without one is an error that
    names the `option` the value came from."""
    import torch

    if name not in ("auto", "cpu", "cuda"):
        raise ValueError(f"{option} {name!r}: use auto, cpu or cuda")
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{option} cuda: torch sees no CUDA GPU here; use {option} cpu (slow) or auto")
    return name


def finetune(
    texts: list[str],
    y: np.ndarray,
    epochs: int,
    lr: float,
    seed: int,
    max_tokens: int,
    weights: np.ndarray | None = None,
    device: str = "cpu",
):
    """A fine-tuned copy of the packaged encoder and its softmax head (cross-entropy on the
    labels `y`, ints 0..k-1)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import batch_to_device

    torch.manual_seed(seed)
    model = SentenceTransformer(str(encoder.packaged_path()), device=device)
    model.max_seq_length = max_tokens
    head = torch.nn.Linear(model.get_embedding_dimension(), int(y.max()) + 1).to(device)
    params = [{"params": model.parameters(), "lr": lr}, {"params": head.parameters(), "lr": HEAD_LR}]
    opt = torch.optim.AdamW(params, weight_decay=0.01)
    steps = epochs * -(-len(texts) // BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / (0.1 * steps)) * max(0.0, (steps - s) / steps)
    )
    loss_weight = None if weights is None else torch.as_tensor(weights, dtype=torch.float32, device=device)
    labels = torch.as_tensor(y, device=device)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        order = rng.permutation(len(texts))
        for i in range(0, len(order), BATCH):
            b = order[i : i + BATCH]
            features = batch_to_device(model.preprocess([texts[j] for j in b]), device)
            out = model(features)["sentence_embedding"]
            loss = torch.nn.functional.cross_entropy(head(out), labels[b], weight=loss_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model, head


def head_arrays(head) -> tuple[np.ndarray, np.ndarray]:
    """The torch head's weight (k, d) and bias (k,) as float32 arrays on the CPU."""
    weight = head.weight.detach().float().cpu().numpy()
    return weight, head.bias.detach().float().cpu().numpy()


def softmax_proba(head, emb: np.ndarray) -> np.ndarray:
    """The tuned head's class probabilities for sentence embeddings `emb` (columns 0..k-1), as the
    served model computes them (`features.contact.tuned.head_softmax`)."""
    return head_softmax(emb, *head_arrays(head))
