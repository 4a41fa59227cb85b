"""A fitted scikit-learn `CalibratedClassifierCV(LinearSVC, method="sigmoid")` in compact form.

Training fits the head with scikit-learn; serving needs its `predict_proba` for one message in
well under a millisecond, and scikit-learn's per-call input checks (one per fold and class)
cost ~10 ms for 77 intents. `LinearSigmoidHead` keeps the fitted numbers (per fold: the SVM's
weights and each class's Platt sigmoid) and evaluates the same formula with one matrix product:
per fold, p_k = sigmoid(-(a_k * f_k + b_k)) for the one-vs-rest decision f_k, normalised over
classes (binary: p_1 and 1 - p_1), then averaged over folds. Unit tests check it equals
`predict_proba` of the scikit-learn object it came from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import expit


@dataclass
class LinearSigmoidHead:
    classes_: np.ndarray  # class labels, the column order of predict_proba
    weights: np.ndarray  # (n_features, folds * m) float32: every fold's decision weights side by side
    intercepts: np.ndarray  # (folds * m,)
    a: np.ndarray  # (folds * m,) Platt slope per decision column
    b: np.ndarray  # (folds * m,) Platt offset
    columns: np.ndarray  # (folds * m,) class index each decision column calibrates
    fold: np.ndarray  # (folds * m,) calibration fold each decision column belongs to

    @classmethod
    def from_calibrated(cls, cal) -> LinearSigmoidHead:
        if getattr(cal, "method", None) != "sigmoid":
            raise ValueError("only sigmoid-calibrated linear models can be compacted")
        classes = np.asarray(cal.classes_)
        binary = len(classes) == 2
        w, c, a, b, cols, fold = [], [], [], [], [], []
        for f, cc in enumerate(cal.calibrated_classifiers_):
            est = cc.estimator
            coef = np.atleast_2d(est.coef_)
            index = np.searchsorted(classes, est.classes_)
            targets = [1] if binary else index
            for row, (target, calibrator) in enumerate(zip(targets, cc.calibrators, strict=True)):
                w.append(coef[row])
                c.append(np.atleast_1d(est.intercept_)[row])
                a.append(calibrator.a_)
                b.append(calibrator.b_)
                cols.append(target)
                fold.append(f)
        return cls(
            classes_=classes,
            weights=np.ascontiguousarray(np.asarray(w, dtype=np.float32).T),
            intercepts=np.asarray(c, dtype=np.float64),
            a=np.asarray(a, dtype=np.float64),
            b=np.asarray(b, dtype=np.float64),
            columns=np.asarray(cols),
            fold=np.asarray(fold),
        )

    def predict_proba(self, x) -> np.ndarray:
        if not self.weights.flags.c_contiguous:  # sparse @ F-ordered dense copies it every call
            self.weights = np.ascontiguousarray(self.weights)
        decision = np.asarray(_as_dtype(x, self.weights.dtype) @ self.weights, dtype=np.float64)
        decision += self.intercepts
        calibrated = expit(-(self.a * decision + self.b))
        n, k = decision.shape[0], len(self.classes_)
        folds = int(self.fold.max()) + 1
        total = np.zeros((n, k))
        for f in range(folds):
            part = self.fold == f
            proba = np.zeros((n, k))
            proba[:, self.columns[part]] = calibrated[:, part]
            if k == 2:
                proba[:, 0] = 1.0 - proba[:, 1]
            else:
                s = proba.sum(axis=1, keepdims=True)
                proba = np.divide(proba, s, out=np.full_like(proba, 1 / k), where=s != 0)
            total += proba
        total /= folds
        total[(total > 1.0) & (total <= 1.0 + 1e-5)] = 1.0
        return total


def _as_dtype(x, dtype: np.dtype):
    """`x` in the weights' dtype: a float64 x against float32 weights makes scipy copy all the
    weights up to float64 on every call (~10 ms for the intent head). Rebuilding a CSR matrix
    from its arrays costs ~0.09 ms; `csr_matrix.astype` ~0.24 ms."""
    if x.dtype == dtype:
        return x
    if sp.issparse(x) and x.format == "csr":
        return type(x)((x.data.astype(dtype), x.indices, x.indptr), shape=x.shape)
    return x.astype(dtype)
