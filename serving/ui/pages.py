"""ASGI middleware that serves the screens: `/agent`, `/claims`, `/admin` (built from `templates/`) and their
scripts and stylesheet under `/ui/` (`static/`).

Everything is in this package (no CDN, no build step). Pages carry a strict Content-Security-Policy
(scripts and styles from this origin only, no inline code, no framing by other sites), so a
message or article rendered on a screen cannot run as code. The pages hold no secrets: the
signed-in person's API key lives in the tab's sessionStorage and is sent as a header by the
page's own script (never a cookie, so no cross-site request can carry it; never in a URL).
"""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib import resources
from string import Template

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from features.settings import Settings

logger = logging.getLogger(__name__)

PAGES = {"/agent": "agent", "/claims": "claims", "/admin": "admin"}  # path -> template and script
TITLES = {"agent": "Agent assist", "claims": "Claims review", "admin": "Keys and trail"}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'self'{framers}; base-uri 'none'"
)


def security_headers(framers: list[str]) -> dict[str, str]:
    """The pages' headers; `framers`: other origins that may frame them (serving.ui_message_origins)."""
    return {
        "content-security-policy": CSP.format(framers="".join(f" {o}" for o in framers)),
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
    }


class Screens:
    """Answers GET/HEAD for the pages and `/ui/*`; every other call goes on to the service."""

    def __init__(self, app, settings: Settings):
        self.app = app
        self.headers = security_headers(settings.serving.ui_message_origins)
        self.files = StaticFiles(directory=str(resources.files("serving.ui") / "static"))

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return await self.app(scope, receive, send)
        if path.rstrip("/") in PAGES:  # /agent and /agent/
            return await self._page(PAGES[path.rstrip("/")], scope, receive, send)
        if path.startswith("/ui/"):
            child = {**scope, "path": path[len("/ui") :], "root_path": ""}
            try:
                return await self.files(child, receive, _with_headers(send, self.headers))
            except HTTPException as exc:  # StaticFiles' 404/405, raised for an exception handler
                response = JSONResponse({"detail": f"{path}: {exc.detail}"}, status_code=exc.status_code)
                return await response(scope, receive, send)
        return await self.app(scope, receive, send)

    async def _page(self, name: str, scope, receive, send) -> None:
        body = page(name)
        headers = {**self.headers, "cache-control": "no-store"}
        response = Response(
            body if scope["method"] == "GET" else b"", media_type="text/html", headers=headers
        )
        await response(scope, receive, send)


@lru_cache(maxsize=len(TITLES))
def page(name: str) -> bytes:
    """A screen's HTML: the shared shell (header, sign-in, 403 panel) around its own part."""
    folder = resources.files("serving.ui") / "templates"
    current = {f"{n}_current": ' aria-current="page"' if n == name else "" for n in TITLES}
    app = (folder / f"{name}.html").read_text()
    shell = Template((folder / "shell.html").read_text())
    return shell.substitute(title=TITLES[name], name=name, app=app, **current).encode()


def _with_headers(send, extra: dict[str, str]):
    encoded = [(k.encode(), v.encode()) for k, v in extra.items()]

    async def wrapped(message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", ()), *encoded]}
        await send(message)

    return wrapped
