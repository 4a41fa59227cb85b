import pytest
from pydantic import ValidationError

from training.config import FraudTrainConfig, apply_overrides, default_config_path, load_config


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
