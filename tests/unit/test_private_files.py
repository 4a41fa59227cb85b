"""The audit trail and the shared stores (keys among them) are created readable by their owner
only (0600)."""

from __future__ import annotations

import os
import stat

from features.kb.feedback import FeedbackStore
from features.ops.audit import AuditEntry, AuditLog
from features.ops.keys import create_key
from features.ops.outcomes import ClaimFeedbackStore, PredictionLog


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_stores_and_key_files_are_created_0600(tmp_path):
    old = os.umask(0o022)  # the usual default, under which plain files come out 0644
    try:
        AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite'}").append(
            AuditEntry("c", "admin", "/v1/x", 200, "", 1.0)
        )
        url = f"sqlite:///{tmp_path / 'stores.sqlite'}"
        PredictionLog(url)
        ClaimFeedbackStore(url)
        FeedbackStore(url)
        create_key(url, "ops", "admin")
    finally:
        os.umask(old)
    made = sorted(p.name for p in tmp_path.iterdir() if p.suffix in (".sqlite", ".sqlite-wal"))
    assert {"audit.sqlite-wal", "stores.sqlite", "stores.sqlite-wal"} <= set(made)
    assert {name: _mode(tmp_path / name) for name in made} == dict.fromkeys(made, 0o600)
