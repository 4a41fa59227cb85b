"""The screens' server side: pages and files with their security headers, roles per screen, the
hit-rate panel's JSON."""

from __future__ import annotations

import asyncio
import math

import pandas as pd
import pytest

from features.ops.hitrate import hit_rate_json
from features.settings import load_settings
from serving.ui.api import screens_for
from serving.ui.pages import Screens

SETTINGS = load_settings().model_copy(deep=True)
SETTINGS.serving.ui_message_origins = ["https://phone.test:8443"]


def call(path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes, list[str]]:
    """One request through Screens in front of an app that answers 299 and records the paths it saw."""
    passed: list[str] = []

    async def app(scope, receive, send):
        passed.append(scope["path"])
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    received: list[bool] = []

    async def receive():  # the body once, then nothing until the client leaves (as a server does)
        if received:
            await asyncio.sleep(3600)
        received.append(True)
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "path": path,
        "method": method,
        "headers": [],
        "query_string": b"",
        "root_path": "",
    }
    asyncio.run(Screens(app, SETTINGS)(scope, receive, send))
    start = sent[0]
    headers = {k.decode(): v.decode() for k, v in start.get("headers", [])}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], headers, body, passed


@pytest.mark.parametrize("path", ["/agent", "/claims", "/agent/"])
def test_pages_are_served_with_a_strict_policy(path):
    status, headers, body, passed = call(path)
    assert status == 200 and headers["content-type"].startswith("text/html") and not passed
    assert b'<script type="module" src="/ui/' in body and b"<script>" not in body  # no inline code
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe" not in policy
    assert "frame-ancestors 'self' https://phone.test:8443;" in policy, "only the phone system may frame it"
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"


def test_files_are_served_and_nothing_else_is_taken():
    status, headers, body, _ = call("/ui/common.js")
    assert status == 200 and b"sessionStorage" in body and headers["x-content-type-options"] == "nosniff"
    assert b"localStorage.setItem" not in body and b"document.cookie" not in body
    assert call("/ui/missing.js")[0] == 404
    assert call("/ui/../service.py")[0] == 404
    for path, method in (("/agent", "POST"), ("/v1/contact/analyze", "GET"), ("/docs", "GET")):
        assert call(path, method)[3] == [path], "other calls go on to the service"


def test_each_role_opens_the_screens_its_endpoints_allow():
    assert screens_for("agent_assist") == ["agent"]
    assert screens_for("claims_system") == ["claims"]
    assert screens_for("data_scientist") == []
    assert screens_for("admin") == ["agent", "claims", "admin"]
    assert screens_for("tenant_admin") == ["admin"]


def test_the_panel_json_has_shares_per_version_and_no_nan():
    table = pd.DataFrame(
        [
            {
                "model_version": 3,
                "band": "high",
                "alert": True,
                "scored": 1,
                "confirmed": 0,
                "ci_low": math.nan,
            },
            {"model_version": 3, "band": "low", "alert": False, "scored": 3, "confirmed": 0, "ci_low": 0.0},
            {"model_version": 4, "band": "low", "alert": False, "scored": 5, "confirmed": 1, "ci_low": 0.1},
        ]
    )
    rows = hit_rate_json(table)["rows"]
    assert [(r["model_version"], r["share"]) for r in rows] == [("3", 0.25), ("3", 0.75), ("4", 1.0)]
    assert rows[0]["ci_low"] is None and rows[0]["alert"] is True
    assert hit_rate_json(pd.DataFrame()) == {"rows": []}
