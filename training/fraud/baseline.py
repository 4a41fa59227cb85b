"""The current champion's gate metric, measured so that the comparison is fair.

The champion is scored on the candidate's test rows when it cannot have trained on them: the
same data file split the same way (both held the rows out), or another data file. When the same
file was split differently, the champion trained on some of the candidate's test rows, so the
comparison falls back to the metric the champion logged on its own test part.
"""

from __future__ import annotations

import logging

import mlflow
import polars as pl
from mlflow import MlflowClient

from features.claims.spec import ClaimSpec
from features.registry import NO_CHAMPION, Baseline, alias_version
from features.settings import ModelSettings
from training.data import Lineage
from training.fraud import evaluate
from training.fraud.config import FraudTrainConfig

logger = logging.getLogger(__name__)
SPLIT_PARAMS = ("cfg.seed", "cfg.split.method", "cfg.split.test_size", "cfg.split.time_test_periods")


def split_params(cfg: FraudTrainConfig) -> dict[str, str]:
    """The logged params that decide which rows are held out (as `_log_inputs` writes them)."""
    s = cfg.split
    values = (cfg.seed, s.method, s.test_size, s.time_test_periods)
    return {k: str(v) for k, v in zip(SPLIT_PARAMS, values, strict=True)}


def champion_baseline(
    model: ModelSettings,
    alias: str,
    test: pl.DataFrame,
    spec: ClaimSpec,
    lineage: Lineage,
    cfg: FraudTrainConfig,
) -> Baseline:
    current = alias_version(model.registered_name, alias)
    if current is None:
        return NO_CHAMPION
    run = MlflowClient().get_run(current.run_id)
    metric = model.gate.metric
    same_data = run.data.params.get("data.sha256") == lineage.sha256
    same_split = all(run.data.params.get(k) == v for k, v in split_params(cfg).items())
    if same_data and not same_split:
        logged = run.data.metrics.get(f"test_{metric}")
        basis = f"(v{current.version}'s logged test part: it trained on some of these test rows)"
        return (
            Baseline(logged, basis)
            if logged is not None
            else Baseline(None, f"v{current.version} has no {metric}")
        )
    try:
        model_obj = mlflow.pyfunc.load_model(f"models:/{model.registered_name}@{alias}").unwrap_python_model()
        p, _ = model_obj.score(test)
    except Exception as exc:  # another spec or schema: the gate falls back to the minimum alone
        logger.warning("champion v%s cannot score these rows (%s)", current.version, exc)
        return Baseline(None, f"champion v{current.version} cannot score this table, not compared")
    y = test.get_column(spec.target).to_numpy()
    basis = (
        "on the same test rows" if same_data else "on this run's test rows (champion trained on other data)"
    )
    return Baseline(evaluate.fraud_metrics(y, p)[metric], basis)
