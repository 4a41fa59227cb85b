"""Text-model metrics from out-of-fold predictions: macro-F1, accuracy, per-class report, plots."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score


def text_metrics(y: np.ndarray, p: np.ndarray, classes: list[str], positive: str | None) -> dict:
    pred = np.asarray(classes)[p.argmax(axis=1)]
    out = {
        "macro_f1": float(f1_score(y, pred, average="macro")),
        "accuracy": float(accuracy_score(y, pred)),
        "weighted_f1": float(f1_score(y, pred, average="weighted")),
    }
    if positive is not None:
        from sklearn.metrics import roc_auc_score

        out["roc_auc"] = float(roc_auc_score(y == positive, p[:, classes.index(positive)]))
    return out


def report(y: np.ndarray, p: np.ndarray, classes: list[str]) -> dict:
    pred = np.asarray(classes)[p.argmax(axis=1)]
    return classification_report(y, pred, labels=classes, output_dict=True, zero_division=0)


def confusion_plot(y: np.ndarray, p: np.ndarray, classes: list[str]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pred = np.asarray(classes)[p.argmax(axis=1)]
    cm = confusion_matrix(y, pred, labels=classes, normalize="true")
    size = max(5.0, 0.16 * len(classes) + 3)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(cm, cmap="Blues", vmin=0, vmax=1)
    ticks = range(len(classes))
    short = [c if len(c) <= 28 else c[:26] + "…" for c in classes]
    fontsize = 9 if len(classes) <= 12 else 5
    ax.set_xticks(ticks, short, rotation=90, fontsize=fontsize)
    ax.set_yticks(ticks, short, fontsize=fontsize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (out-of-fold, row-normalised)")
    if len(classes) <= 12:
        for i in ticks:
            for j in ticks:
                ax.text(j, i, f"{cm[i, j]:.2f}", ha="center", va="center", fontsize=8)
    fig.tight_layout()
    return fig
