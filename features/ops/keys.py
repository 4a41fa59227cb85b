"""API keys with roles and tenants, stored only as SHA-256 hashes.

Keys live in the shared stores' database (`stores.url`, table `api_key`), so a key created,
rotated or revoked on one replica is honoured by every replica within `RELOAD_S`, and/or in the
environment variable `CCRISK_API_KEYS` ("name:role:sha256hex" entries separated by commas; the
root tenant's), so a deployment can inject hashes without a database. A key is 32 random bytes
(URL-safe text), which is why a plain SHA-256 is enough: there is nothing to brute-force as with
a password. Each key has a public `key_id` (for the admin routes and the trail), a tenant, and
may expire; rotating a key gives a new secret and keeps the old one valid for a grace period.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from features.ops.stores import ROOT_TENANT, api_key, open_database
from features.ops.tenants import ROLES, Tenant, get, load_tenants

logger = logging.getLogger(__name__)

KEYS_ENV = "CCRISK_API_KEYS"
KEY_PREFIX = "ccrisk_"
RELOAD_S = 0.5  # a worker re-reads the keys at most this often: revocation reaches it within a second
LISTED = ("key_id", "name", "tenant", "role", "created", "expires", "previous_until", "rate_per_minute")


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    rate_per_minute: int | None = None  # this key's own limit; None = security.rate_limit_per_minute
    tenant: str = ""
    key_id: str = ""
    valid_until: float | None = None  # expiry, or the end of a rotated-out key's grace period


@dataclass(frozen=True)
class IssuedKey:
    secret: str  # shown once, never stored
    key_id: str
    name: str
    tenant: str
    role: str
    expires: float | None


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    return role


def _read(url: str) -> list[dict]:
    with open_database(url).engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(api_key).order_by(api_key.c.created))]


def _parse_env(text: str) -> list[dict]:
    entries = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        parts = item.split(":")
        if len(parts) != 3 or len(parts[2]) != 64:
            raise ValueError(f"{KEYS_ENV}: entry {item[:20]!r}… must be name:role:sha256hex")
        entries.append({"name": parts[0], "role": _check_role(parts[1]), "sha256": parts[2],
                        "tenant": ROOT_TENANT, "key_id": f"env:{parts[0]}"})  # fmt: skip
    return entries


def _callers(entry: dict) -> list[tuple[str, Caller]]:
    """(hash, caller) for a key, and for its previous secret while the grace period runs."""
    fields = {"rate_per_minute": entry.get("rate_per_minute"), "tenant": entry.get("tenant") or ROOT_TENANT,
              "key_id": entry.get("key_id") or ""}  # fmt: skip
    role, expires = _check_role(entry["role"]), entry.get("expires")
    out = [(entry["sha256"], Caller(entry["name"], role, valid_until=expires, **fields))]
    if entry.get("previous_sha256") and entry.get("previous_until"):
        until = min(entry["previous_until"], expires or entry["previous_until"])
        out.append((entry["previous_sha256"], Caller(entry["name"], role, valid_until=until, **fields)))
    return out


class KeyRing:
    """The keys the server accepts and their tenants, re-read at most every RELOAD_S while calls
    come in (a key or tenant created, rotated or revoked anywhere needs no restart)."""

    def __init__(self, url: str, env_value: str | None = None):
        self.url = url
        self.env_value = os.environ.get(KEYS_ENV, "") if env_value is None else env_value
        self._loaded = -RELOAD_S
        self._by_hash: dict[str, Caller] = {}
        self.tenants: dict[str, Tenant] = {}
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        if time.monotonic() - self._loaded < RELOAD_S:
            return
        entries = _read(self.url) + _parse_env(self.env_value)
        by_hash = dict(pair for e in entries for pair in _callers(e))
        if len(by_hash) != len(self._by_hash):
            logger.info("api keys loaded: %d", len(by_hash))
        self._by_hash, self.tenants, self._loaded = by_hash, load_tenants(self.url), time.monotonic()

    def lookup(self, key: str) -> Caller | None:
        """The key's holder (expired or not: the caller checks `valid_until`); None when unknown."""
        self.reload_if_changed()
        return self._by_hash.get(hash_key(key))

    def tenant(self, name: str) -> Tenant | None:
        return self.tenants.get(name)

    def __len__(self) -> int:
        return len(self._by_hash)


