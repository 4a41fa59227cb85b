"""API keys with roles, stored only as SHA-256 hashes.

Keys live in the shared stores' database (`stores.url`, table `api_key`), so a key created or
revoked on one replica is honoured by every replica within `RELOAD_S`, and/or in the environment
variable `CCRISK_API_KEYS` ("name:role:sha256hex" entries separated by commas), so a deployment can
inject hashes without a database. A key is 32 random bytes (URL-safe text), which is
why a plain SHA-256 is enough: there is nothing to brute-force as with a password.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from features.ops.stores import api_key, open_database

logger = logging.getLogger(__name__)

KEYS_ENV = "CCRISK_API_KEYS"
ROLES = ("claims_system", "agent_assist", "data_scientist", "admin")
KEY_PREFIX = "ccrisk_"
RELOAD_S = 0.5  # a worker re-reads the keys at most this often: revocation reaches it within a second


@dataclass(frozen=True)
class Caller:
    name: str
    role: str
    rate_per_minute: int | None = None  # this key's own limit; None = security.rate_limit_per_minute


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
        entries.append({"name": parts[0], "role": _check_role(parts[1]), "sha256": parts[2]})
    return entries


class KeyRing:
    """The keys the server accepts, re-read at most every RELOAD_S while calls come in (a key
    created or revoked anywhere needs no restart)."""

    def __init__(self, url: str, env_value: str | None = None):
        self.url = url
        self.env_value = os.environ.get(KEYS_ENV, "") if env_value is None else env_value
        self._loaded = -RELOAD_S
        self._by_hash: dict[str, Caller] = {}
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        if time.monotonic() - self._loaded < RELOAD_S:
            return
        entries = _read(self.url) + _parse_env(self.env_value)
        by_hash = {
            e["sha256"]: Caller(e["name"], _check_role(e["role"]), e.get("rate_per_minute")) for e in entries
        }
        if len(by_hash) != len(self._by_hash):
            logger.info("api keys loaded: %d", len(by_hash))
        self._by_hash, self._loaded = by_hash, time.monotonic()

    def lookup(self, key: str) -> Caller | None:
        self.reload_if_changed()
        return self._by_hash.get(hash_key(key))

    def __len__(self) -> int:
        return len(self._by_hash)


def create_key(
    url: str, name: str, role: str, replace: bool = False, rate_per_minute: int | None = None
) -> str:
    """Add a key to the stores at `url` and return it (the only time it is ever shown)."""
    _check_role(role)
    if not name or ":" in name or "," in name:
        raise ValueError("name: give a non-empty name without ':' or ','")
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ValueError("rate_per_minute: give a positive number of requests per minute")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = {"name": name, "role": role, "sha256": hash_key(key), "created": time.time(),
           "rate_per_minute": rate_per_minute or None}  # fmt: skip
    with open_database(url).write() as conn:
        if conn.execute(sa.select(api_key.c.name).where(api_key.c.name == name)).first():
            if not replace:
                raise ValueError(f"name: a key named {name!r} exists; revoke it first or pick another name")
            conn.execute(api_key.delete().where(api_key.c.name == name))
        conn.execute(api_key.insert(), row)
    return key


def revoke_key(url: str, name: str) -> None:
    with open_database(url).write() as conn:
        if conn.execute(api_key.delete().where(api_key.c.name == name)).rowcount == 0:
            raise KeyError(f"no key named {name!r}; `ccrisk keys list` shows the names")


def list_keys(url: str) -> list[dict]:
    fields = ("name", "role", "created", "rate_per_minute")
    return [{k: e[k] for k in fields if e.get(k) is not None} for e in _read(url)]
