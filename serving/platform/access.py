"""The delegated administrators' routes under /v1/admin: keys, tenants and the audit trail of the
caller's own tenants (features/ops/delegation.py decides what each caller may do).

- `GET /keys`, `POST /keys` {tenant, role, name, expires_days?} -> 201 with the key (shown once),
  `POST /keys/{key_id}/rotate`, `PATCH /keys/{key_id}` {role}, `DELETE /keys/{key_id}`;
- `GET /tenants`, `POST /tenants` {name, roles, parent?, kind?, rate_per_minute?, daily_quota?};
- `GET /audit?tenant=&since=&limit=`: the latest records first.

The gateway authorises the role and audits each call; a route adds what it did, or was refused,
and the tenant acted on (`note_action`), so the call's record says who, on whom and what.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from features.ops import delegation
from features.ops import tenants as ts
from features.ops.audit import open_audit
from features.ops.audit_export import parse_since, public
from features.ops.keys import find_key, list_keys
from features.settings import Settings
from serving.platform.gateway import CALLER_SCOPE_KEY, note_action

logger = logging.getLogger(__name__)
MAX_RECORDS = 1000


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenant: str = Field(min_length=1, max_length=64)
    role: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=128)
    expires_days: float | None = Field(None, gt=0, le=3650)


class KeyChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str = Field(min_length=1, max_length=32, description="a role the key's tenant allows")


class NewTenant(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1)
    parent: str | None = None
    kind: str = "broker"
    rate_per_minute: int | None = Field(None, ge=1)
    daily_quota: int | None = Field(None, ge=1)


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status)


async def _body(request: Request, model: type[BaseModel]) -> BaseModel:
    try:
        return model.model_validate(json.loads(await request.body() or b"null"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"body: not JSON ({exc.msg}); send a JSON object") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "body"
        raise ValueError(f"{field}: {first['msg']}") from exc


async def _act(request: Request, attempt: str, tenant: str, work) -> JSONResponse:
    """Run `work()` (off the event loop) as `attempt` on `tenant`: its answer, or the refusal,
    noted for the call's audit record."""
    try:
        status, body, action = await asyncio.to_thread(work)
    except delegation.Forbidden as exc:  # on the caller's own record: other tenants learn nothing of it
        caller = request.scope[CALLER_SCOPE_KEY]
        note_action(caller.tenant, {"action": attempt, "target": {"tenant": tenant}, "refused": str(exc)})
        return _problem(403, str(exc))
    except KeyError as exc:
        return _problem(404, str(exc.args[0]))
    except (ValueError, PermissionError) as exc:
        return _problem(400 if isinstance(exc, ValueError) else 403, str(exc))
    note_action(action.tenant, action.outcome())
    return JSONResponse(body, status_code=status)


def _key_answer(issued, **extra: Any) -> dict[str, Any]:
    fields = ("key_id", "name", "tenant", "role", "expires")
    return {"key": issued.secret, **{f: getattr(issued, f) for f in fields}, **extra}


def access_routes(settings: Settings) -> list[Route]:
    url, grace = settings.stores_url, settings.security.rotation_grace_s
    trail = []  # the worker's audit log, opened at the first audit read

    def caller(request: Request):
        return request.scope[CALLER_SCOPE_KEY]

    async def keys(request: Request) -> JSONResponse:
        actor = caller(request)
        if request.method == "GET":
            seen = delegation.scope(actor, await asyncio.to_thread(ts.load_tenants, url))
            return JSONResponse({"keys": await asyncio.to_thread(list_keys, url, seen)})
        try:
            body = await _body(request, NewKey)
        except ValueError as exc:
            return _problem(422, str(exc))

        def work():
            issued, action = delegation.create_key(
                url, actor, body.tenant, body.role, body.name, body.expires_days
            )
            return 201, _key_answer(issued), action

        return await _act(request, "key.create", body.tenant, work)

    async def one_key(request: Request) -> JSONResponse:
        actor, ref = caller(request), request.path_params["key_id"]
        found = await asyncio.to_thread(_find, url, ref)
        if found is None:
            return _problem(404, f"key_id: no key {ref!r}; GET /v1/admin/keys lists yours")

        change = None
        if request.method == "PATCH":
            try:
                change = await _body(request, KeyChange)
            except ValueError as exc:
                return _problem(422, str(exc))

        def work():
            if request.method == "DELETE":
                return 200, {"revoked": ref}, delegation.revoke_key(url, actor, ref)
            if change is not None:
                action = delegation.change_role(url, actor, ref, change.role)
                return 200, {"key_id": ref, "role": change.role}, action
            issued, action = delegation.rotate_key(url, actor, ref, grace)
            return 200, _key_answer(issued, previous_valid_for_s=grace), action

        attempt = {"DELETE": "key.revoke", "PATCH": "key.role"}.get(request.method, "key.rotate")
        return await _act(request, attempt, found["tenant"], work)

    async def tenants(request: Request) -> JSONResponse:
        actor = caller(request)
        if request.method == "GET":
            known = await asyncio.to_thread(ts.load_tenants, url)
            seen = delegation.scope(actor, known)
            return JSONResponse({"tenants": [t.public() for n, t in known.items() if n in seen]})
        try:
            body = await _body(request, NewTenant)
        except ValueError as exc:
            return _problem(422, str(exc))

        def work():
            new, action = delegation.create_tenant(url, actor, **body.model_dump())
            return 201, new.public(), action

        return await _act(request, "tenant.create", body.parent or actor.tenant, work)

    async def audit(request: Request) -> JSONResponse:
        actor, params = caller(request), request.query_params
        limit = params.get("limit", "200")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_RECORDS:
            return _problem(400, f"limit: send a whole number from 1 to {MAX_RECORDS}, e.g. ?limit=200")
        try:
            since = parse_since(params.get("since"))
            known = await asyncio.to_thread(ts.load_tenants, url)
            scope = delegation.audit_scope(actor, known, params.get("tenant"))
        except delegation.Forbidden as exc:
            refused = {
                "action": "audit.read",
                "target": {"tenant": params.get("tenant")},
                "refused": str(exc),
            }
            note_action(actor.tenant, refused)
            return _problem(403, str(exc))
        except (ValueError, KeyError) as exc:
            return _problem(400, str(exc.args[0]))
        if not trail:
            trail.append(await asyncio.to_thread(open_audit, settings))
        rows = await asyncio.to_thread(trail[0].rows, since, scope, int(limit))
        return JSONResponse({"records": [public(r) for r in rows]})

    return [
        Route("/keys", keys, methods=["GET", "POST"]),
        Route("/keys/{key_id}", one_key, methods=["DELETE", "PATCH"]),
        Route("/keys/{key_id}/rotate", one_key, methods=["POST"]),
        Route("/tenants", tenants, methods=["GET", "POST"]),
        Route("/audit", audit, methods=["GET"]),
    ]


def _find(url: str, ref: str) -> dict | None:
    try:
        found = find_key(url, ref)
    except KeyError:
        return None
    return found if found["key_id"] == ref else None  # the routes take key ids, not names
