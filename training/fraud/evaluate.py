"""Test-part metrics and plots for a fraud scorer."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import (
    PrecisionRecallDisplay,
    RocCurveDisplay,
    average_precision_score,
    brier_score_loss,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

RECALL_POINTS = (0.80, 0.90, 0.95)
TOP_SHARES = (0.05, 0.10)


def precision_at_recall(y: np.ndarray, p: np.ndarray, recall: float) -> float:
    """Best precision among thresholds whose recall is at least `recall`."""
    precision, rec, _ = precision_recall_curve(y, p)
    return float(precision[rec >= recall].max())


def recall_at_top(y: np.ndarray, p: np.ndarray, share: float) -> float:
    """Share of all frauds caught when investigators review the top `share` of claims."""
    k = max(1, round(share * len(p)))
    top = np.argsort(-p, kind="stable")[:k]
    return float(y[top].sum() / max(y.sum(), 1))


def fraud_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    metrics = {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "log_loss": float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6))),
        "positive_rate": float(y.mean()),
        "mean_probability": float(p.mean()),
    }
    for r in RECALL_POINTS:
        metrics[f"precision_at_recall_{int(r * 100)}"] = precision_at_recall(y, p, r)
    for s in TOP_SHARES:
        metrics[f"recall_at_top_{int(s * 100)}pct"] = recall_at_top(y, p, s)
    return metrics


def band_table(y: np.ndarray, bands: list[str]) -> dict[str, float]:
    """Per band: share of claims and fraud rate (the hit rate investigators would see)."""
    out = {}
    b = np.array(bands)
    for band in ("low", "medium", "high"):
        mask = b == band
        out[f"band_{band}_share"] = float(mask.mean())
        out[f"band_{band}_fraud_rate"] = float(y[mask].mean()) if mask.any() else 0.0
    return out


def plots(y: np.ndarray, p: np.ndarray, importance: dict[str, float]) -> dict[str, plt.Figure]:
    """ROC, PR, calibration and feature-importance figures (caller logs and closes them)."""
    figs = {}
    for name, draw in (
        ("roc.png", lambda ax: RocCurveDisplay.from_predictions(y, p, ax=ax)),
        ("pr.png", lambda ax: PrecisionRecallDisplay.from_predictions(y, p, ax=ax)),
        (
            "calibration.png",
            lambda ax: CalibrationDisplay.from_predictions(y, p, n_bins=10, strategy="quantile", ax=ax),
        ),
    ):
        fig, ax = plt.subplots(figsize=(5, 5))
        draw(ax)
        ax.set_title(name.removesuffix(".png").upper() + " (test part)")
        figs[name] = fig
    top = sorted(importance.items(), key=lambda kv: kv[1])[-20:]
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.barh([k for k, _ in top], [v for _, v in top])
    ax.set_title("Feature importance (gain, mean over fold models)")
    fig.tight_layout()
    figs["feature_importance.png"] = fig
    return figs
