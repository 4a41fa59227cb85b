"""The tuned encoder's softmax as a text model blends it: probabilities, the blend, a missing folder."""

import numpy as np
import pytest

from features.contact import tuned
from features.contact.tuned import TunedSoftmax


def fake_embed(monkeypatch, emb):
    calls = []

    def embed(path, texts, max_tokens):
        calls.append((path, list(texts), max_tokens))
        return emb

    monkeypatch.setattr(tuned.encoder, "embed", embed)
    return calls


def test_softmax_of_the_head_on_the_tuned_embedding(monkeypatch):
    emb = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    calls = fake_embed(monkeypatch, emb)
    weight = np.array([[2.0, 0.0], [0.0, 0.0], [-1.0, 3.0]], dtype=np.float32)
    bias = np.array([0.0, 0.5, 0.0], dtype=np.float32)
    head = TunedSoftmax(weight, bias, blend=0.25, max_tokens=128, path="/enc")
    logits = emb @ weight.T + bias
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(head.proba(["a", "b"]), expected, rtol=1e-6)
    assert calls == [("/enc", ["a", "b"], 128)]


def test_mix_gives_the_softmax_its_blend_share(monkeypatch):
    fake_embed(monkeypatch, np.zeros((1, 2), dtype=np.float32))
    head = TunedSoftmax(np.zeros((2, 2), np.float32), np.zeros(2, np.float32), blend=0.25, path="/enc")
    np.testing.assert_allclose(head.mix(np.array([[1.0, 0.0]]), ["a"]), [[0.875, 0.125]])


def test_large_logits_do_not_overflow(monkeypatch):
    fake_embed(monkeypatch, np.array([[1.0]], dtype=np.float32))
    head = TunedSoftmax(np.array([[1000.0], [0.0]], np.float32), np.zeros(2, np.float32), 0.5, path="/e")
    np.testing.assert_allclose(head.proba(["a"]), [[1.0, 0.0]])


def test_a_model_unpickled_without_its_artifacts_says_how_to_load_it():
    head = TunedSoftmax(np.zeros((2, 2), np.float32), np.zeros(2, np.float32), blend=0.25)
    with pytest.raises(RuntimeError, match=r"load it with mlflow\.pyfunc\.load_model"):
        head.proba(["a"])
