"""`ccrisk monitor run`: every served family's statistics over a window of served traffic, each
against its threshold in `monitoring:` (mlflow.yaml).

- claims (per line): feature drift and score PSI (ccrisk/ops/monitor.py), and each band's served
  share against the share the champion gives its training reference (the alert rate per band);
- text (per task): message length PSI, the share of messages not in English (py3langid), how well
  a classifier tells served from training embeddings (ROC-AUC of a cross-validated logistic
  regression; 0.5 means no drift), the share of unsure answers, and the predicted-class mix PSI;
- KB: the no-confident-answer rate, the share of agents' feedback marked helpful, and question
  length PSI against the window before.

A statistic over fewer than `monitoring.min_rows` rows is shown but not judged. The run writes an
HTML report with plots and `statistics.json` (the server's Prometheus gauges read it) under
`<state>/monitoring/`, logs both to MLflow, and posts the alerts to `monitoring.alert_webhook`.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ccrisk.ops.monitor import categorical_psi, claims_reference, drift_report, psi
from features.ops.outcomes import PredictionLog
from features.ops.stores import kb_feedback, kb_search, open_database
from features.settings import Settings

logger = logging.getLogger(__name__)
TEXT_REFERENCE = "monitor_reference/text.json"
STATISTICS = "statistics.json"
SAMPLE = 500  # texts embedded per side for the embedding-drift classifier


@dataclass
class Statistic:
    model: str
    name: str
    value: float | None
    threshold: float | None = None
    direction: str = "above"  # above: crossed when value > threshold; below: when value < threshold
    rows: int = 0
    note: str = ""
    judged: bool = True  # False: too few rows to judge

    @property
    def crossed(self) -> bool:
        if not self.judged or self.value is None or self.threshold is None or not np.isfinite(self.value):
            return False
        return self.value > self.threshold if self.direction == "above" else self.value < self.threshold


@dataclass
class Watch:
    statistics: list[Statistic] = field(default_factory=list)
    plots: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # title -> series to draw

    def add(self, stat: Statistic, min_rows: int) -> None:
        stat.judged = stat.rows >= min_rows
        self.statistics.append(stat)

    @property
    def alerts(self) -> list[Statistic]:
        return [s for s in self.statistics if s.crossed]


def watch_all(settings: Settings, window_s: float) -> Watch:
    """Every served family's statistics; a family without a champion or traffic says so."""
    watch = Watch()
    for family, model in settings.models.items():
        name = model.registered_name
        try:
            {"claims": _claims, "text": _text, "kb": _kb}[model.kind](settings, family, window_s, watch)
        except ValueError as exc:  # no champion, no reference, no traffic: shown, not an alert
            watch.add(Statistic(name, "rows", 0.0, note=str(exc)), settings.monitoring.min_rows)
        except Exception as exc:  # one family failing must not hide the others' statistics
            logger.exception("monitoring %s failed", name)
            watch.add(Statistic(name, "failed", None, note=f"{type(exc).__name__}: {exc}"), 0)
    return watch


def _claims(settings: Settings, family: str, window_s: float, watch: Watch) -> None:
    import mlflow

    mon, name = settings.monitoring, settings.model(family).registered_name
    loaded = claims_reference(settings, name)  # downloaded once, for the drift tests and the bands
    summary = drift_report(settings, name, window_s, loaded)
    rows = summary["rows"]
    watch.add(Statistic(name, "score_psi", summary["score_psi"], mon.psi_threshold, rows=rows), mon.min_rows)
    share = summary["drifted_feature_share"]
    watch.add(
        Statistic(name, "drifted_feature_share", share, mon.feature_drift_share, rows=rows), mon.min_rows
    )
    reference = loaded[0]
    scorer = mlflow.pyfunc.load_model(f"models:/{name}@{settings.aliases.champion}").unwrap_python_model()
    lob = scorer.bands.column
    trained = scorer.bands.assign(
        reference["score"].to_numpy(float), reference[lob].tolist() if lob else None
    )
    served = PredictionLog(settings.stores_url).frame(name, time.time() - window_s, with_inputs=False)
    for band in ("low", "medium", "high"):
        now, then = float((served["band"] == band).mean()), float(np.mean(np.asarray(trained) == band))
        stat = Statistic(name, f"band_{band}_share_change", abs(now - then), mon.band_share_change, rows=rows,
                         note=f"served {now:.3f}, training reference {then:.3f}")  # fmt: skip
        watch.add(stat, mon.min_rows)
    watch.plots[f"{name}: fraud probability"] = {
        "training reference": reference["score"].to_numpy(float), "served": served["score"].to_numpy(float)
    }  # fmt: skip


