"""The fraud artifact: preprocessing + boosters + calibrator + risk bands + reason texts + spec.

This is the one object that crosses from training to serving. Training fits it and logs it to
MLflow as a pyfunc; serving (and anyone else) loads it with
``mlflow.pyfunc.load_model("models:/ccrisk-fraud@champion")``. `predict` takes raw claim rows.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import lightgbm as lgb
import mlflow.pyfunc
import numpy as np
import pandas as pd
import polars as pl
from scipy.special import expit

from features.claims.api import EXPLAIN_MODES
from features.claims.bands import ALL_LOB, BANDS, Bands  # noqa: F401  (models pickled before bands.py find it here)
from features.claims.rowpath import RowEncoder
from features.claims.spec import ClaimSpec
from features.claims.transform import ClaimEncoder, to_matrix, to_polars

logger = logging.getLogger(__name__)
SINGLE_THREAD_ROWS = 256  # below this, one LightGBM thread beats thread start-up costs


@dataclass
class Calibrator:
    """Maps the ensemble's raw log-odds to a probability (a fitted scikit-learn estimator)."""

    method: str
    estimator: Any

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.clip(self.estimator.predict(raw), 0.0, 1.0)
        coef = getattr(self.estimator, "coef_", None)
        if coef is not None and coef.shape == (1, 1):
            # LogisticRegression.predict_proba's own formula for one feature, without its
            # per-call input checks (about 1 ms, a tenth of a served claim's model time)
            return expit(raw * coef[0, 0] + self.estimator.intercept_[0])
        return self.estimator.predict_proba(raw.reshape(-1, 1))[:, 1]


@dataclass
class Reason:
    feature: str
    label: str
    value: str
    contribution: float
    text: str


@dataclass
class Assessment:
    probability: np.ndarray
    bands: list[str]
    reasons: list[list[Reason]]
    features: pl.DataFrame | None  # encoded features, derived ones included (None: assess_rows)
    extra: pl.DataFrame | None  # columns of the `extra` expressions (None: assess_rows)


