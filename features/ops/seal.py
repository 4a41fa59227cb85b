"""The audit trail's key and its anchor, both kept outside the audit store.

- The key (HMAC-SHA256) chains the records: without it nobody can recompute a record's hash, so
  an edited record cannot be re-hashed into a valid chain. It comes from `CCRISK_AUDIT_KEY`
  (hex, e.g. from a secret manager) or a key file (`security.audit_key_file`, created 0600 with
  32 random bytes the first time).
- The anchor (`security.audit_anchor_file`) is an append-only file of signed checkpoints: after
  every commit, the last sequence number and hash. Records cut off the end, a deleted head row
  or an emptied trail no longer match it. Keep it on storage that whoever administers the audit
  database cannot rewrite (another volume, a WORM bucket mount): the store and the anchor must
  not fall together.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

KEY_ENV = "CCRISK_AUDIT_KEY"


def create_private(path: Path, data: bytes) -> bool:
    """Write `data` to a new file readable by its owner only (0600); False when it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return True


def load_key(path: Path) -> bytes:
    """The audit key: `CCRISK_AUDIT_KEY` (hex) when set, else the key file (made if missing)."""
    given = os.environ.get(KEY_ENV, "").strip()
    if given:
        try:
            key = bytes.fromhex(given)
        except ValueError as exc:
            raise ValueError(
                f"{KEY_ENV} must be hex (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            ) from exc
        if len(key) < 16:
            raise ValueError(f"{KEY_ENV} is {len(key)} bytes: use at least 16 (32 recommended)")
        return key
    if create_private(path, secrets.token_hex(32).encode()):
        logger.info(
            "created the audit key %s (0600): back it up; without it the trail cannot be verified", path
        )
    try:
        return bytes.fromhex(path.read_text().strip())
    except ValueError as exc:
        raise ValueError(f"the audit key file {path} is not hex: restore it from its backup") from exc


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    adopted: bool = False  # records up to `seq` predate the keyed chain (see `Seal.adopt`)


class Seal:
    """Signs records and anchors the chain head outside the store."""

    def __init__(self, key: bytes, anchor: Path | None):
        self.key, self.anchor = key, anchor

    @classmethod
    def ephemeral(cls) -> Seal:
        """A random key and no anchor: an in-memory trail (tests)."""
        return cls(secrets.token_bytes(32), None)

    def record_hash(self, prev_hash: str, payload: str) -> str:
        return hmac.new(self.key, (prev_hash + "\n" + payload).encode(), hashlib.sha256).hexdigest()

    def _mac(self, seq: int, head: str, adopted: bool) -> str:
        text = f"{seq}\n{head}\n{int(adopted)}"
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()

    def checkpoint(self, seq: int, head: str, adopted: bool = False) -> None:
        """Append a signed checkpoint (one write of one line: atomic between worker processes)."""
        if self.anchor is None:
            return
        line = {"seq": seq, "hash": head, "ts": round(time.time(), 3), "mac": self._mac(seq, head, adopted)}
        if adopted:
            line["adopted"] = True
        self.anchor.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.anchor, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
        finally:
            os.close(fd)

    def has_anchor(self) -> bool:
        return self.anchor is not None and self.anchor.exists()

    def read(self) -> tuple[list[Checkpoint], list[str]]:
        """The checkpoints whose signature holds, and a problem for each line whose does not."""
        points, problems = [], []
        if not self.has_anchor():
            return points, problems
        assert self.anchor is not None
        for n, text in enumerate(self.anchor.read_text().splitlines(), start=1):
            try:
                line = json.loads(text)
                point = Checkpoint(int(line["seq"]), str(line["hash"]), bool(line.get("adopted")))
                good = hmac.compare_digest(str(line["mac"]), self._mac(point.seq, point.hash, point.adopted))
            except (ValueError, KeyError, TypeError):
                good = False
            if good:
                points.append(point)
            else:
                problems.append(f"anchor line {n}: its signature does not hold (forged or edited)")
        return points, problems
