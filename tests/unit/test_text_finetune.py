"""Pure parts of the encoder fine-tuning trial: class-balanced loss weights, pooled metrics, the
tuned head's probabilities, the device choice."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from training.text import finetune
from training.text.finetune import pooled_metrics
from training.text.tuning import class_weights, resolve_device, softmax_proba


def test_balanced_weights_match_scikit_learn():
    y = np.array([0, 0, 0, 0, 0, 0, 1, 1, 2])
    expected = compute_class_weight("balanced", classes=np.arange(3), y=y)
    np.testing.assert_allclose(class_weights(y, balanced=True), expected)


def test_unbalanced_head_gets_plain_cross_entropy():
    assert class_weights(np.array([0, 1, 1]), balanced=False) is None


def test_pooled_metrics_score_every_row_per_variant():
    y = np.array(["a", "a", "b", "b"])
    right = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    one_wrong = np.array([[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.1, 0.9]])
    out = pooled_metrics(y, {"frozen": one_wrong, "finetuned": right}, ["a", "b"], positive="b")
    assert out["oof_finetuned_macro_f1"] == 1.0 and out["oof_finetuned_accuracy"] == 1.0
    assert out["oof_frozen_accuracy"] == pytest.approx(0.75)
    assert out["oof_frozen_macro_f1"] == pytest.approx(0.7333, abs=1e-4)
    assert {"oof_frozen_roc_auc", "oof_finetuned_roc_auc"} <= set(out)


def test_softmax_proba_matches_the_torch_head():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    head = torch.nn.Linear(4, 3)
    emb = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    expected = torch.softmax(head(torch.as_tensor(emb)), dim=1).detach().numpy()
    got = softmax_proba(head, emb)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-6)


def test_auto_device_follows_what_torch_sees(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cpu") == "cpu"


def test_cuda_without_a_gpu_and_unknown_devices_name_the_fix(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU here; use --device cpu"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="use auto, cpu or cuda"):
        resolve_device("gpu0")


def test_blend_weight_outside_0_1_is_refused_before_any_work(tmp_path):
    from features.settings import load_settings
    from training.text.config import load_text_config

    cfg = load_text_config("complaint", sample=True)
    with pytest.raises(ValueError, match=r"--blend 1\.5: use a weight between 0 and 1"):
        finetune.run_trial(
            tmp_path / "absent.csv", cfg, load_settings(), folds=1, epochs=1, lr=5e-5, blend=1.5
        )


def test_a_fold_fills_every_variant_and_pads_a_class_its_training_rows_lack(monkeypatch):
    """`run_fold` with the tuning and the usual head faked: the softmax columns follow the class
    order, and a class the fold's tuned head never saw (here the last) gets probability 0."""
    torch = pytest.importorskip("torch")
    from training.text.config import load_text_config

    classes = ["a", "b", "c"]
    y = np.array(["a", "b", "a", "b", "c", "a"])
    rows = finetune.TrialRows(
        texts=np.array([f"t{i}" for i in range(6)], dtype=object),
        y=y,
        y_int=np.searchsorted(classes, y),
        classes=classes,
        frozen_emb=np.zeros((6, 4)),
    )

    class Tuned:
        def encode(self, texts, **kwargs):
            return np.ones((len(texts), 4), dtype=np.float32)

    head = torch.nn.Linear(4, 2)  # trained on classes a and b only
    monkeypatch.setattr(finetune, "finetune", lambda *a, **k: (Tuned(), head))
    monkeypatch.setattr(
        finetune.fit, "fold_proba", lambda texts, y, emb, tr, te, cl, cfg: np.full((len(te), 3), 1 / 3)
    )
    oof = {name: np.zeros((6, 3)) for name in ("frozen", "finetuned", "softmax")}
    cfg = load_text_config("complaint_topic", sample=True)
    tr, te = np.array([0, 1, 2, 3]), np.array([4, 5])
    fold = finetune.run_fold(0, tr, te, rows, cfg, oof, epochs=1, lr=1e-4, device="cpu")
    expected = softmax_proba(head, np.ones((2, 4), dtype=np.float32))
    np.testing.assert_allclose(oof["softmax"][te, :2], expected, rtol=1e-6)
    assert (oof["softmax"][te, 2] == 0).all() and (oof["softmax"][tr] == 0).all()
    assert {"fold0_softmax_macro_f1", "fold0_frozen_accuracy", "fold0_finetune_seconds"} <= set(fold)
