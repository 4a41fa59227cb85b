"""`ccrisk train fraud`: load -> split -> fit (CV-bagged LightGBM) -> calibrate -> band ->
evaluate -> log to MLflow -> register -> gate -> alias."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import polars as pl
import yaml
from mlflow.models import ModelSignature, infer_signature
from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema
from mlflow.types.schema import AnyType
from rich.progress import Progress

from features.claims.lines import model_for_spec
from features.claims.rules import RuleBook, find_rules
from features.claims.scorer import FraudScorer
from features.claims.spec import SPEC_ARTIFACT, ClaimSpec, load_spec, spec_path
from features.claims.transform import categorical_indices, encode, learn_levels
from features.registry import GateDecision, decide
from features.settings import Settings
from training.data import Lineage
from training.fraud import evaluate, fairness, fit
from training.fraud.baseline import champion_baseline
from training.fraud.card import fraud_card
from training.fraud.config import FraudTrainConfig
from training.fraud.data import load_claims
from training.model_card import publish
from training.registry import apply_decision, ensure_experiment, log_and_register

logger = logging.getLogger(__name__)
# MLflow hints that do not apply: our signature types numbers as AnyType, and the dataset source
# is a local file path.
NOISY_WARNINGS = ("Hint: Inferred schema contains integer", "The specified dataset source can be")
PIP_REQUIREMENTS = ["lightgbm", "scikit-learn"]  # besides training.registry.BASE_REQUIREMENTS


@dataclass
class TrainResult:
    run_id: str
    version: str
    metrics: dict[str, float]
    decision: GateDecision
    seconds: float
    registered_name: str
    fairness_warnings: list[str]


def fit_scorer(
    frame: pl.DataFrame, spec: ClaimSpec, cfg: FraudTrainConfig, progress: Progress
) -> tuple[FraudScorer, dict]:
    """Fit boosters on the training rows, the calibrator and bands on their out-of-fold scores;
    `top_levels` columns get their levels from these rows (the scorer keeps that spec)."""
    spec = learn_levels(frame, spec)
    x, y = encode(frame, spec), frame.get_column(spec.target).to_numpy()
    cat_idx = categorical_indices(spec)
    overrides: dict = {}
    if cfg.tuning.trials:
        progress.console.log(f"Optuna: up to {cfg.tuning.trials} trials, {cfg.tuning.timeout_s:.0f}s")
        overrides = fit.tune(x, y, cat_idx, cfg)
    task = progress.add_task("fitting fold models", total=cfg.folds)
    params = fit.lgb_params(cfg, y, overrides)
    ens = fit.fit_cv_ensemble(x, y, cat_idx, params, cfg, on_fold=lambda *_: progress.advance(task))
    calibrator = fit.fit_calibrator(ens.oof_raw, y, cfg.calibration)
    lob_col = spec.line_of_business
    lob = frame.get_column(lob_col).to_numpy() if lob_col else None
    bands = fit.fit_bands(calibrator(ens.oof_raw), lob, lob_col, cfg.bands)
    rules = RuleBook(find_rules(cfg.spec, spec.name, Path(cfg.rules) if cfg.rules else None), spec)
    boosters = [fit.refit_full(x, y, cat_idx, params, ens)] if cfg.ensemble == "refit" else ens.boosters
    importance = np.mean([b.feature_importance("gain") for b in boosters], axis=0)
    scorer = FraudScorer(
        spec,
        [b.model_to_string(num_iteration=b.best_iteration) for b in boosters],
        calibrator,
        bands,
        rules.version,
        {
            "feature_importance": dict(zip(spec.feature_names, importance.round(3).tolist(), strict=True)),
            "best_iterations": ens.best_iterations,
            "tuned_params": overrides,
        },
    )
    cv = {"cv_auc_mean": float(np.mean(ens.fold_auc)), "cv_auc_std": float(np.std(ens.fold_auc))}
    return scorer, cv


def input_schema(spec: ClaimSpec, example: pd.DataFrame) -> Schema:
    """Raw-claim input schema: numeric columns take ints or floats (AnyType: MLflow refuses
    int64 -> double, and NaN-holding floats -> long), text columns are strings, and the
    identifier and the columns scoring does not read (free text, ids) are optional."""
    cols = []
    for name in example.columns:
        cs = spec.columns.get(name)
        numeric = cs is None or not cs.is_categorical or all(isinstance(v, int) for v in cs.levels)
        required = name in spec.needed_columns  # features, and the dates derived ones read
        cols.append(ColSpec(AnyType() if numeric else "string", name, required=required))
    return Schema(cols)


def raw_example(frame: pl.DataFrame, spec: ClaimSpec, n: int = 5) -> pd.DataFrame:
    keep = [
        c for c in ([spec.identifier] if spec.identifier else []) + list(spec.columns) if c in frame.columns
    ]
    return frame.select(keep).head(n).to_pandas()


def log_model(scorer: FraudScorer, test: pl.DataFrame, spec: ClaimSpec, name: str) -> str:
    example = raw_example(test, spec)
    output = scorer.predict(None, example)
    signature = ModelSignature(
        inputs=input_schema(spec, example),
        outputs=infer_signature(output).inputs,
        params=ParamSchema(
            [
                ParamSpec("reason_count", "long", 3),
                ParamSpec("explain", "string", "all"),
                ParamSpec("capacity", "string", ""),
            ]
        ),
    )
    return log_and_register(scorer, signature, example, name, PIP_REQUIREMENTS)


def train_fraud(data: Path, cfg: FraudTrainConfig, settings: Settings, hold: bool = False) -> TrainResult:
    """Run the whole pipeline inside one MLflow run; returns the registered version and gate
    (`hold`: a passing version becomes challenger, training/registry.py `apply_decision`)."""
    start = time.monotonic()
    spec = load_spec(cfg.spec)
    family, model_cfg = model_for_spec(settings, spec.name)
    if family is None:
        hint = "add it under `models:` (kind: claims, spec: ...) to serve it"
        logger.warning(
            "no line in mlflow.yaml has spec %r: registering %s; %s",
            spec.name,
            model_cfg.registered_name,
            hint,
        )
    if cfg.rules is None and family is not None and settings.rules_file_of(family):
        cfg = cfg.model_copy(update={"rules": str(settings.rules_file_of(family))})
    frame, lineage = load_claims(data, spec)
    feedback_count = 0
    if cfg.with_feedback:
        frame, feedback_count = _with_feedback(frame, spec, settings, model_cfg.registered_name)
    train_idx, test_idx = fit.split_indices(frame, spec, cfg)
    train, test = frame[train_idx], frame[test_idx]
    mlflow.set_experiment(experiment_id=ensure_experiment(model_cfg.experiment, settings))
    with Progress() as progress, mlflow.start_run() as run, warnings.catch_warnings():
        for noise in NOISY_WARNINGS:
            warnings.filterwarnings("ignore", message=noise)
        _log_inputs(cfg, spec, lineage, frame, train, test)
        mlflow.log_param("rows.feedback", feedback_count)
        scorer, cv = fit_scorer(train, spec, cfg, progress)
        _log_spec(scorer.spec, cfg)
        p, bands = scorer.score(test)
        _log_reference(test, p, spec, settings.monitoring.reference_rows, cfg.seed)
        y = test.get_column(spec.target).to_numpy()
        metrics = {**evaluate.fraud_metrics(y, p), **evaluate.band_table(y, bands), **cv}
        mlflow.log_metrics({f"test_{k}" if not k.startswith("cv_") else k: v for k, v in metrics.items()})
        fair = _log_fairness(test, y, p, bands, scorer.spec, cfg)
        _log_plots(y, p, scorer.metadata["feature_importance"])
        baseline = champion_baseline(model_cfg, settings.aliases.champion, test, spec, lineage, cfg)
        version = log_model(scorer, test, spec, model_cfg.registered_name)
        decision = decide(model_cfg.gate, metrics[model_cfg.gate.metric], baseline)
        decision = apply_decision(model_cfg.registered_name, version, decision, settings, hold)
        card = fraud_card(
            model_cfg.registered_name,
            version,
            run.info.run_id,
            lineage,
            scorer.spec,
            y,
            p,
            fair,
            decision,
            cfg.seed,
        )
        publish(card, settings)
        seconds = time.monotonic() - start
        mlflow.log_metric("train_seconds", seconds)
        mlflow.set_tags({"gate.decision": decision.alias, "gate.reason": decision.reason})
    return TrainResult(
        run.info.run_id, version, metrics, decision, seconds, model_cfg.registered_name, fair.warnings
    )


def _log_inputs(
    cfg: FraudTrainConfig,
    spec: ClaimSpec,
    lineage: Lineage,
    frame: pl.DataFrame,
    train: pl.DataFrame,
    test: pl.DataFrame,
) -> None:
    mlflow.log_params(
        {
            **lineage.as_params(),
            "spec.name": spec.name,
            "spec.version": spec.version,
            "spec.fingerprint": spec.fingerprint(),
            "rows.train": train.height,
            "rows.test": test.height,
            "split.method": cfg.split.method,
        }
    )
    mlflow.log_params(_flatten(cfg.model_dump(mode="json"), "cfg"))
    mlflow.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/fraud.yaml")
    mlflow.log_artifact(str(spec_path(cfg.spec)), "config")
    dataset = mlflow.data.from_pandas(
        frame.to_pandas(), source=lineage.path, name=Path(lineage.path).name, digest=lineage.sha256[:20]
    )
    mlflow.log_input(dataset, context="training")


def _log_fairness(test, y, p, bands, spec: ClaimSpec, cfg: FraudTrainConfig) -> fairness.FairnessReport:
    """Per-group metrics of the protected columns (training/fraud/fairness.py), as metrics, a JSON
    artifact and, when the alert rates of groups differ too much, a `fairness.warning` tag."""
    report = fairness.protected_groups(test, y, p, bands, spec, cfg.fairness)
    if report.groups:
        mlflow.log_metrics(report.metrics())
        mlflow.log_dict(
            {"groups": report.groups, "alert_ratios": report.ratios}, "fairness/protected_groups.json"
        )
    if report.warnings:
        mlflow.set_tag("fairness.warning", " | ".join(report.warnings))
    return report


def _log_spec(spec: ClaimSpec, cfg: FraudTrainConfig) -> None:
    """The spec as the model uses it (learned levels included) and the rules it was trained beside:
    what monitoring, reports and notebooks read, wherever the files were."""
    mlflow.log_text(yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False), SPEC_ARTIFACT)
    rules = find_rules(cfg.spec, spec.name, Path(cfg.rules) if cfg.rules else None)
    if rules is not None:
        mlflow.log_artifact(str(rules), "config")


def _with_feedback(
    frame: pl.DataFrame, spec: ClaimSpec, settings: Settings, name: str
) -> tuple[pl.DataFrame, int]:
    """Append served claims with a confirmed/legitimate outcome, cast to the file's column types."""
    from training.fraud.data import feedback_rows

    extra = feedback_rows(settings, spec, name)
    if extra.is_empty():
        logger.warning("--with-feedback: no served claim has a confirmed/legitimate outcome yet")
        return frame, 0
    cols = [c for c in frame.columns if c in extra.columns]
    extra = extra.select([pl.col(c).cast(frame.schema[c], strict=False) for c in cols])
    return pl.concat([frame, extra], how="diagonal"), extra.height


def _log_reference(test: pl.DataFrame, p: np.ndarray, spec: ClaimSpec, rows: int, seed: int) -> None:
    """Held-out claims (features + calibrated score): the reference `ccrisk monitor drift` uses."""
    import tempfile

    ref = test.select([c for c in spec.feature_names if c in test.columns]).with_columns(score=pl.Series(p))
    ref = ref.sample(min(rows, ref.height), seed=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "reference.parquet"
        ref.write_parquet(path)
        mlflow.log_artifact(str(path), "drift_reference")


def _log_plots(y: np.ndarray, p: np.ndarray, importance: dict[str, float]) -> None:
    import matplotlib.pyplot as plt

    for name, fig in evaluate.plots(y, p, importance).items():
        mlflow.log_figure(fig, f"plots/{name}")
        plt.close(fig)


def _flatten(d: dict, prefix: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}"
        out.update(_flatten(v, key) if isinstance(v, dict) and v else {key: str(v)})
    return out
