"""Model fitting: data split, CV-bagged LightGBM, calibration, risk bands, optional Optuna search."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import lightgbm as lgb
import numpy as np
import polars as pl
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

from features.claims.bands import ALL_LOB, GRID, Bands, cutoffs_for
from features.claims.scorer import Calibrator
from features.claims.spec import ClaimSpec
from training.fraud.config import BandsConfig, FraudTrainConfig

logger = logging.getLogger(__name__)
BASE_PARAMS = {
    "objective": "binary",
    "metric": "auc",
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
}


@dataclass
class CVEnsemble:
    boosters: list[lgb.Booster]
    oof_raw: np.ndarray  # out-of-fold raw scores for every training row
    fold_auc: list[float]
    best_iterations: list[int]


def split_indices(
    frame: pl.DataFrame, spec: ClaimSpec, cfg: FraudTrainConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Train/test row indices: stratified on the target, or the latest periods as test."""
    y = frame.get_column(spec.target).to_numpy()
    rows = np.arange(frame.height)
    if cfg.split.method == "time":
        if not spec.time_column:
            raise ValueError("split.method=time needs `time_column` in the spec")
        t = frame.get_column(spec.time_column).to_numpy()
        test_periods = np.unique(t)[-cfg.split.time_test_periods :]
        test = np.isin(t, test_periods)
        if test.all() or not test.any():
            raise ValueError(f"time split left no training or no test rows (periods {test_periods})")
        return rows[~test], rows[test]
    train, test = train_test_split(rows, test_size=cfg.split.test_size, stratify=y, random_state=cfg.seed)
    return np.sort(train), np.sort(test)


def lgb_params(cfg: FraudTrainConfig, y: np.ndarray, overrides: dict[str, Any] | None = None) -> dict:
    params = {**BASE_PARAMS, "seed": cfg.seed, **cfg.lightgbm, **(overrides or {})}
    if cfg.imbalance == "balanced":
        params["scale_pos_weight"] = float((y == 0).sum() / max((y == 1).sum(), 1))
    return params


def fit_cv_ensemble(
    x: np.ndarray,
    y: np.ndarray,
    cat_idx: list[int],
    params: dict,
    cfg: FraudTrainConfig,
    on_fold: Callable[[int, float], None] | None = None,
) -> CVEnsemble:
    """One early-stopped booster per stratified fold; OOF raw scores for calibration. `on_fold`
    gets each fold's index and validation AUC as it ends (it may raise to stop the fit)."""
    folds = StratifiedKFold(cfg.folds, shuffle=True, random_state=cfg.seed)
    oof = np.zeros(len(y))
    boosters, aucs, iters = [], [], []
    for k, (tr, va) in enumerate(folds.split(x, y)):
        train = lgb.Dataset(x[tr], y[tr], categorical_feature=cat_idx, free_raw_data=False)
        valid = lgb.Dataset(x[va], y[va], reference=train)
        booster = lgb.train(
            params,
            train,
            num_boost_round=cfg.num_boost_round,
            valid_sets=[valid],
            callbacks=[lgb.early_stopping(cfg.early_stopping_rounds, verbose=False)],
        )
        oof[va] = booster.predict(x[va], raw_score=True, num_iteration=booster.best_iteration)
        aucs.append(float(roc_auc_score(y[va], oof[va])))
        iters.append(int(booster.best_iteration))
        booster.free_dataset()
        boosters.append(booster)
        if on_fold:
            on_fold(k, aucs[-1])
    return CVEnsemble(boosters, oof, aucs, iters)


def refit_full(
    x: np.ndarray, y: np.ndarray, cat_idx: list[int], params: dict, ensemble: CVEnsemble
) -> lgb.Booster:
    """One booster on all training rows, with the fold models' mean best iteration scaled up for
    the larger training set (k/(k-1)). One model instead of k: k times cheaper to score and to
    explain (TreeSHAP), at the same held-out AUC in our measurements."""
    k = len(ensemble.boosters)
    rounds = max(1, round(float(np.mean(ensemble.best_iterations)) * k / (k - 1)))
    train = lgb.Dataset(x, y, categorical_feature=cat_idx)
    return lgb.train(params, train, num_boost_round=rounds)


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str) -> Calibrator:
    """Fit on out-of-fold scores, i.e. on data each booster did not train on."""
    if method == "isotonic":
        est = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    else:
        est = LogisticRegression(C=1e6, max_iter=1000).fit(raw.reshape(-1, 1), y)
    return Calibrator(method, est)


