"""Which sentence-transformers folders the ONNX exporter accepts, and its cache key."""

import json

import pytest

from features.contact import encoder, onnx_encoder


def fake_encoder(folder, pooling=None, modules=None):
    modules = modules or [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps(pooling or {"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False})
    )
    (folder / "tokenizer.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_mean_pooled_transformer_is_accepted(tmp_path):
    assert onnx_encoder.transformer_dir(fake_encoder(tmp_path)) == tmp_path


def test_mean_pooling_in_the_sentence_transformers_6_format_is_accepted(tmp_path):
    # what SentenceTransformer.save writes now (a fine-tuned KB or topic encoder)
    folder = fake_encoder(tmp_path, pooling={"embedding_dimension": 384, "pooling_mode": "mean"})
    assert onnx_encoder.transformer_dir(folder) == tmp_path


@pytest.mark.parametrize(
    ("config", "modes"),
    [
        ({"pooling_mode_mean_tokens": True, "pooling_mode_cls_token": False}, ["mean"]),
        ({"pooling_mode_cls_token": True, "pooling_mode_max_tokens": True}, ["cls", "max"]),
        ({"pooling_mode": "cls"}, ["cls"]),
        ({"pooling_mode": ["mean", "max"]}, ["max", "mean"]),
    ],
)
def test_pooling_modes_read_both_config_formats(config, modes):
    assert onnx_encoder.pooling_modes(config) == modes


@pytest.mark.parametrize("pooling", [{"pooling_mode": "cls"}, {"pooling_mode": ["mean", "max"]}])
def test_other_pooling_in_the_new_format_is_refused(tmp_path, pooling):
    with pytest.raises(onnx_encoder.UnsupportedEncoder, match="only mean pooling"):
        onnx_encoder.transformer_dir(fake_encoder(tmp_path, pooling=pooling))


def test_cls_pooling_is_refused(tmp_path):
    folder = fake_encoder(tmp_path, pooling={"pooling_mode_cls_token": True})
    with pytest.raises(onnx_encoder.UnsupportedEncoder, match="only mean pooling"):
        onnx_encoder.transformer_dir(folder)


def test_extra_modules_are_refused(tmp_path):
    modules = [
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"path": "2_Dense", "type": "sentence_transformers.models.Dense"},
    ]
    with pytest.raises(onnx_encoder.UnsupportedEncoder, match="Transformer → Pooling"):
        onnx_encoder.transformer_dir(fake_encoder(tmp_path, modules=modules))


def test_fingerprint_changes_with_the_weights(tmp_path):
    folder = fake_encoder(tmp_path)
    before = onnx_encoder.fingerprint(folder)
    assert onnx_encoder.fingerprint(folder) == before
    (folder / "model.safetensors").write_bytes(b"fine-tuned weights")
    assert onnx_encoder.fingerprint(folder) != before


def test_cache_root_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CCRISK_ENCODER_CACHE", str(tmp_path / "c"))
    assert onnx_encoder.cache_root() == tmp_path / "c"
    monkeypatch.delenv("CCRISK_ENCODER_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert onnx_encoder.cache_root() == tmp_path / "x" / "ccrisk" / "encoders"


def test_unknown_backend_names_the_choices(monkeypatch):
    monkeypatch.setenv("CCRISK_ENCODER_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="use one of onnx, torch"):
        encoder.backend()
