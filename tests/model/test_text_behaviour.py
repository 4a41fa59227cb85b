"""Behaviour of the contact-text champions trained on the sample messages: minimum functionality,
invariance (names, handles, URLs) and direction (an explicit complaint raises the risk)."""

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.contact.phrases import key_phrases, load_nlp
from tests.conftest import SAMPLE_MESSAGES


@pytest.fixture(scope="module")
def models(trained):
    return {
        task: mlflow.pyfunc.load_model(f"models:/{name}@champion")
        for task, name in [
            ("complaint", "ccrisk-complaint"),
            ("complaint_topic", "ccrisk-complaint-topic"),
            ("intent", "ccrisk-intent"),
        ]
    }


def predict(model, texts: list[str]) -> pd.DataFrame:
    return model.predict(pd.DataFrame({"text": texts}))


def test_output_columns_and_probabilities(models):
    out = predict(models["intent"], ["my card has not arrived yet", "how do I change my PIN"])
    inner = models["intent"].unwrap_python_model()
    assert list(out.columns) == ["label", "probability", *[f"p_{c}" for c in inner.labels]]
    per_class = out.filter(like="p_").to_numpy()
    assert np.allclose(per_class.sum(axis=1), 1.0)
    assert np.allclose(out["probability"], per_class.max(axis=1))


@pytest.mark.parametrize("task", ["complaint", "complaint_topic", "intent"])
def test_empty_frame_gives_an_empty_answer_with_the_columns(models, task):
    """An evaluator's filter can leave no rows: the answer is empty, not an error (the kernel
    vote of the topic and intent models once failed on zero rows)."""
    full = predict(models[task], ["where is my refund"])
    out = models[task].predict(pd.DataFrame({"text": pd.Series([], dtype=str)}))
    assert len(out) == 0 and list(out.columns) == list(full.columns)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("My new card still has not arrived", "card_arrival"),
        ("Someone stole my card, please block it", "lost_or_stolen_card"),
        ("What exchange rate do you use for euros?", "exchange_rate"),
        ("How can I change my PIN?", "change_pin"),
    ],
)
def test_minimum_functionality_intent(models, text, intent):
    assert predict(models["intent"], [text])["label"][0] == intent


def test_minimum_functionality_complaint(models):
    out = predict(
        models["complaint"],
        ["This is ridiculous, worst service ever, I want to speak to a manager!", "Hi, thanks for the help"],
    )
    assert out["label"].tolist() == ["complaint", "not_complaint"]


def test_invariant_to_names_handles_and_urls(models):
    texts = [
        "Maria Lopez here, my transfer never reached my landlord. Fed up with you people.",
        "John Smith here, my transfer never reached my landlord. Fed up with you people.",
        "@acme_help my transfer never reached my landlord. Fed up with you people.",
        "@bank_support my transfer never reached my landlord. Fed up with you people. https://t.co/x1",
    ]
    p = predict(models["complaint"], texts)["p_complaint"].to_numpy()
    assert abs(p[0] - p[1]) < 0.05
    assert abs(p[2] - p[3]) < 0.05  # handles become @user, links <url>
    labels = predict(models["intent"], texts)["label"]
    assert labels.nunique() == 1


def test_adding_a_complaint_sentence_raises_the_risk(models):
    base = ["Hi, my card has not arrived yet.", "What is the exchange rate for yen?"]
    angry = [t + " This is unacceptable, worst service ever!" for t in base]
    p0 = predict(models["complaint"], base)["p_complaint"].to_numpy()
    p1 = predict(models["complaint"], angry)["p_complaint"].to_numpy()
    assert (p1 > p0 + 0.2).all(), (p0, p1)


def test_key_phrases_point_at_the_complaint_language(models):
    inner = models["complaint"].unwrap_python_model()
    text = inner.prepare(
        ["Terrible. My card was stolen and your staff keep hanging up on me. Ref Qorvinthal."]
    )[0]
    base = float(inner.proba([text])[0, inner.positive_index()])
    strings = len(load_nlp().vocab.strings)
    phrases = key_phrases(inner, text, base)
    assert len(load_nlp().vocab.strings) == strings, "parsed outside a memory zone: the worker would grow"
    assert phrases and all(k.impact > 0 for k in phrases)
    assert any(w in " ".join(k.text.lower() for k in phrases) for w in ("terrible", "hanging"))


def test_logged_model_reloads_and_scores_identically(models, trained):
    """Round trip: the in-memory model at the end of training equals the registry's copy."""
    result = trained.text_results["complaint"]
    run = mlflow.get_run(result.run_id)
    assert run.data.metrics["cv_macro_f1"] == pytest.approx(result.metrics["macro_f1"])
    texts = pd.read_csv(SAMPLE_MESSAGES)["text"].head(50).tolist()
    texts += ["Ünïcode   spaces\tand a URL https://x.y/z", "@someone " + "very long " * 300]
    served = predict(models["complaint"], texts)
    pd.testing.assert_frame_equal(served, result.model.predict(None, pd.DataFrame({"text": texts})))


def test_finetune_trial_logs_folds_and_pooled_out_of_fold_metrics(trained, tmp_path):
    """Two folds of 30 sample messages, one epoch each: the MLflow run holds each fold's frozen vs
    fine-tuned metrics (the usual head and the tuned softmax) and, with every fold run, the
    pooled out-of-fold ones, the ensembles included."""
    from features.settings import load_settings
    from training.text.config import load_text_config
    from training.text.finetune import run_trial

    rows = pd.read_csv(SAMPLE_MESSAGES)
    subset = pd.concat([g.head(15) for _, g in rows.groupby("complaint")])
    path = tmp_path / "messages.csv"
    subset.to_csv(path, index=False)
    cfg = load_text_config("complaint", overrides=["folds=2"], sample=True)
    results = run_trial(path, cfg, load_settings(), folds=2, epochs=1, lr=5e-5, blend=0.3, device="cpu")
    for variant in ("frozen", "finetuned", "softmax"):
        assert {f"fold0_{variant}_macro_f1", f"fold1_{variant}_macro_f1"} <= set(results)
        assert 0.0 <= results[f"oof_{variant}_macro_f1"] <= 1.0
    for ensemble in ("mean", "blend"):
        assert 0.0 <= results[f"oof_{ensemble}_macro_f1"] <= 1.0
    run = mlflow.search_runs(
        search_all_experiments=True,
        filter_string="attributes.run_name = 'text-complaint-finetune-trial'",
        max_results=1,
        output_format="list",
    )[0]
    assert run.data.metrics["oof_finetuned_accuracy"] == pytest.approx(results["oof_finetuned_accuracy"])
    assert run.data.params["balanced_loss"] == "True"
    assert (run.data.params["blend"], run.data.params["device"]) == ("0.3", "cpu")
