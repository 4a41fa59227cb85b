"""GET routes the screens need besides the model endpoints, mounted under /v1/ui (so the gateway
authorises, rate-limits and audits them like every /v1 call):

- `/v1/ui/session`: who the key belongs to, which screens its role may open (sign-in check), and
  what the screens need to know (the claims batch limit, the origins that may hand /agent a message);
- `/v1/ui/hit_rate`: the claims screen's panel, from the same data as `ccrisk report hit-rate`
  (a partner's keys see only the claims their tenant sent and reviewed).
"""

from __future__ import annotations

import asyncio
import logging
from functools import lru_cache

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from features.ops.stores import ROOT_TENANT
from features.settings import Settings
from serving.platform.authorise import allowed
from serving.platform.gateway import CALLER_SCOPE_KEY

logger = logging.getLogger(__name__)

# The endpoints each screen calls: a role may open a screen when the gateway lets it call them all.
SCREENS: dict[str, tuple[str, ...]] = {
    "agent": ("/v1/contact/analyze", "/v1/kb/search", "/v1/kb/feedback"),
    "claims": ("/v1/claims/score_csv", "/v1/claims/feedback", "/v1/ui/hit_rate"),
    "admin": ("/v1/admin/keys", "/v1/admin/tenants", "/v1/admin/audit"),
}
MAX_DAYS = 3650


def screens_for(role: str) -> list[str]:
    return [name for name, paths in SCREENS.items() if all(allowed(role, p) for p in paths)]


def ui_api_app(settings: Settings) -> Starlette:
    fraud_model = settings.model("fraud").registered_name
    limits = {"max_batch_claims": settings.serving.max_batch_claims}  # the claims screen sends files in parts
    origins = settings.serving.ui_message_origins  # /agent takes postMessage hand-overs from these too

    @lru_cache(maxsize=1)
    def stores():  # the worker's first panel call opens them; every later one reuses them
        from features.ops.hitrate import HitRates

        return HitRates(settings)

    async def session(request: Request) -> JSONResponse:
        caller = request.scope.get(CALLER_SCOPE_KEY)  # set by the gateway (with auth off: "local" admin)
        if caller is None:
            return JSONResponse({"detail": "no authorised caller: the gateway must run in front"}, 401)
        screens = screens_for(caller.role)
        who = {"name": caller.name, "role": caller.role, "tenant": caller.tenant, "screens": screens}
        return JSONResponse({**who, "limits": limits, "message_origins": origins})

    async def hit_rate(request: Request) -> JSONResponse:
        days = request.query_params.get("days", "30")
        if not days.isdigit() or not 1 <= int(days) <= MAX_DAYS:
            detail = f"days: send a whole number of days from 1 to {MAX_DAYS}, e.g. ?days=30"
            return JSONResponse({"detail": detail}, status_code=400)
        from features.ops.hitrate import hit_rate_json

        caller = request.scope.get(CALLER_SCOPE_KEY)
        own = (
            None if caller is None or caller.tenant == ROOT_TENANT else {caller.tenant}
        )  # a partner: its own
        table = await asyncio.to_thread(lambda: stores().table(fraud_model, int(days) * 86400.0, own))
        return JSONResponse({"model": fraud_model, "days": int(days), **hit_rate_json(table)})

    return Starlette(routes=[Route("/session", session), Route("/hit_rate", hit_rate)])
