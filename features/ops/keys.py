"""API keys with roles, stored only as SHA-256 hashes.

Keys live in a JSON file (`security.keys_file`, default `<state_dir>/api_keys.json`) and/or the
environment variable `CCRISK_API_KEYS` ("name:role:sha256hex" entries separated by commas), so a
deployment can inject hashes without a file. A key is 32 random bytes (URL-safe text), which is
why a plain SHA-256 is enough: there is nothing to brute-force as with a password.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from features.ops.files import write_private

logger = logging.getLogger(__name__)

KEYS_ENV = "CCRISK_API_KEYS"
ROLES = ("claims_system", "agent_assist", "data_scientist", "admin")
KEY_PREFIX = "ccrisk_"


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


def _read_file(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    try:
        entries = json.loads(path.read_text())["keys"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a ccrisk key file ({exc}); fix it or remove it") from exc
    return entries


def _parse_env(text: str) -> list[dict]:
    entries = []
    for item in filter(None, (p.strip() for p in text.split(","))):
        parts = item.split(":")
        if len(parts) != 3 or len(parts[2]) != 64:
            raise ValueError(f"{KEYS_ENV}: entry {item[:20]!r}… must be name:role:sha256hex")
        entries.append({"name": parts[0], "role": _check_role(parts[1]), "sha256": parts[2]})
    return entries


class KeyRing:
    """The keys the server accepts; re-read when the file changes (revocation needs no restart)."""

    def __init__(self, path: Path, env_value: str | None = None):
        self.path = Path(path)
        self.env_value = os.environ.get(KEYS_ENV, "") if env_value is None else env_value
        self._stamp: float | None = None
        self._by_hash: dict[str, Caller] = {}
        self.reload_if_changed()

    def reload_if_changed(self) -> None:
        stamp = self.path.stat().st_mtime_ns if self.path.is_file() else None
        if stamp == self._stamp and self._by_hash:
            return
        entries = _read_file(self.path) + _parse_env(self.env_value)
        self._by_hash = {
            e["sha256"]: Caller(e["name"], _check_role(e["role"]), e.get("rate_per_minute")) for e in entries
        }
        self._stamp = stamp
        logger.info("api keys loaded: %d", len(self._by_hash))

    def lookup(self, key: str) -> Caller | None:
        self.reload_if_changed()
        return self._by_hash.get(hash_key(key))

    def __len__(self) -> int:
        return len(self._by_hash)


def create_key(
    path: Path, name: str, role: str, replace: bool = False, rate_per_minute: int | None = None
) -> str:
    """Add a key to the file and return it (the only time it is ever shown)."""
    _check_role(role)
    if not name or ":" in name or "," in name:
        raise ValueError("name: give a non-empty name without ':' or ','")
    entries = _read_file(path)
    if any(e["name"] == name for e in entries):
        if not replace:
            raise ValueError(f"name: a key named {name!r} exists; revoke it first or pick another name")
        entries = [e for e in entries if e["name"] != name]
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    if rate_per_minute is not None and rate_per_minute < 1:
        raise ValueError("rate_per_minute: give a positive number of requests per minute")
    entry = {"name": name, "role": role, "sha256": hash_key(key), "created": time.time()}
    if rate_per_minute:
        entry["rate_per_minute"] = rate_per_minute
    entries.append(entry)
    _write_file(path, entries)
    return key


def revoke_key(path: Path, name: str) -> None:
    entries = _read_file(path)
    kept = [e for e in entries if e["name"] != name]
    if len(kept) == len(entries):
        raise KeyError(f"no key named {name!r} in {path}; `ccrisk keys list` shows the names")
    _write_file(path, kept)


def list_keys(path: Path) -> list[dict]:
    return [
        {k: e[k] for k in ("name", "role", "created", "rate_per_minute") if k in e} for e in _read_file(path)
    ]


def _write_file(path: Path, entries: list[dict]) -> None:
    write_private(path, json.dumps({"keys": entries}, indent=1))
