"""Every registered version gets a model card: a `model_card.md` artifact of its run and the
version's registry description, with intended use, lineage, metrics with intervals, per-group
metrics and known limits."""

from __future__ import annotations

import re

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from features.settings import load_settings
from training.model_card import Metric, bootstrap, length_groups

INTERVAL = re.compile(r"\| (\w+) \| (\d\.\d{3}) \| \[(\d\.\d{3}), (\d\.\d{3})\] \|")


def _card(trained, name: str, result) -> tuple[str, str]:
    client = MlflowClient(tracking_uri=trained.env()["MLFLOW_TRACKING_URI"])
    description = client.get_model_version(name, result.version).description
    path = mlflow.artifacts.download_artifacts(
        run_id=result.run_id, artifact_path="model_card.md", tracking_uri=trained.env()["MLFLOW_TRACKING_URI"]
    )
    return description, open(path).read()


@pytest.mark.parametrize(
    ("name", "pick", "grouping", "gate_metric"),
    [
        ("ccrisk-fraud", lambda t: t.result, "protected column", "roc_auc"),
        ("ccrisk-fraud-health_claims", lambda t: t.health_result, "protected column", "roc_auc"),
        ("ccrisk-complaint", lambda t: t.text_results["complaint"], "message length", "macro_f1"),
        ("ccrisk-kb", lambda t: t.kb_result, "question length", "ndcg_at_10"),
    ],
)
def test_each_registered_version_has_a_card_in_its_run_and_the_registry(
    trained, name, pick, grouping, gate_metric
):
    result = pick(trained)
    description, card = _card(trained, name, result)
    assert description == card and card.startswith(f"# Model card: {name} v{result.version}")
    for section in ("## Intended use", "## Training data", "## Metrics", f"## Per group: {grouping}",
                    "## Gate", "## Known limits"):  # fmt: skip
        assert section in card, section
    rows = {m[0]: tuple(map(float, m[1:])) for m in INTERVAL.findall(card)}
    value, low, high = rows[gate_metric]
    assert low <= value <= high  # an interval around the measured value (a point where the sample is easy)
    assert "data.sha256" in card or "kb_version" in card
    assert "a demonstration only" in card or "questions only" in card  # trained on the project's samples


def test_the_fraud_card_shows_the_metric_the_run_logged(trained):
    _, card = _card(trained, "ccrisk-fraud", trained.result)
    logged = trained.result.metrics["roc_auc"]
    value, low, high = next(tuple(map(float, m[1:])) for m in INTERVAL.findall(card) if m[0] == "roc_auc")
    assert f"{logged:.3f}" == f"{value:.3f}" and low < value < high
    for warning in trained.result.fairness_warnings:  # this run's own limits
        assert warning in card


def test_the_card_text_comes_from_the_settings_when_given(trained):
    from training.model_card import INTENDED_USE

    settings = load_settings(trained.settings_path)
    assert settings.model("fraud").card.intended_use is None  # the kind's default applies
    _, card = _card(trained, "ccrisk-fraud", trained.result)
    assert INTENDED_USE["claims"] in card


def test_bootstrap_intervals_cover_the_value_and_narrow_with_more_rows():
    rng = np.random.default_rng(0)
    mean = lambda x: {"mean": float(x.mean())}  # noqa: E731
    small = bootstrap(mean, (rng.normal(size=50),), ["mean"])[0]
    large = bootstrap(mean, (rng.normal(size=5000),), ["mean"])[0]
    assert isinstance(small, Metric) and small.low < small.value < small.high
    assert (large.high - large.low) < (small.high - small.low) / 5


def test_length_groups_name_their_buckets():
    assert length_groups(np.array([3, 20, 59, 60, 500]), (20, 60)).tolist() == [
        "<20 words", "20-59 words", "20-59 words", ">=60 words", ">=60 words"
    ]  # fmt: skip