@dataclass
class FraudScorer(mlflow.pyfunc.PythonModel):
    """Self-contained fraud model; see module docstring."""

    spec: ClaimSpec
    boosters: list[str]  # LightGBM model strings (portable across processes)
    calibrator: Calibrator
    bands: Bands
    rules_version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._models: list[lgb.Booster] | None = None
        self._encoder: ClaimEncoder | None = None
        self._row_encoder: RowEncoder | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_models"] = state["_encoder"] = state["_row_encoder"] = None  # rebuilt lazily
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update({"_models": None, "_encoder": None, "_row_encoder": None, **state})

    @property
    def encoder(self) -> ClaimEncoder:
        if self._encoder is None:
            self._encoder = ClaimEncoder(self.spec)
        return self._encoder

    @property
    def row_encoder(self) -> RowEncoder:
        if self._row_encoder is None:
            self._row_encoder = RowEncoder(self.spec)
        return self._row_encoder

    @property
    def models(self) -> list[lgb.Booster]:
        if self._models is None:
            self._models = [lgb.Booster(model_str=s) for s in self.boosters]
        return self._models

    def load_context(self, context: Any) -> None:
        _ = self.models, self.encoder, self.row_encoder  # build once, at load time, not on the first request

    def with_capacity(self, capacity: dict[str, Any]) -> FraudScorer:
        """This scorer (sharing its loaded boosters) with band cut-offs for other shares."""
        by_value = {
            k: (v.get("high_share"), v.get("medium_share")) for k, v in capacity.get("by_value", {}).items()
        }
        clone = object.__new__(FraudScorer)
        clone.__dict__.update(self.__dict__)
        clone.bands = self.bands.with_capacity(
            capacity.get("high_share"), capacity.get("medium_share"), by_value
        )
        return clone

    def raw_scores(self, x: np.ndarray) -> np.ndarray:
        threads = 1 if len(x) < SINGLE_THREAD_ROWS else 0
        scores = [m.predict(x, raw_score=True, num_threads=threads) for m in self.models]
        return _mean(scores)

    def score(self, frame: pl.DataFrame | pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        """Calibrated fraud probabilities and risk bands for raw claim rows."""
        df = to_polars(frame)
        return self._probability_and_band(df, self.encoder.matrix(df))

    def _probability_and_band(self, df: pl.DataFrame, x: np.ndarray) -> tuple[np.ndarray, list[str]]:
        probability = self.calibrator(self.raw_scores(x))
        lob_col = self.bands.column
        lob = df.get_column(lob_col).to_list() if lob_col and lob_col in df.columns else None
        return probability, self.bands.assign(probability, lob)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """TreeSHAP contributions in log-odds (LightGBM pred_contrib), averaged over boosters."""
        threads = 1 if len(x) < SINGLE_THREAD_ROWS else 0
        parts = [m.predict(x, pred_contrib=True, num_threads=threads) for m in self.models]
        return _mean(parts)[:, :-1]

    def assess(
        self,
        frame: pl.DataFrame | pd.DataFrame,
        k: int = 3,
        explain: str = "all",
        extra: Sequence[pl.Expr] = (),
    ) -> Assessment:
        """Probability, band and top-k reasons, encoding the rows once.

        `explain`: "all" claims get reasons, only "flagged" ones (medium/high band), or "none".
        TreeSHAP costs far more than scoring, so large batches can ask for fewer explanations.
        `extra`: more expressions on the raw rows (business rules), computed in the same pass.
        """
        _check_explain(explain)
        df = to_polars(frame)
        columns = self.encoder.features(df, extra).get_columns()
        n = len(self.spec.feature_names)
        features, extras = pl.DataFrame(columns[:n]), pl.DataFrame(columns[n:])
        x = to_matrix(features)
        lob_col = self.bands.column
        lob = df.get_column(lob_col).to_list() if lob_col and lob_col in df.columns else None

        def lookup(names: list[str], rows: np.ndarray) -> tuple[dict, dict]:
            f, d = (features, df) if len(rows) == len(x) else (features[rows], df[rows])
            raw = {c: d.get_column(c).to_list() for c in names if c in self.spec.columns}
            return {c: f.get_column(c).to_list() for c in names}, raw

        return Assessment(*self._judge(x, lob, k, explain, lookup), features, extras)

    def assess_rows(self, rows: list[dict[str, Any]], k: int = 3, explain: str = "all") -> Assessment:
        """`assess` for claims given as dicts of their spec columns, without Polars
        (features/claims/rowpath.py: the same values at a fraction of the cost for a few claims).
        Raises rowpath.NotPlain for a value that path does not reproduce; use `assess` then."""
        _check_explain(explain)
        enc = self.row_encoder
        x, values = enc.encode(rows)
        lob_col = self.bands.column
        lob = None
        if lob_col and lob_col in enc.columns:
            lob = [enc.columns[lob_col].frame_value(r.get(lob_col)) for r in rows]
        position = {c: j for j, c in enumerate(self.spec.feature_names)}

        def lookup(names: list[str], picked: np.ndarray) -> tuple[dict, dict]:
            encoded = {c: [values[i][position[c]] for i in picked] for c in names}
            raw = {
                c: [enc.columns[c].frame_value(rows[i][c]) for i in picked]
                for c in names
                if c in self.spec.columns
            }
            return encoded, raw

        return Assessment(*self._judge(x, lob, k, explain, lookup), None, None)

    def _judge(self, x: np.ndarray, lob: list[Any] | None, k: int, explain: str, lookup) -> tuple:
        """(probability, bands, reasons) from the feature matrix; `lookup(names, rows)` gives
        the encoded and raw values of those features for those rows, for the reason texts."""
        probability = self.calibrator(self.raw_scores(x))
        bands = self.bands.assign(probability, lob)
        reasons: list[list[Reason]] = [[] for _ in range(len(x))]
        rows = np.arange(len(x)) if explain != "flagged" else np.flatnonzero(np.array(bands) != "low")
        if explain != "none" and len(rows):
            contrib = self.contributions(x[rows])
            ranked = contrib
            silent = self._reasonless()
            if silent:  # protected attributes used as features are never given as reasons
                ranked = contrib.copy()
                ranked[:, silent] = -np.inf
            top = np.argsort(-ranked, axis=1, kind="stable")[:, :k]
            names = self.spec.feature_names
            encoded, raw = lookup(sorted({names[j] for j in np.unique(top)}), rows)
            for i, row_reasons in zip(rows, self._reasons(top, contrib, encoded, raw), strict=True):
                reasons[i] = row_reasons
        return probability, bands, reasons

    def _reasonless(self) -> list[int]:
        """Matrix positions of the features that are never reasons (`protected: no_reasons`)."""
        return [i for i, n in enumerate(self.spec.feature_names) if n in self.spec.columns
                and self.spec.columns[n].protected == "no_reasons"]  # fmt: skip

    def _reasons(self, top: np.ndarray, contrib: np.ndarray, encoded: dict, raw: dict) -> list[list[Reason]]:
        """Top-k features per row by contribution, strongest risk-raising first, in words."""
        names = self.spec.feature_names
        templates = {n: self.spec.reason_template(n) for n in encoded}
        out = []
        for i, row in enumerate(top):
            reasons = []
            for j in row:
                name = names[j]
                if name in self.spec.columns and self.spec.columns[name].protected:
                    continue  # fewer features than reasons asked for: a protected one came last
                enc = encoded[name][i]
                value = "unknown" if enc is None else str(raw[name][i]) if name in raw else f"{enc:g}"
                text = templates[name].format(value=value)
                reasons.append(
                    Reason(name, self.spec.label_of(name), value, round(float(contrib[i, j]), 6), text)
                )
            out.append(reasons)
        return out

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict | None = None):
        """pyfunc entry point: raw claim rows in, probability / band / top reasons out.

        params: reason_count (default 3); explain = all | flagged | none (default all); capacity =
        band shares as JSON, {"high_share", "medium_share", "by_value": {value: {...}}} (default: as
        trained; what batch scoring passes from the line's `capacity` setting)."""
        params = params or {}
        scorer = self.with_capacity(json.loads(params["capacity"])) if params.get("capacity") else self
        a = scorer.assess(model_input, int(params.get("reason_count", 3)), str(params.get("explain", "all")))
        reasons = ["; ".join(r.text for r in row) for row in a.reasons]
        return pd.DataFrame(
            {"fraud_probability": a.probability, "risk_band": a.bands, "top_reasons": reasons},
            index=model_input.index,
        )


def _check_explain(explain: str) -> None:
    if explain not in EXPLAIN_MODES:
        raise ValueError(f"explain must be one of {EXPLAIN_MODES}, not {explain!r}")


def _mean(arrays: list[np.ndarray]) -> np.ndarray:
    """The boosters' average; one booster's array as it is (np.mean of a single array costs
    ~20 us a call, a few percent of a served claim's Python time, for the same values)."""
    return arrays[0] if len(arrays) == 1 else np.mean(arrays, axis=0)
