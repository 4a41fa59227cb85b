"""Training-only tables (`extra` in a text config): what is kept, and where the rows go in CV."""

import logging

import numpy as np
import pytest

from training.data import Lineage
from training.text import fit
from training.text.config import DataConfig, load_text_config
from training.text.data import TextData, load_extra


def _main() -> TextData:
    texts = ["my card was charged twice", "mortgage escrow went up", "the  loan   payoff is wrong"]
    return TextData(texts, ["card", "mortgage", "loan"], Lineage("main.csv", "0" * 64, 3))


def test_extra_rows_drop_seen_texts_and_unknown_labels(tmp_path, caplog):
    first = tmp_path / "first.csv"
    first.write_text(
        "narrative,product\n"
        '"the loan payoff   is wrong",Payday loan\n'  # the main table's text, other spacing
        "escrow shortage on my mortgage,Mortgage\n"
        "they opened an account I never asked for,Bank account\n"  # a label the main table lacks
        "card declined abroad,Credit card\n"
    )
    second = tmp_path / "second.csv"  # one class only: fine for a training-only table
    second.write_text(
        "narrative,product\nescrow shortage on  my mortgage,Mortgage\nrefinance fees,Mortgage\n"
    )
    names = {"Payday loan": "loan", "Mortgage": "mortgage", "Credit card": "card"}
    sources = [
        DataConfig(path=str(first), text="narrative", label="product", label_names=names),
        DataConfig(path=str(second), text="narrative", label="product", label_names=names),
    ]
    with caplog.at_level(logging.WARNING):
        extras = load_extra(sources, _main())
    assert [e.texts for e in extras] == [
        ["escrow shortage on my mortgage", "card declined abroad"],
        ["refinance fees"],  # the first table had the other one already
    ]
    assert [e.labels for e in extras] == [["mortgage", "card"], ["mortgage"]]
    assert [e.lineage.rows for e in extras] == [2, 1]
    assert "labels not in the main table: {'Bank account': 1}" in caplog.text


def test_each_fold_trains_on_its_rows_and_every_extra_row(monkeypatch):
    lexical_only = ["features.embeddings=false", "head.vote=null"]  # two classes, no embeddings here
    cfg = load_text_config("complaint_topic", overrides=["folds=3", "extra=[]", *lexical_only])
    texts = [f"{w} text {i}" for i in range(6) for w in ("card", "loan")]
    labels = np.array(["card", "loan"] * 6)
    extra_texts = np.array(["extra card", "extra loan"], dtype=object)
    extra = fit.TrainingOnly(extra_texts, np.array(["card", "loan"]), None)
    seen = []
    real_fit = fit.fit_classifier

    def spy(prepared, y, emb, cfg):
        seen.append(list(prepared))
        return real_fit(prepared, y, emb, cfg)

    monkeypatch.setattr(fit, "fit_classifier", spy)
    oof, classes, folds = fit.cross_validate(texts, labels, None, cfg, extra=extra)
    assert oof.shape == (12, 2) and folds == 3 and classes == ["card", "loan"]
    assert len(seen) == 3
    for trained in seen:
        assert trained[-2:] == ["extra card", "extra loan"] and len(trained) == 8 + 2
    held_out = [set(texts) - set(trained) for trained in seen]
    assert set().union(*held_out) == set(texts)  # every main row is scored once; no extra row is


def test_configs_ship_no_extra_table_and_sample_mode_drops_one(tmp_path):
    assert all(load_text_config(t).extra == [] for t in ("complaint", "complaint_topic", "intent"))
    extra = tmp_path / "extra.csv"
    extra.write_text("text,topic\nhello,claims\n")
    cfg = load_text_config("complaint_topic", overrides=[f"extra=[{{path: {extra}, label: topic}}]"])
    assert cfg.extra[0].path == str(extra) and cfg.extra[0].label == "topic"
    sample = load_text_config("complaint_topic", sample=True, overrides=[f"extra=[{{path: {extra}}}]"])
    assert sample.extra == []
    with pytest.raises(ValueError, match="extra"):
        load_text_config("complaint_topic", overrides=["extra=3"])
