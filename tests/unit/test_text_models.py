"""Text-model building blocks: truncation, bands, the compact calibrated head, configs, loading."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.calibration import CalibratedClassifierCV
from sklearn.svm import LinearSVC

from features.contact.classifier import Bands, TextClassifier, truncate_words
from features.contact.head import LinearSigmoidHead
from training.text.config import load_text_config
from training.text.data import load_text_table


def test_truncate_words_keeps_the_start():
    assert truncate_words("a b c", 5) == ("a b c", False)
    assert truncate_words("a b c d e f", 3) == ("a b c", True)


def test_prepare_normalises_and_warns_once_for_cut_texts(caplog):
    model = TextClassifier("intent", [], None, max_words=3)
    with caplog.at_level("WARNING"):
        out = model.prepare(["@bank  hi https://x.io", "one two three four five", "six seven eight nine"])
    assert out == ["@user hi <url>", "one two three", "six seven eight"]
    assert caplog.text.count("cut to their first 3 words") == 1 and "2 of 3 texts" in caplog.text


def test_bands():
    b = Bands(medium=0.4, high=0.7)
    assert [b.of(p) for p in (0.1, 0.4, 0.69, 0.7, 1.0)] == ["low", "medium", "medium", "high", "high"]


@pytest.mark.parametrize("ensemble", [True, False])
@pytest.mark.parametrize("classes", [2, 5])
def test_compact_head_equals_scikit_learn(classes, ensemble):
    """Per-fold SVMs averaged (ensemble) or one SVM on all rows: the same probabilities."""
    rng = np.random.default_rng(classes)
    x = sp.random(240, 30, density=0.3, random_state=classes, format="csr")
    y = np.array(list("abcde"[:classes]))[rng.integers(0, classes, 240)]
    cal = CalibratedClassifierCV(LinearSVC(), method="sigmoid", cv=3, ensemble=ensemble).fit(x, y)
    head = LinearSigmoidHead.from_calibrated(cal)
    assert head.weights.shape[1] == (3 if ensemble else 1) * (1 if classes == 2 else classes)
    assert list(head.classes_) == list(cal.classes_)
    # float32 weights: ~1e-7 from scikit-learn's float64 probabilities
    np.testing.assert_allclose(head.predict_proba(x), cal.predict_proba(x), rtol=0, atol=1e-6)
    assert head.weights.dtype == np.float32


def test_compact_head_refuses_isotonic():
    x = sp.random(60, 5, density=0.5, random_state=0, format="csr")
    y = np.array([0, 1] * 30)
    cal = CalibratedClassifierCV(LinearSVC(), method="isotonic", cv=2).fit(x, y)
    with pytest.raises(ValueError, match="only sigmoid-calibrated"):
        LinearSigmoidHead.from_calibrated(cal)


def test_task_configs_load_and_override():
    cfg = load_text_config("intent", overrides=["folds=3", "head.C=0.5"])
    assert (cfg.folds, cfg.head.C, cfg.data.label) == (3, 0.5, "category")
    sample = load_text_config("complaint", sample=True)
    assert sample.data.path.startswith("data_samples/") and sample.positive == "complaint"
    with pytest.raises(ValueError, match="unknown text task 'fraud'"):
        load_text_config("fraud")


def test_loader_maps_labels_drops_blank_and_duplicate_texts(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("1,hello there,1,x\n2,   ,0,x\n3,hello there,1,x\n4,fine thanks,0,y\n5,bad,1,r\n")
    cfg = load_text_config("complaint").data.model_copy(update={"exclude": {"domain": ["r"]}})
    data = load_text_table(path, cfg)
    assert data.texts == ["hello there", "fine thanks"]
    assert data.labels == ["complaint", "not_complaint"]
    assert data.lineage.rows == 2 and len(data.lineage.sha256) == 64


def test_loader_names_a_missing_column(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("message,category\nhi,a\n")
    with pytest.raises(ValueError, match="no column 'text'"):
        load_text_table(path, load_text_config("intent").data)


def test_key_phrase_candidates_are_distinct_and_bounded():
    from features.contact.phrases import candidates, load_nlp, without

    text = "Third time I'm asking: my card was stolen and nobody helps! Absolutely unacceptable. @user <url>"
    spans = candidates(load_nlp()(text), limit=6)
    phrases = [text[a:b] for a, b in spans]
    assert 0 < len(spans) <= 6 and "unacceptable" in phrases
    assert not any(a <= c and d <= b for a, b in spans for c, d in spans if (a, b) != (c, d))
    assert "@user" not in phrases and "<url>" not in phrases
    assert without("my card was stolen", (3, 7)) == "my was stolen"
