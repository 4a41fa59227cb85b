"""Alert hit rates: what investigators found per model version and risk band.

One computation behind `ccrisk report hit-rate`, champion/challenger comparisons and the claims
screen's panel (`GET /v1/ui/hit_rate`): served predictions (the prediction log, latest score per
claim) joined with investigators' latest outcome per claim.
"""

from __future__ import annotations

import math
import time
from typing import Any

import pandas as pd
from scipy import stats

from features.ops.outcomes import ClaimFeedbackStore, PredictionLog
from features.settings import Settings

ALERT_BANDS = ("medium", "high")


def wilson(k: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of k successes in n; NaN when n is 0."""
    if n == 0:
        return (float("nan"), float("nan"))
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return (float(ci.low), float(ci.high))


def hit_rates(preds: pd.DataFrame, feedback: pd.DataFrame) -> pd.DataFrame:
    """One row per (model version, band): scored claims, reviewed, confirmed, hit rate + 95 % CI."""
    if preds.empty:
        return pd.DataFrame()
    latest = preds.dropna(subset=["entity_id"]).drop_duplicates("entity_id", keep="last")
    joined = latest.merge(
        feedback[["claim_id", "outcome"]], how="left", left_on="entity_id", right_on="claim_id"
    )
    rows = []
    for (version, band), g in joined.groupby(["model_version", "band"], sort=True):
        confirmed = int((g["outcome"] == "confirmed_fraud").sum())
        legit = int((g["outcome"] == "legitimate").sum())
        lo, hi = wilson(confirmed, len(g))
        rows.append(
            {
                "model_version": version,
                "band": band,
                "alert": band in ALERT_BANDS,
                "scored": len(g),
                "reviewed": int(g["outcome"].notna().sum()),
                "confirmed": confirmed,
                "legitimate": legit,
                "hit_rate": confirmed / len(g),
                "ci_low": lo,
                "ci_high": hi,
                "hit_rate_reviewed": confirmed / (confirmed + legit) if confirmed + legit else float("nan"),
            }
        )
    return pd.DataFrame(rows)


class HitRates:
    """`hit_rates` over a store's prediction log and claims feedback, opened once (a service worker
    keeps one for its panel's calls; the CLI makes one per command)."""

    def __init__(self, settings: Settings):
        self.log = PredictionLog(settings.stores_url)
        self.feedback = ClaimFeedbackStore(settings.stores_url)

    def table(
        self, model: str, window_s: float | None = None, tenants: set[str] | None = None
    ) -> pd.DataFrame:
        """Predictions of `model` from the last `window_s` (all without), with the latest outcomes;
        only those `tenants` sent and recorded, when given."""
        since = time.time() - window_s if window_s else None
        preds = self.log.frame(model, since, with_inputs=False, tenants=tenants)
        return hit_rates(preds, self.feedback.latest(tenants))


def hit_rate_json(table: pd.DataFrame) -> dict[str, Any]:
    """The table as JSON-safe rows (NaN -> null), with each band's share of the version's claims."""
    if table.empty:
        return {"rows": []}
    table = table.assign(
        model_version=table["model_version"].astype(str),
        share=table["scored"] / table.groupby("model_version")["scored"].transform("sum"),
    )
    rows = []
    for row in table.to_dict("records"):
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
        rows.append({k: (v.item() if hasattr(v, "item") else v) for k, v in clean.items()})
    return {"rows": rows}
