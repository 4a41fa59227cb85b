"""The gate on a real registry: a weaker model becomes challenger and leaves the champion alone."""

from mlflow import MlflowClient

from features.settings import load_settings
from tests.conftest import FAST_TRAINING, SAMPLE_CLAIMS
from training.config import default_config_path, load_config
from training.fraud.config import FraudTrainConfig
from training.fraud.pipeline import train_fraud

# min_child_samples above the fold size: no split is possible, every claim gets the same score.
NO_SPLITS = [*FAST_TRAINING, "lightgbm.min_child_samples=100000"]


def _train(settings, overrides):
    cfg = load_config(FraudTrainConfig, default_config_path("fraud"), overrides)
    return train_fraud(SAMPLE_CLAIMS, cfg, settings)


def test_model_below_the_minimum_is_challenger(trained):
    result = _train(load_settings(trained.settings_path), NO_SPLITS)
    assert result.decision.alias == "challenger"
    assert "below the gate minimum" in result.decision.reason


def test_model_worse_than_champion_is_challenger_and_champion_stays(trained):
    settings = load_settings(trained.settings_path)
    settings.models["fraud"].gate.minimum = 0.0  # so only the champion comparison can stop it
    client = MlflowClient()
    before = client.get_model_version_by_alias("ccrisk-fraud", "champion").version
    result = _train(settings, NO_SPLITS)
    assert result.decision.alias == "challenger", result.decision.reason
    assert "worse than the champion" in result.decision.reason
    assert client.get_model_version_by_alias("ccrisk-fraud", "champion").version == before
    challenger = client.get_model_version_by_alias("ccrisk-fraud", "challenger")
    assert str(challenger.version) == result.version
    assert challenger.tags["gate.decision"] == "challenger"


def test_same_data_other_split_compares_logged_metrics_not_seen_rows(trained):
    """The champion trained on part of a time split's test rows: scoring it there would flatter it."""
    result = _train(load_settings(trained.settings_path), [*FAST_TRAINING, "split.method=time"])
    MlflowClient().set_registered_model_alias("ccrisk-fraud", "champion", trained.result.version)  # restore
    assert "logged test part" in result.decision.reason
    assert result.decision.champion == trained.result.metrics["roc_auc"]
