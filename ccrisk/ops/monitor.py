"""Served traffic against what the model was trained on (hit rates: features/ops/hitrate.py).

- `drift_report`: served claim fields vs the champion's training reference, per feature with
  scipy's two-sample tests (Kolmogorov-Smirnov for numbers, chi-square for categories) and PSI;
  PSI of the served scores vs the reference scores. HTML + JSON, and the latest summary that
  `GET /v1/admin/monitoring` returns.
- `feedback_rows`: served claims with a confirmed/legitimate outcome, as labelled rows for
  `ccrisk train fraud --with-feedback`.
"""

from __future__ import annotations

import html
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from features.claims.spec import ClaimSpec
from features.ops.outcomes import PredictionLog
from features.settings import Settings

logger = logging.getLogger(__name__)
REFERENCE_ARTIFACT = "drift_reference/reference.parquet"
P_VALUE = 0.01  # feature drift when a two-sample test rejects "same distribution" at this level


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index over the reference's quantile bins (0.1 small, >0.25 large)."""
    reference, current = reference[~np.isnan(reference)], current[~np.isnan(current)]
    if len(reference) == 0 or len(current) == 0:
        return float("nan")
    edges = np.unique(np.quantile(reference, np.linspace(0, 1, bins + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    ref = np.histogram(reference, edges)[0] / len(reference)
    cur = np.histogram(current, edges)[0] / len(current)
    ref, cur = np.clip(ref, 1e-4, None), np.clip(cur, 1e-4, None)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def categorical_psi(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    levels = sorted(set(reference.astype(str)) | set(current.astype(str)))
    ref = reference.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
    cur = current.astype(str).value_counts().reindex(levels, fill_value=0).to_numpy()
    p_value = float(stats.chi2_contingency(np.vstack([ref, cur]) + 0.5)[1]) if len(levels) > 1 else 1.0
    r, c = np.clip(ref / ref.sum(), 1e-4, None), np.clip(cur / cur.sum(), 1e-4, None)
    return float(np.sum((c - r) * np.log(c / r))), p_value


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, spec: ClaimSpec) -> list[dict]:
    out = []
    for name in spec.feature_names:
        if name not in reference or name not in current:
            continue
        ref, cur = reference[name], current[name]
        if spec.columns[name].is_categorical:
            value, p_value = categorical_psi(ref, cur)
            test = "chi-square"
        else:
            r, c = pd.to_numeric(ref, errors="coerce"), pd.to_numeric(cur, errors="coerce")
            value, p_value = (
                psi(r.to_numpy(float), c.to_numpy(float)),
                float(stats.ks_2samp(r.dropna(), c.dropna())[1]),
            )
            test = "ks"
        out.append(
            {"feature": name, "test": test, "p_value": p_value, "psi": value, "drift": p_value < P_VALUE}
        )
    return out


def _champion_run(settings: Settings, model_name: str):
    from mlflow import MlflowClient

    from features.registry import alias_version

    alias = settings.aliases.champion
    mv = alias_version(model_name, alias)
    if mv is None:
        raise ValueError(f"model: no {model_name}@{alias} in {settings.resolved_tracking_uri()}")
    return mv, MlflowClient().get_run(mv.run_id)


def claims_reference(settings: Settings, model_name: str) -> tuple[pd.DataFrame, ClaimSpec, str]:
    """The champion's drift reference (held-out rows and scores), its logged spec and version."""
    import mlflow

    mv, run = _champion_run(settings, model_name)
    if "spec.name" not in run.data.params:
        raise ValueError(f"model: drift reports need claim fields; {model_name} is not a claims model")
    try:
        path = mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=REFERENCE_ARTIFACT)
    except Exception as exc:
        raise ValueError(
            f"{model_name} v{mv.version} has no {REFERENCE_ARTIFACT}; re-train it to log a drift reference"
        ) from exc
    return pd.read_parquet(path), logged_spec(mv.run_id, run.data.params["spec.name"]), str(mv.version)


def logged_spec(run_id: str, name: str) -> ClaimSpec:
    """The spec a fraud run logged with its model (wherever its file was); a run from before that
    artifact: the shipped spec of that name."""
    import mlflow
    import yaml

    from features.claims.spec import SPEC_ARTIFACT, load_spec

    try:
        text = mlflow.artifacts.load_text(f"runs:/{run_id}/{SPEC_ARTIFACT}")
    except Exception:  # an older run: no logged copy
        logger.warning("run %s has no %s; using the shipped spec %r", run_id, SPEC_ARTIFACT, name)
        return load_spec(name)
    return ClaimSpec.model_validate(yaml.safe_load(text))


def drift_report(
    settings: Settings, model_name: str, window_s: float, reference: tuple | None = None
) -> dict:
    """`reference`: `claims_reference`'s answer when the caller has it already."""
    reference, spec, version = reference or claims_reference(settings, model_name)
    served = PredictionLog(settings.stores_url).frame(model_name, time.time() - window_s)
    if served.empty:
        raise ValueError(f"no served predictions of {model_name} in the window; score some claims first")
    current = pd.DataFrame([json.loads(s) for s in served["inputs"]])
    features = feature_drift(reference, current, spec)
    score_psi = psi(reference["score"].to_numpy(float), served["score"].to_numpy(float))
    mon = settings.monitoring
    drifted = [f["feature"] for f in features if f["drift"]]
    flags = {
        f"feature {f['feature']}": f"{f['test']} p={f['p_value']:.2g}, PSI {f['psi']:.3f}"
        for f in features
        if f["drift"]
    }
    if score_psi > mon.psi_threshold:
        flags["score"] = f"PSI {score_psi:.3f} > {mon.psi_threshold}"
    share = len(drifted) / max(len(features), 1)
    summary = {
        "model": model_name,
        "champion_version": version,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "window_s": window_s,
        "rows": len(served),
        "reference_rows": len(reference),
        "score_psi": score_psi,
        "drifted_feature_share": share,
        "drift_detected": bool(score_psi > mon.psi_threshold or share >= mon.feature_drift_share),
        "flags": flags,
        "features": features,
    }
    return _write(settings.monitoring_path / model_name, summary)


def _write(folder: Path, summary: dict) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    summary["html"] = str(folder / f"drift-{stamp}.html")
    (folder / f"drift-{stamp}.json").write_text(json.dumps(summary, indent=1))
    (folder / "latest.json").write_text(json.dumps(summary, indent=1))
    rows = "".join(
        f"<tr{' class=drift' if f['drift'] else ''}><td>{html.escape(f['feature'])}</td><td>{f['test']}</td>"
        f"<td>{f['p_value']:.3g}</td><td>{f['psi']:.3f}</td><td>{'yes' if f['drift'] else ''}</td></tr>"
        for f in summary["features"]
    )
    Path(summary["html"]).write_text(
        f"<html><head><meta charset=utf-8><title>drift {html.escape(summary['model'])}</title>"
        "<style>td,th{padding:2px 8px}.drift{background:#fdd}</style></head><body>"
        f"<h1>Drift: {html.escape(summary['model'])} v{summary['champion_version']}</h1>"
        f"<p>{summary['rows']} served rows vs {summary['reference_rows']} reference rows; "
        f"score PSI {summary['score_psi']:.3f}; drift detected: {summary['drift_detected']}</p>"
        f"<table><tr><th>feature</th><th>test</th><th>p</th><th>PSI</th><th>drift</th></tr>{rows}</table>"
        "</body></html>"
    )
    return summary
