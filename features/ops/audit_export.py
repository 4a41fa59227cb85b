"""A tenant's audit trail as CSV or JSON Lines (`ccrisk audit export`, `GET /v1/admin/audit`),
and the records of administration done from the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from features.ops.audit import AuditEntry, AuditLog
from features.ops.delegation import Action
from features.ops.keys import Caller

FORMATS = ("csv", "jsonl")
FIELDS = ("seq", "time", "tenant", "caller", "role", "endpoint", "status", "model", "model_version",
          "outcome", "request_id", "hash")  # fmt: skip


def record_action(log: AuditLog, actor: Caller, action: Action) -> int:
    """One record of an administration done from the CLI: who, on whom, what."""
    entry = AuditEntry(actor.name, "cli", f"cli:{action.action}", 0, "", 0.0, outcome=action.outcome(),
                       request_hash_kind="none", tenant=action.tenant)  # fmt: skip
    return log.append(entry)


def parse_since(text: str | None) -> float | None:
    """An ISO 8601 date or date-time (UTC unless it says otherwise) as epoch seconds."""
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"since: {text!r} is not an ISO 8601 date such as 2026-12-01") from exc
    return (when if when.tzinfo else when.replace(tzinfo=dt.UTC)).timestamp()


def public(row: dict[str, Any]) -> dict[str, Any]:
    """A stored record as exported: the time in ISO 8601 (UTC), the outcome as JSON."""
    out = {k: row.get(k) for k in FIELDS if k in row}
    out["time"] = dt.datetime.fromtimestamp(row["ts"], dt.UTC).isoformat()
    out["outcome"] = json.loads(row["outcome"]) if row.get("outcome") else {}
    return {k: out.get(k) for k in FIELDS}


def write(rows: list[dict[str, Any]], fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    records = [public(r) for r in rows]
    if fmt == "jsonl":
        return "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS)
    writer.writeheader()
    for r in records:
        writer.writerow({**r, "outcome": json.dumps(r["outcome"], sort_keys=True)})
    return buffer.getvalue()
