"""Per-group metrics for the protected attributes of a claim spec, on a run's test part.

For each protected column (numbers in quartile bands) and each group with enough claims: ROC-AUC
(when both classes occur), the alert rate (share of claims in the medium or high band) and the
precision of the high band. The lowest group alert rate over the highest is the alert-rate ratio;
below `fairness.min_alert_ratio` (0.8: the four-fifths rule) the run is flagged with a warning.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from features.claims.spec import ClaimSpec
from training.fraud.config import FairnessConfig

logger = logging.getLogger(__name__)
ALERT_BANDS = ("medium", "high")


@dataclass
class FairnessReport:
    groups: dict[str, list[dict]] = field(default_factory=dict)  # column -> one row per group
    ratios: dict[str, float] = field(default_factory=dict)  # column -> alert-rate ratio
    warnings: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float]:
        """Flat MLflow metrics: fairness_<column>_<group>_<metric> and fairness_<column>_alert_ratio."""
        out = {f"fairness_{_key(c)}_alert_ratio": r for c, r in self.ratios.items()}
        for col, rows in self.groups.items():
            for row in rows:
                for metric in ("auc", "alert_rate", "high_precision"):
                    if row[metric] is not None:
                        out[f"fairness_{_key(col)}_{_key(row['group'])}_{metric}"] = row[metric]
        return out


def _key(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(text))


def _groups(values: pl.Series, numeric: bool) -> list[str]:
    """Group labels: the value itself, or its quartile band for a number ('18-34')."""
    if not numeric:
        return [None if v is None else str(v) for v in values.cast(pl.Utf8).to_list()]
    x = values.cast(pl.Float64, strict=False).to_numpy()
    edges = np.unique(np.nanquantile(x, [0, 0.25, 0.5, 0.75, 1])) if np.isfinite(x).any() else []
    out = []
    for v in x:
        if not np.isfinite(v):
            out.append(None)
            continue
        i = min(int(np.searchsorted(edges, v, side="right")) - 1, len(edges) - 2)
        out.append(f"{edges[max(i, 0)]:g}-{edges[max(i, 0) + 1]:g}")
    return out


def protected_groups(
    test: pl.DataFrame, y: np.ndarray, p: np.ndarray, bands: list[str], spec: ClaimSpec, cfg: FairnessConfig
) -> FairnessReport:
    report = FairnessReport()
    band = np.array(bands)
    for col in spec.protected_columns:
        if col not in test.columns:
            continue
        labels = np.array(_groups(test.get_column(col), spec.columns[col].is_numeric), dtype=object)
        rows = []
        for group in sorted({g for g in labels if g is not None}):
            mask = labels == group
            if mask.sum() < cfg.min_group_rows:
                continue
            high = mask & (band == "high")
            auc = float(roc_auc_score(y[mask], p[mask])) if len(set(y[mask])) == 2 else None
            rows.append({
                "group": group, "claims": int(mask.sum()), "auc": auc,
                "alert_rate": float(np.isin(band[mask], ALERT_BANDS).mean()),
                "high_precision": float(y[high].mean()) if high.any() else None,
            })  # fmt: skip
        report.groups[col] = rows
        rates = [r["alert_rate"] for r in rows]
        if len(rates) >= 2 and max(rates) > 0:
            ratio = min(rates) / max(rates)
            report.ratios[col] = ratio
            if ratio < cfg.min_alert_ratio:
                message = (
                    f"{col}: alert rates differ between groups (lowest/highest {ratio:.2f} < "
                    f"{cfg.min_alert_ratio}); review this model before promoting it"
                )
                report.warnings.append(message)
                logger.warning("fairness: %s", message)
    return report
