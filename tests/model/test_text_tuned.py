"""`finetune.enabled`: a fine-tuned encoder's softmax is blended into a text model, its folder
travels inside the logged MLflow model, and the registry's copy scores as the trained one did."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from tests.conftest import SAMPLE_MESSAGES

NAME = "ccrisk-complaint-topic-tuned-test"  # not the served topic model: the champion stays
TEXTS = ["I was charged twice on my credit card", "the debt collector keeps calling me at work"]
FAST_TUNING = [
    "folds=2",
    "finetune.enabled=true",
    "finetune.epochs=1",
    "finetune.device=cpu",
    "finetune.max_tokens=64",  # the tuned encoder's own cut; the model's stays 256
]


@pytest.fixture(scope="module")
def tuned_topic(trained, tmp_path_factory):
    """Twelve sample messages per topic, two folds, one epoch on CPU."""
    from features.settings import load_settings
    from training.text.config import load_text_config
    from training.text.pipeline import train_text

    settings = load_settings(trained.settings_path)
    settings.models["complaint_topic"].registered_name = NAME
    rows = pd.read_csv(SAMPLE_MESSAGES)
    path = tmp_path_factory.mktemp("tuned") / "messages.csv"
    pd.concat([g.head(12) for _, g in rows.groupby("topic")]).to_csv(path, index=False)
    cfg = load_text_config("complaint_topic", overrides=FAST_TUNING, sample=True)
    return train_text(path, cfg, settings)


def test_the_run_keeps_both_parts_of_the_blend_and_the_settings(tuned_topic):
    run = mlflow.get_run(tuned_topic.run_id)
    for part in ("untuned", "tuned_softmax"):
        assert 0.0 <= run.data.metrics[f"cv_{part}_macro_f1"] <= 1.0
    assert run.data.metrics["cv_macro_f1"] == pytest.approx(tuned_topic.metrics["macro_f1"])
    assert (run.data.params["finetune.blend"], run.data.params["finetune.device"]) == ("0.25", "cpu")
    assert (tuned_topic.model.tuned.max_tokens, tuned_topic.model.max_tokens) == (64, 256)


def test_probabilities_are_the_model_blended_with_the_tuned_softmax(tuned_topic):
    model = tuned_topic.model
    prepared = model.prepare(TEXTS)
    blended = model.proba(prepared)
    soft = model.tuned.proba(prepared)
    tuned, model.tuned = model.tuned, None
    try:
        untuned = model.proba(prepared)
    finally:
        model.tuned = tuned
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(blended, 0.75 * untuned + 0.25 * soft, rtol=1e-9)
    assert not np.allclose(blended, untuned)


def test_registry_copy_bundles_the_encoder_and_scores_identically(tuned_topic):
    loaded = mlflow.pyfunc.load_model(f"models:/{NAME}/{tuned_topic.version}")
    inner = loaded.unwrap_python_model()
    bundled = Path(inner.tuned.encoder_path)
    training_copy = Path(tuned_topic.model.tuned.encoder_path)
    assert bundled != training_copy and bundled.parent.name == "artifacts"  # inside the loaded model
    assert (bundled / "model.safetensors").read_bytes() == (training_copy / "model.safetensors").read_bytes()
    frame = pd.DataFrame({"text": TEXTS})
    pd.testing.assert_frame_equal(loaded.predict(frame), tuned_topic.model.predict(None, frame))


def test_the_tuned_encoder_runs_under_onnx_runtime(tuned_topic):
    """A folder SentenceTransformer.save writes (pooling in the sentence-transformers 6 format) is
    exported, not left to the torch fallback (which costs ~200 MB RSS a serving worker)."""
    from features.contact import encoder, onnx_encoder

    path = tuned_topic.model.tuned.encoder_path
    session = onnx_encoder.load(path, 64, 1)
    assert session.layers == 6
    expected = encoder.embed(path, TEXTS, 64)
    got = np.stack(session.embed(TEXTS, (6,))[0])
    got /= np.linalg.norm(got, axis=1, keepdims=True)
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_tuning_on_cuda_without_a_gpu_names_the_option(monkeypatch):
    import torch

    from training.text.config import load_text_config
    from training.text.tuned import tuned_oof

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = load_text_config("complaint_topic", overrides=["finetune.device=cuda"], sample=True)
    y = np.array(["a", "b"])
    with pytest.raises(ValueError, match=r"finetune\.device cuda: torch sees no CUDA GPU here"):
        tuned_oof(np.array(["x", "y"], dtype=object), y, ["a", "b"], 2, cfg)


def test_the_contact_service_serves_the_blend(tuned_topic, trained):
    """The service's path (one shared encoder pass, compacted TF-IDF) gives the registry copy's
    topic probabilities when the topic champion bundles a tuned encoder."""
    from features.contact.api import ContactMessage
    from features.settings import load_settings
    from serving.domain.contact import ContactService

    settings = load_settings(trained.settings_path)
    settings.models["complaint_topic"].registered_name = NAME  # its first version is @champion
    service = ContactService(settings)
    topic = service.analyze([ContactMessage(text=TEXTS[0])], "none").results[0].topic
    expected = mlflow.pyfunc.load_model(f"models:/{NAME}@champion").predict(pd.DataFrame({"text": TEXTS[:1]}))
    assert topic.label == expected["label"][0]
    assert topic.probability == pytest.approx(expected["probability"][0], rel=1e-6)
