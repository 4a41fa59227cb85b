"""The ONNX Runtime encoder gives the embeddings torch gives (the service runs ONNX, training and
the fallback run torch, so a model trained on one is scored on the other)."""

import logging
from pathlib import Path

import numpy as np
import pytest

from features.contact import encoder, onnx_encoder
from tests.conftest import needs_proc, resident_mb

TEXTS = [
    "I want to cancel my policy right now, this is the third time I called!",
    "  padded with spaces and a tab\t",
    "",
    "hi",
    "Über café — naïve 東京 😀",
    "My claim #12345 was rejected and nobody explains why. " * 40,  # past 256 tokens: truncated
]


@pytest.fixture(scope="module")
def path(tmp_path_factory) -> str:
    mp = pytest.MonkeyPatch()
    mp.setenv("CCRISK_ENCODER_CACHE", str(tmp_path_factory.mktemp("encoders")))
    yield str(encoder.packaged_path())
    mp.undo()


def embed_with(backend: str, path: str, texts: list[str], monkeypatch) -> np.ndarray:
    monkeypatch.setenv("CCRISK_ENCODER_BACKEND", backend)
    return encoder.embed(path, texts)


def test_onnx_matches_torch_in_a_batch_and_one_by_one(path, monkeypatch):
    torch_rows = embed_with("torch", path, TEXTS, monkeypatch)
    onnx_batch = embed_with("onnx", path, TEXTS, monkeypatch)
    onnx_single = np.vstack([embed_with("onnx", path, [t], monkeypatch) for t in TEXTS])
    assert encoder._onnx(path, 256, encoder._threads) is not None, "the ONNX path did not run"
    assert onnx_batch.shape == (len(TEXTS), 384)
    assert np.abs(onnx_batch - torch_rows).max() < 1e-5
    assert np.abs(onnx_single - torch_rows).max() < 1e-5
    assert np.allclose(np.linalg.norm(onnx_batch, axis=1), 1.0, atol=1e-5)


def test_the_export_is_cached_under_the_weights_fingerprint(path):
    onnx_encoder.load.__wrapped__(path, 256, 1)  # uncached: exports into this module's cache
    expected = onnx_encoder.cache_root() / onnx_encoder.fingerprint(Path(path)) / "encoder.onnx"
    assert expected.is_file()
    assert not list(expected.parent.glob("*.tmp"))


def test_a_failing_onnx_load_falls_back_to_torch_with_a_warning(path, monkeypatch, caplog):
    def broken(*_):
        raise RuntimeError("no runtime here")

    monkeypatch.setattr(onnx_encoder, "load", broken)
    monkeypatch.setattr(encoder, "_onnx", encoder._onnx.__wrapped__)  # bypass the cached session
    with caplog.at_level(logging.WARNING, logger="features.contact.encoder"):
        rows = embed_with("onnx", path, TEXTS[:2], monkeypatch)
    assert "runs in torch" in caplog.text and "no runtime here" in caplog.text
    assert np.abs(rows - embed_with("torch", path, TEXTS[:2], monkeypatch)).max() < 1e-6


@needs_proc
def test_a_large_batch_leaves_no_memory_held_by_the_session(path, monkeypatch):
    """ONNX Runtime's default arena keeps the peak of the largest batch ever embedded (32 texts of
    256 tokens: ~500 MB) for the life of the session; the service's session must give it back."""
    from serving.platform.runtime import release_free_heap

    monkeypatch.setenv("CCRISK_ENCODER_BACKEND", "onnx")
    encoder.embed(path, TEXTS[:2])  # session loaded before the baseline
    release_free_heap()
    before = resident_mb()
    encoder.embed(path, [TEXTS[-1]] * 32)
    release_free_heap()
    assert resident_mb() - before < 100


def test_an_earlier_layer_matches_across_backends_and_shares_the_pass(path, monkeypatch):
    """A text model may read the mean of an earlier layer (`encoder_layer`); one pass gives it
    and the sentence embedding, on either backend."""
    both = {}
    for backend in ("torch", "onnx"):
        monkeypatch.setenv("CCRISK_ENCODER_BACKEND", backend)
        both[backend] = encoder.embed_layers(path, TEXTS, layers=(4, None))
    assert np.abs(both["onnx"][4] - both["torch"][4]).max() < 1e-5
    assert np.abs(both["onnx"][None] - embed_with("torch", path, TEXTS, monkeypatch)).max() < 1e-5
    assert np.abs(both["onnx"][4] - embed_with("onnx", path, TEXTS, monkeypatch)).max() > 0.1  # not the last
    single = np.vstack([encoder.embed(path, [t], layer=4) for t in TEXTS])
    assert np.abs(single - both["onnx"][4]).max() < 1e-5
    with pytest.raises(ValueError, match="has layers 1 to 6"):
        encoder.embed(path, TEXTS[:1], layer=7)
