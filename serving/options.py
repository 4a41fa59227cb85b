"""The `@bentoml.service` options the ccrisk service and the benchmark's floor
(benchmarks/floor_service.py) share, so the floor measures the framework as ccrisk runs it."""

from __future__ import annotations

from typing import Any

from features.settings import Settings


def service_options(settings: Settings) -> dict[str, Any]:
    """Workers, request timeout, BentoML's access log and OpenTelemetry spans (off unless
    serving.access_log / serving.tracing; "." in excluded_urls matches every URL)."""
    serving = settings.serving
    return {
        "traffic": {"timeout": 60},
        "workers": serving.workers,
        "logging": {"access": {"enabled": serving.access_log}},
        "tracing": {} if serving.tracing else {"excluded_urls": ["."]},
    }
