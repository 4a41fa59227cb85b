"""Sticky champion/challenger assignment: the same claim (or customer) always gets the same
variant, independently per model, with no state to keep."""

from __future__ import annotations

import hashlib

VARIANTS = ("champion", "challenger")


def bucket(entity_id: str, salt: str) -> int:
    """0..99 from a hash of the id, salted by the model name (families split independently)."""
    digest = hashlib.sha256(f"{salt}\x00{entity_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def assign(entity_id: str | None, split_percent: float, salt: str) -> str:
    """`challenger` for a sticky `split_percent` share of ids; requests without an id stay on the
    champion (there is nothing to keep them sticky by)."""
    if not entity_id or split_percent <= 0:
        return "champion"
    return "challenger" if bucket(entity_id, salt) < split_percent else "champion"
