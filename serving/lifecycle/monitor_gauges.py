"""Prometheus gauges of the latest `ccrisk monitor run` (its `statistics.json`), on /metrics:
`ccrisk_monitor_statistic{model, statistic}` (the value) and `ccrisk_monitor_alert{model,
statistic}` (1 when its threshold is crossed). Each worker re-reads the file when it changes."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

logger = logging.getLogger(__name__)
INTERVAL_S = 5.0


class MonitorGauges:
    def __init__(self, path: Path):
        import bentoml

        labels = ["model", "statistic"]
        self.value = bentoml.metrics.Gauge(
            name="ccrisk_monitor_statistic", documentation="the latest `ccrisk monitor run` statistics",
            labelnames=labels, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.alert = bentoml.metrics.Gauge(
            name="ccrisk_monitor_alert", documentation="1 when the statistic crossed its threshold",
            labelnames=labels, multiprocess_mode="mostrecent",
        )  # fmt: skip
        self.path, self._seen = path, 0.0

    def refresh(self) -> bool:
        """Set the gauges from the file when it changed since the last look; whether it did."""
        try:
            changed = self.path.stat().st_mtime
        except FileNotFoundError:
            return False
        if changed == self._seen:
            return False
        try:
            summary = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):  # being written: the next look reads it whole
            return False
        for s in summary.get("statistics", []):
            if s.get("value") is not None:
                self.value.labels(model=s["model"], statistic=s["name"]).set(s["value"])
                self.alert.labels(model=s["model"], statistic=s["name"]).set(1 if s.get("crossed") else 0)
        self._seen = changed
        return True

    def start(self) -> None:
        def run() -> None:
            while True:
                try:
                    self.refresh()
                except Exception:  # the gauges must never take a worker down
                    logger.exception("monitoring gauges: %s could not be read", self.path)
                time.sleep(INTERVAL_S)

        threading.Thread(target=run, name="monitor-gauges", daemon=True).start()
