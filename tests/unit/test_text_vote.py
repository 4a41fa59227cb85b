"""The kernel vote (head.vote): its compact form against scikit-learn's SVC, the blend, the config."""

import numpy as np
import pytest
from sklearn.svm import SVC

from features.contact.vote import KernelVote, unit_rows
from training.text.config import load_text_config
from training.text.fit import fit_classifier, fit_vote


def _blobs(classes: int, rows: int = 300, dim: int = 12, seed: int = 0):
    """Overlapping clusters on the unit sphere, so many pairs' decisions are close calls."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(classes, dim))
    y = rng.integers(0, classes, rows)
    x = unit_rows(centres[y] + rng.normal(scale=1.2, size=(rows, dim)))
    return x, np.array([f"c{i}" for i in y])


@pytest.mark.parametrize(("classes", "gamma"), [(3, 1.0), (7, 0.5), (12, 2.0)])
def test_kernel_vote_equals_scikit_learn(classes, gamma):
    x, y = _blobs(classes, seed=classes)
    svc = SVC(C=10, kernel="rbf", gamma=gamma).fit(x[:200], y[:200])
    vote = KernelVote.from_svc(svc)
    svc.decision_function_shape = "ovo"
    # float32 support vectors: decisions within ~1e-5 of scikit-learn's float64 ones
    for rows in (x[200:], x[200:202]):  # a batch (per-class products) and one message (per row)
        np.testing.assert_allclose(vote.decisions(rows), svc.decision_function(rows), atol=1e-4)
        assert list(vote.classes_[vote.predict_index(rows)]) == list(svc.predict(rows))


def test_kernel_vote_onehot_follows_the_label_order():
    x, y = _blobs(4)
    vote = KernelVote.from_svc(SVC(kernel="rbf", gamma=1.0).fit(x, y))
    labels = ["c3", "c1", "c0", "c2"]  # another order than the SVM's
    hot = vote.onehot(x[:50] * 3.0, labels)  # any length: rows are scaled to unit length first
    assert hot.shape == (50, 4) and (hot.sum(axis=1) == 1).all()
    voted = vote.classes_[vote.predict_index(x[:50])]
    assert [labels[i] for i in hot.argmax(axis=1)] == list(voted)


def test_kernel_vote_of_no_rows_is_empty():
    x, y = _blobs(4)
    vote = KernelVote.from_svc(SVC(kernel="rbf", gamma=1.0).fit(x, y))
    assert vote.decisions(x[:0]).shape == (0, 6)  # 4 classes: 6 pairs
    assert vote.onehot(x[:0], ["c0", "c1", "c2", "c3"]).shape == (0, 4)


def test_kernel_vote_refuses_two_classes_and_other_kernels():
    x, y = _blobs(3)
    two = np.where(y == "c0", "a", "b")
    with pytest.raises(ValueError, match="RBF-kernel SVC fitted on three or more classes"):
        KernelVote.from_svc(SVC(kernel="rbf").fit(x, two))
    with pytest.raises(ValueError, match="RBF-kernel SVC"):
        KernelVote.from_svc(SVC(kernel="linear").fit(x, y))


def test_model_blends_head_and_vote():
    """p = (1 - w) * head + w * one-hot vote: rows sum to 1 and the voted class gets at least w."""
    x, y = _blobs(5, rows=200)
    texts = [f"message {label} number {i}" for i, label in enumerate(y)]
    cfg = load_text_config(
        "intent", overrides=["features.tfidf=false", "head.vote.weight=0.3", "head.calibration_folds=2"]
    )
    model = fit_classifier(texts, y, x, cfg)
    assert model.vote is not None and model.vote_weight == 0.3
    p = model.proba(texts, x)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    head_only = model.head.predict_proba(model.design(texts, x))
    hot = model.vote.onehot(x, model.labels)
    np.testing.assert_allclose(p, 0.7 * head_only + 0.3 * hot)
    assert (p[hot == 1] >= 0.3).all()


def test_vote_config_needs_embeddings_and_three_classes():
    with pytest.raises(ValueError, match=r"set features\.embeddings: true or remove head\.vote"):
        load_text_config("intent", overrides=["features.embeddings=false"])
    cfg = load_text_config("intent")
    x, y = _blobs(3, rows=40)
    with pytest.raises(ValueError, match=r"three or more classes; remove head\.vote"):
        fit_vote(x, np.where(y == "c0", "a", "b"), cfg)
    assert load_text_config("intent", overrides=["head.vote=null"]).head.vote is None


def test_embedding_weight_zero_feeds_only_the_vote():
    """The topic config: TF-IDF columns in the head, the embedding read by the vote alone."""
    x, y = _blobs(4, rows=160)
    texts = [f"about {label} case {i}" for i, label in enumerate(y)]
    cfg = load_text_config(
        "complaint_topic",
        overrides=["head.calibration_folds=2", "features.min_df=1", "head.vote={C: 3, weight: 0.15}"],
    )
    assert cfg.features.embedding_weight == 0
    model = fit_classifier(texts, y, x, cfg)
    lexical = model.lexical(texts)
    assert model.design(texts, x).shape[1] == lexical.shape[1]  # no embedding columns
    hot = model.vote.onehot(x, model.labels)
    head_only = model.head.predict_proba(lexical)
    np.testing.assert_allclose(model.proba(texts, x), 0.85 * head_only + 0.15 * hot)


def test_embedding_weight_zero_needs_a_reader():
    with pytest.raises(ValueError, match="embeddings that nothing reads"):
        load_text_config("complaint_topic", overrides=["head.vote=null"])
    with pytest.raises(ValueError, match=r"tfidf false the head reads only embeddings"):
        load_text_config("complaint_topic", overrides=["features.tfidf=false"])
