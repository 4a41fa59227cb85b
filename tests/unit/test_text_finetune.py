"""Pure parts of the encoder fine-tuning trial: class-balanced loss weights, pooled metrics."""

import numpy as np
import pytest
from sklearn.utils.class_weight import compute_class_weight

from training.text.finetune import class_weights, pooled_metrics


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