def fit_bands(prob: np.ndarray, lob: np.ndarray | None, lob_column: str | None, cfg: BandsConfig) -> Bands:
    """Cut-offs so the top `high_share` (then `medium_share`) of claims per line of business are
    high (medium): the investigators' capacity, set from out-of-fold probabilities, whose quantiles
    the bands keep so that serving can set other shares (features/claims/bands.py)."""
    groups = {ALL_LOB: prob}
    if lob is not None:
        for value in np.unique(lob.astype(str)):
            mask = lob.astype(str) == value
            if mask.sum() >= cfg.min_group_rows:
                groups[value] = prob[mask]
    kept = {key: np.quantile(p, GRID).round(8) for key, p in groups.items()}
    table = {key: cutoffs_for(q, cfg.high_share, cfg.medium_share) for key, q in kept.items()}
    kept = {key: q.tolist() for key, q in kept.items()}
    return Bands(lob_column if lob is not None else None, table, kept, (cfg.high_share, cfg.medium_share))


def tune(x: np.ndarray, y: np.ndarray, cat_idx: list[int], cfg: FraudTrainConfig) -> dict[str, Any]:
    """Optuna search (TPE) on mean CV AUC within `tuning.timeout_s`; returns the best overrides.
    Each trial is an MLflow child run of the active run (its parameters, mean CV AUC, state); a
    median pruner stops a trial whose running fold AUC trails the median of earlier trials."""
    import mlflow
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    quick = cfg.model_copy(update={"folds": min(cfg.folds, 3)})

    def logged(trial: optuna.Trial) -> float:
        with mlflow.start_run(run_name=f"optuna trial {trial.number}", nested=True):
            try:
                value = objective(trial)
            except optuna.TrialPruned:  # its cv_auc: the mean over the folds it reached
                mlflow.log_params(trial.params)
                mlflow.log_metric("cv_auc", trial.user_attrs["running_auc"])
                mlflow.set_tag("optuna.state", "pruned")
                raise
            mlflow.log_params(trial.params)
            mlflow.log_metric("cv_auc", value)
            mlflow.set_tag("optuna.state", "complete")
            return value

    def objective(trial: optuna.Trial) -> float:
        overrides = {
            "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
            "num_leaves": trial.suggest_int("num_leaves", 4, 63, log=True),
            "min_child_samples": trial.suggest_int("min_child_samples", 5, 100, log=True),
            "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
            "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30, log=True),
            "cat_smooth": trial.suggest_float("cat_smooth", 1, 50, log=True),
        }
        aucs: list[float] = []

        def report(k: int, auc: float) -> None:
            aucs.append(auc)
            trial.set_user_attr("running_auc", float(np.mean(aucs)))
            trial.report(float(np.mean(aucs)), k)
            if trial.should_prune():
                raise optuna.TrialPruned(f"fold {k}: mean AUC {np.mean(aucs):.4f} under the median")

        ens = fit_cv_ensemble(x, y, cat_idx, lgb_params(cfg, y, overrides), quick, on_fold=report)
        return float(np.mean(ens.fold_auc))

    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0)
    sampler = optuna.samplers.TPESampler(seed=cfg.seed)
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    start = time.monotonic()
    study.optimize(logged, n_trials=cfg.tuning.trials, timeout=cfg.tuning.timeout_s)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    mlflow.log_metrics({"optuna_trials": len(study.trials), "optuna_pruned": pruned})
    logger.info(
        "Optuna: %d trials (%d pruned) in %.0fs, best CV AUC %.4f",
        len(study.trials),
        pruned,
        time.monotonic() - start,
        study.best_value,
    )
    return dict(study.best_params)