def _text(settings: Settings, family: str, window_s: float, watch: Watch) -> None:
    import mlflow

    from features.registry import alias_version

    mon, name = settings.monitoring, settings.model(family).registered_name
    mv = alias_version(name, settings.aliases.champion)
    if mv is None:
        raise ValueError(f"no {name}@{settings.aliases.champion}")
    try:
        ref = json.loads(mlflow.artifacts.load_text(f"runs:/{mv.run_id}/{TEXT_REFERENCE}"))
    except Exception as exc:
        raise ValueError(f"{name} v{mv.version} has no {TEXT_REFERENCE}: re-train it to watch it") from exc
    served = PredictionLog(settings.stores_url).frame(name, time.time() - window_s)
    if served.empty:
        raise ValueError(f"no served predictions of {name} in the window")
    texts = [json.loads(i).get("text", "") for i in served["inputs"]]
    n, lengths = len(texts), np.asarray([len(t.split()) for t in texts], float)
    add = lambda stat, value, threshold, note="": watch.add(  # noqa: E731
        Statistic(name, stat, value, threshold, rows=n, note=note), mon.min_rows
    )
    add("length_psi", psi(np.asarray(ref["lengths"], float), lengths), mon.length_psi)
    share, note = _other_language(texts)
    add("other_language_share", share, mon.other_language_share, note)
    score = served["score"].to_numpy(float)
    positive = ref.get("positive")
    confidence = np.maximum(score, 1 - score) if positive else score
    add("low_confidence_share", float(np.mean(confidence < mon.low_confidence)), mon.low_confidence_share)
    predicted = _served_classes(served, ref)
    add(
        "class_mix_psi",
        categorical_psi(pd.Series(ref["predicted"]), pd.Series(predicted))[0],
        mon.class_mix_psi,
    )
    model = mlflow.pyfunc.load_model(f"models:/{name}@{settings.aliases.champion}").unwrap_python_model()
    auc, note = _embedding_drift(model, ref["texts"], texts)
    add("embedding_drift_auc", auc, mon.embedding_drift_auc, note)
    watch.plots[f"{name}: message length (words)"] = {
        "training": np.asarray(ref["lengths"], float),
        "served": lengths,
    }


def _other_language(texts: list[str]) -> tuple[float | None, str]:
    import py3langid

    judged = [t for t in texts if len(t.split()) >= 4]  # shorter messages are too short to tell
    if not judged:
        return None, "no message of 4 words or more"
    other = sum(py3langid.classify(t)[0] != "en" for t in judged)
    return other / len(judged), f"{other} of {len(judged)} messages of 4+ words"


def _served_classes(served: pd.DataFrame, ref: dict) -> list[str]:
    """The predicted class of each served row; a binary task logs its band, so its class is read
    from the positive-class probability."""
    positive = ref.get("positive")
    if not positive:
        return served["label"].astype(str).tolist()
    negative = next(c for c in ref["classes"] if c != positive)
    return [positive if s >= 0.5 else negative for s in served["score"]]


