"""`ccrisk audit verify`: walk the chain, then hold its end against the head row and the anchor.

Each problem names the record (or the range) and what was done to it: edited, deleted,
reordered, cut off the end, emptied. A trail written before the chain was keyed verifies once
`ccrisk audit adopt` has anchored it (its older records are then checked by their unkeyed hashes).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from features.ops.audit import GENESIS, payload, unkeyed_hash

if TYPE_CHECKING:
    from features.ops.audit import AuditLog

ADOPT = "run `ccrisk audit adopt` once for a trail written before its chain was keyed"


def verify(log: AuditLog) -> list[str]:
    seal = log.seal
    points, problems = seal.read()
    adopted = max((p.seq for p in points if p.adopted), default=0)
    anchored = {p.seq: p.hash for p in points}
    mismatch: list[int] = []
    prev_hash, prev_seq = GENESIS, 0
    for row in log.rows():
        seq = row["seq"]
        if seq != prev_seq + 1:
            problems.append(f"records {prev_seq + 1}..{seq - 1} are missing (deleted) before record {seq}")
        elif row["prev_hash"] != prev_hash:
            problems.append(f"record {seq}: does not follow record {prev_seq} (reordered or replaced)")
        if seq <= adopted:
            intact = unkeyed_hash(row["prev_hash"], row) == row["hash"]
        else:
            intact = seal.record_hash(row["prev_hash"], payload(row)) == row["hash"]
        if not intact and not points and unkeyed_hash(row["prev_hash"], row) == row["hash"]:
            problems.append(f"record {seq}: written before the chain was keyed: {ADOPT}")
        elif not intact:
            problems.append(
                f"record {seq}: its content was edited after it was written (its keyed hash fails)"
            )
        if anchored.get(seq, row["hash"]) != row["hash"]:
            mismatch.append(seq)
        prev_hash, prev_seq = row["hash"], seq
    problems += _head(log, prev_seq, prev_hash)
    if mismatch:
        problems.append(f"record {mismatch[0]}: differs from the hash the anchor signed for it (replaced)")
    return problems + _anchor(log, points, prev_seq)


def _head(log: AuditLog, last_seq: int, last_hash: str) -> list[str]:
    top = log.head()
    if top is None:
        if last_seq:
            return [f"the chain head row is missing while {last_seq} records exist (deleted)"]
        return []
    if top[0] > last_seq:
        return [f"records {last_seq + 1}..{top[0]} are missing (deleted from the end)"]
    if top[1] != last_hash:
        return [f"record {last_seq}: does not match the chain head (edited and re-hashed)"]
    return []


def _anchor(log: AuditLog, points: list, last_seq: int) -> list[str]:
    anchor = log.seal.anchor
    if anchor is None:  # an in-memory trail (tests): nothing outside the store
        return []
    if not log.seal.has_anchor():
        if last_seq:
            return [
                f"the anchor file {anchor} is missing while the trail holds records: restore it, or {ADOPT}"
            ]
        return []
    if not points:
        return [f"the anchor file {anchor} holds no valid checkpoint: restore it, or {ADOPT}"]
    top = max(p.seq for p in points)
    if top > 0 and last_seq == 0:
        return [f"the trail is empty, but its anchor holds record {top}: records 1..{top} were deleted"]
    if top > last_seq:
        return [
            f"records {last_seq + 1}..{top} are missing (deleted from the end; the anchor holds record {top})"
        ]
    return []
