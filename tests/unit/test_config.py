import pytest
from pydantic import ValidationError

from training.config import apply_overrides, default_config_path, load_config
from training.fraud.config import FraudTrainConfig


def test_shipped_config_loads():
    cfg = load_config(FraudTrainConfig, default_config_path("fraud"))
    assert cfg.spec == "vehicle_claims" and cfg.folds >= 2


def test_overrides_are_parsed_as_yaml():
    cfg = load_config(
        FraudTrainConfig,
        default_config_path("fraud"),
        ["lightgbm.num_leaves=7", "split.method=time", "bands.high_share=0.1"],
    )
    assert cfg.lightgbm["num_leaves"] == 7
    assert cfg.split.method == "time"
    assert cfg.bands.high_share == 0.1


def test_bad_override_syntax():
    with pytest.raises(ValueError, match=r"must look like key.path=value"):
        apply_overrides({}, ["folds"])


def test_unknown_key_is_named():
    with pytest.raises(ValidationError, match="fols"):
        load_config(FraudTrainConfig, default_config_path("fraud"), ["fols=3"])


def test_kb_encoder_tuning_comes_from_the_config_with_overrides():
    from training.kb.config import load_kb_config

    shipped = load_kb_config().tuning
    assert (shipped.epochs, shipped.lr, shipped.batch_size) == (5, 3e-5, 64)
    tuned = load_kb_config(None, ["tuning.epochs=2", "tuning.batch_size=16"]).tuning
    assert (tuned.epochs, tuned.batch_size) == (2, 16)
    with pytest.raises(ValidationError, match=r"tuning\.batch_size"):
        load_kb_config(None, ["tuning.batch_size=1"])