def issue_key(
    url: str,
    name: str,
    role: str,
    tenant: str = ROOT_TENANT,
    expires_days: float | None = None,
    rate_per_minute: int | None = None,
    replace: bool = False,
) -> IssuedKey:
    """Add a key to the stores at `url` (a role its tenant allows) and return it: the only time
    its secret is ever shown."""
    _check_role(role)
    if not name or ":" in name or "," in name or len(name) > 128:
        raise ValueError("name: give a non-empty name of at most 128 characters without ':' or ','")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ValueError("rate_per_minute: give a positive number of requests per minute")
    if expires_days is not None and expires_days <= 0:
        raise ValueError("expires_days: give a positive number of days (or leave it out: no expiry)")
    owner = get(load_tenants(url), tenant)
    if role not in owner.roles:
        raise PermissionError(f"role: tenant {tenant!r} allows {', '.join(owner.roles)}, not {role!r}")
    secret, now = KEY_PREFIX + secrets.token_urlsafe(32), time.time()
    expires = now + expires_days * 86400 if expires_days else None
    row = {"name": name, "role": role, "sha256": hash_key(secret), "created": now,
           "key_id": secrets.token_hex(8), "tenant": tenant, "expires": expires,
           "rate_per_minute": rate_per_minute or None}  # fmt: skip
    with open_database(url).write() as conn:
        if conn.execute(sa.select(api_key.c.name).where(api_key.c.name == name)).first():
            if not replace:
                raise ValueError(f"name: a key named {name!r} exists; revoke it first or pick another name")
            conn.execute(api_key.delete().where(api_key.c.name == name))
        conn.execute(api_key.insert(), row)
    return IssuedKey(secret, row["key_id"], name, tenant, role, expires)


def create_key(
    url: str, name: str, role: str, replace: bool = False, rate_per_minute: int | None = None
) -> str:
    """A root-tenant key that never expires (the secret only): `issue_key` for everything else."""
    return issue_key(url, name, role, replace=replace, rate_per_minute=rate_per_minute).secret


def find_key(url: str, ref: str) -> dict:
    """The stored key whose key id or name is `ref` (without its hashes)."""
    for entry in _read(url):
        if ref in (entry["key_id"], entry["name"]):
            return {k: entry.get(k) for k in LISTED}
    raise KeyError(f"no key with id or name {ref!r}; `ccrisk keys list` shows them")


def rotate_key(url: str, ref: str, grace_s: float) -> IssuedKey:
    """A new secret for key `ref` (id or name); the old one works `grace_s` more seconds."""
    found = find_key(url, ref)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    where = api_key.c.key_id == found["key_id"]
    with open_database(url).write() as conn:
        old = conn.execute(sa.select(api_key.c.sha256).where(where)).scalar_one()
        conn.execute(api_key.update().where(where).values(
            sha256=hash_key(secret), previous_sha256=old, previous_until=time.time() + grace_s))  # fmt: skip
    return IssuedKey(secret, found["key_id"], found["name"], found["tenant"], found["role"], found["expires"])


def set_role(url: str, ref: str, role: str) -> dict:
    """Give key `ref` (id or name) another role its tenant allows; the key as it was."""
    found = find_key(url, ref)
    owner = get(load_tenants(url), found["tenant"])
    if _check_role(role) not in owner.roles:
        raise PermissionError(f"role: tenant {owner.name!r} allows {', '.join(owner.roles)}, not {role!r}")
    with open_database(url).write() as conn:
        conn.execute(api_key.update().where(api_key.c.key_id == found["key_id"]).values(role=role))
    return found


def revoke_key(url: str, ref: str) -> dict:
    """Delete key `ref` (id or name) and its rotated-out secret; the key as it was."""
    found = find_key(url, ref)
    with open_database(url).write() as conn:
        conn.execute(api_key.delete().where(api_key.c.key_id == found["key_id"]))
    return found


def list_keys(url: str, tenants: set[str] | None = None) -> list[dict]:
    """Keys (never their hashes), of `tenants` only when given."""
    entries = [e for e in _read(url) if tenants is None or e["tenant"] in tenants]
    return [{k: e[k] for k in LISTED if e.get(k) is not None} for e in entries]
