"""Worker processes start together and each opens the same SQLite stores: the audit trail and the
shared stores' database (keys, prediction log, outcomes, KB feedback), which the first to open
it migrates. On a new file, two opening it at the same moment
once failed one of them at once with "database is locked" (CI: one worker then served every call
with a 500). These tests open each store from two processes at the same instant, many times."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import pytest

ROUNDS = 60


def _open(kind: str, path: Path) -> None:
    if kind == "audit":
        from features.ops.audit import AuditLog

        AuditLog(f"sqlite:///{path}")
    else:
        from features.kb.feedback import FeedbackStore
        from features.ops.keys import KeyRing
        from features.ops.outcomes import ClaimFeedbackStore, PredictionLog

        url = f"sqlite:///{path}"
        for store in (PredictionLog, ClaimFeedbackStore, FeedbackStore, KeyRing):
            store(url)


def _open_in_rounds(kind: str, folder: str, barrier, results) -> None:
    _open(kind, Path(folder) / "warm-up.sqlite")  # imports done before the first round
    for i in range(ROUNDS):
        barrier.wait(timeout=60)
        try:
            _open(kind, Path(folder) / f"{i}.sqlite")
            results.put("ok")
        except Exception as exc:
            results.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("kind", ["audit", "stores"])
def test_two_workers_opening_a_new_store_at_once_both_succeed(tmp_path, kind):
    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    args = (kind, str(tmp_path), barrier, results)
    procs = [ctx.Process(target=_open_in_rounds, args=args) for _ in range(2)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * ROUNDS)]
    for p in procs:
        p.join(timeout=60)
    failures = [o for o in outcomes if o != "ok"]
    assert failures == [], f"{len(failures)} of {len(outcomes)} opens failed: {failures[:3]}"


def test_a_gateway_that_cannot_open_its_audit_trail_ends_the_worker(tmp_path, monkeypatch, caplog):
    """Not a worker that goes on serving without its endpoints: it exits, and BentoML starts another."""
    from features.settings import load_settings
    from serving.platform import gateway
    from tests.conftest import write_settings

    settings = load_settings(write_settings(tmp_path))
    (tmp_path / "not-a-folder").write_text("")
    settings.security.audit_url = f"sqlite:///{tmp_path / 'not-a-folder' / 'audit.sqlite'}"

    def fake_exit(code: int) -> None:
        raise SystemExit(code)

    monkeypatch.setattr(gateway.os, "_exit", fake_exit)
    critical = caplog.at_level(logging.CRITICAL, logger="serving.platform.gateway")
    with critical, pytest.raises(SystemExit) as ended:
        gateway.Gateway(app=None, settings=settings)
    assert ended.value.code == 3
    assert "cannot open the API keys or the audit trail" in caplog.text
    assert "Not a directory" in caplog.text  # the cause, from the traceback