def _embedding_drift(model, reference: list[str], served: list[str]) -> tuple[float | None, str]:
    """ROC-AUC of a 5-fold logistic regression telling served from training embeddings."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    rng = np.random.default_rng(0)
    size = min(SAMPLE, len(served), len(reference))  # as many of each: an AUC near 0.5 means no drift
    served = [served[i] for i in rng.permutation(len(served))[:size]]
    reference = [reference[i] for i in rng.permutation(len(reference))[:size]]
    if model.encoder_ref is None or size < 10:
        return None, "no sentence encoder in this model, or fewer than 10 texts a side"
    x = np.vstack([model.embed(model.prepare(reference)), model.embed(model.prepare(served))])
    y = np.r_[np.zeros(len(reference)), np.ones(len(served))]
    p = cross_val_predict(LogisticRegression(max_iter=1000, C=0.1), x, y, cv=5, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p)), f"{len(reference)} training and {len(served)} served texts"


def _kb(settings: Settings, family: str, window_s: float, watch: Watch) -> None:
    mon, name = settings.monitoring, settings.model(family).registered_name
    now = time.time()
    with open_database(settings.stores_url).engine.connect() as conn:
        searches = conn.execute(
            sa.select(kb_search.c.ts, kb_search.c.query_masked, kb_search.c.confident).where(
                kb_search.c.ts >= now - 2 * window_s
            )
        ).all()
        verdicts = conn.execute(
            sa.select(kb_feedback.c.verdict).where(kb_feedback.c.ts >= now - window_s)
        ).all()
    recent = [s for s in searches if s.ts >= now - window_s]
    if not recent:
        raise ValueError(f"no KB searches in the window for {name}")
    judged = [s.confident for s in recent if s.confident is not None]
    no_answer = float(np.mean([not c for c in judged])) if judged else None
    watch.add(
        Statistic(name, "no_answer_rate", no_answer, mon.no_answer_rate, rows=len(judged)), mon.min_rows
    )
    helpful = float(np.mean([v.verdict == "helpful" for v in verdicts])) if verdicts else None
    stat = Statistic(name, "feedback_acceptance", helpful, mon.feedback_acceptance, "below", len(verdicts))
    watch.add(stat, mon.min_rows)
    before = np.asarray([len(s.query_masked.split()) for s in searches if s.ts < now - window_s], float)
    lengths = np.asarray([len(s.query_masked.split()) for s in recent], float)
    drift = psi(before, lengths) if len(before) else None
    stat = Statistic(name, "length_psi", drift, mon.length_psi, rows=min(len(before), len(recent)),
                     note="question length against the window before")  # fmt: skip
    watch.add(stat, mon.min_rows)


def record(settings: Settings, watch: Watch, window_s: float) -> dict:
    """statistics.json and the HTML report under <state>/monitoring/, both logged to MLflow."""
    import mlflow

    from ccrisk.ops.watch_report import html_report
    from training.registry import ensure_experiment

    folder = settings.monitoring_path
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    summary = {
        "generated_at": stamp,
        "window_s": window_s,
        "alerts": len(watch.alerts),
        "statistics": [{**asdict(s), "crossed": s.crossed} for s in watch.statistics],
    }
    report = folder / f"monitor-{stamp}.html"
    report.write_text(html_report(summary, watch.plots))
    summary["html"] = str(report)
    mlflow.set_experiment(experiment_id=ensure_experiment("ccrisk-monitoring", settings))
    with mlflow.start_run(run_name=f"monitor {stamp}") as run:
        metrics = {f"{s.model}.{s.name}": s.value for s in watch.statistics if s.value is not None}
        mlflow.log_metrics({k.replace("@", "_"): float(v) for k, v in metrics.items() if np.isfinite(v)})
        mlflow.log_metric("alerts", len(watch.alerts))
        mlflow.log_artifact(str(report), "report")
        mlflow.log_dict(summary, "statistics.json")
        summary["mlflow_run"] = run.info.run_id
    partial = folder / f".{STATISTICS}.tmp"
    partial.write_text(json.dumps(summary, indent=1))
    partial.replace(folder / STATISTICS)  # whole or not at all, for the server's gauges
    return summary


def post_alerts(url: str, summary: dict, alerts: list[Statistic]) -> None:
    """POST the alerts as JSON (`text` for chat hooks, `alerts` for machines); raises on failure."""
    import httpx

    lines = [f"{a.model} {a.name} = {a.value:.3f} ({a.direction} {a.threshold})" for a in alerts]
    body = {
        "text": f"ccrisk monitor: {len(alerts)} threshold(s) crossed\n" + "\n".join(lines),
        "alerts": [asdict(a) for a in alerts],
        "report": summary.get("html"),
        "mlflow_run": summary.get("mlflow_run"),
    }
    httpx.post(url, json=body, timeout=10).raise_for_status()
