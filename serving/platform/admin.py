"""The admin routes that are not model calls, mounted under /v1/admin: the drift summaries, and
the delegated administrators' keys, tenants and trail (serving/platform/access.py)."""

from __future__ import annotations

import json
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from features.settings import Settings
from serving.platform.access import access_routes

logger = logging.getLogger(__name__)


def admin_app(settings: Settings) -> Starlette:
    """GET /v1/admin/monitoring: the latest drift summary per model (`ccrisk monitor drift`) and
    the latest `ccrisk monitor run` (every statistic against its threshold)."""
    folder = settings.monitoring_path

    async def latest(_request: Request) -> JSONResponse:
        summaries = {}
        for path in sorted(folder.glob("*/latest.json")) if folder.is_dir() else []:
            try:
                summaries[path.parent.name] = json.loads(path.read_text())
            except (OSError, json.JSONDecodeError) as exc:
                summaries[path.parent.name] = {"error": f"unreadable summary {path.name}: {exc}"}
        statistics = None
        if (folder / "statistics.json").is_file():
            try:
                statistics = json.loads((folder / "statistics.json").read_text())
            except (OSError, json.JSONDecodeError) as exc:
                statistics = {"error": f"unreadable statistics.json: {exc}"}
        hint = None if summaries or statistics else "no report yet: run `ccrisk monitor run` (cron, Airflow)"
        return JSONResponse({"models": summaries, "statistics": statistics, "hint": hint})

    return Starlette(routes=[Route("/monitoring", latest, methods=["GET"]), *access_routes(settings)])
