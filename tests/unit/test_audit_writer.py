"""Group commit of audit records (features/ops/audit.AuditWriter) and its batch append."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import Future, wait

import pytest

from features.ops.audit import AuditEntry, AuditLog, AuditWriter, open_audit
from features.ops.seal import Seal


def _entry(i: int) -> AuditEntry:
    return AuditEntry("c", "admin", "/v1/claims/score", 200, f"{i:064d}", 1.0, "m", "1", {"i": i})


def _log(tmp_path, seal: Seal | None = None) -> AuditLog:
    return AuditLog(f"sqlite:///{tmp_path / 'audit.sqlite'}", seal)


def test_append_many_chains_a_group_in_order_after_earlier_records(tmp_path):
    log = _log(tmp_path)
    assert log.append(_entry(0)) == 1
    assert log.append_many([_entry(i) for i in range(1, 5)]) == [2, 3, 4, 5]
    assert log.append_many([]) == []
    rows = log.rows()
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["outcome"] for r in rows] == [f'{{"i":{i}}}' for i in range(5)]
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert log.verify() == []


def test_the_sqlite_file_path_stores_what_the_sqlalchemy_path_stores(tmp_path):
    """A SQLite file is appended to through sqlite3 directly; an in-memory one through
    SQLAlchemy's engine. Same entries, same rows and hashes, and the chain of one continues
    with the other on the same file."""
    seal = Seal(b"k" * 32, None)
    fast = _log(tmp_path, seal)
    slow = AuditLog("sqlite://", seal)  # in memory: the SQLAlchemy statements
    assert fast._file and slow._file is None
    entries = [_entry(i) for i in range(6)]
    fast.append_many(entries[:1]), fast.append_many(entries[1:4]), fast.append(entries[4])
    slow.append_many(entries[:1]), slow.append_many(entries[1:4]), slow.append(entries[4])
    assert fast.rows() == slow.rows()
    fast._file = None  # the same file through SQLAlchemy: the chain goes on unbroken
    assert fast.append(entries[5]) == 6
    assert fast.verify() == []


def test_a_group_that_fails_midway_leaves_no_record_and_the_next_one_commits(tmp_path):
    log = _log(tmp_path)
    log.append(_entry(0))
    bad = AuditEntry("c", "admin", "/v1/claims/score", 200, "0" * 64, 1.0, outcome={"x": object()})
    with pytest.raises(TypeError, match="not JSON serializable"):
        log.append_many([_entry(1), bad])
    assert log.count() == 1
    assert log.append(_entry(2)) == 2
    assert log.verify() == []


def test_concurrent_submits_are_all_committed_before_their_futures_resolve(tmp_path):
    log = _log(tmp_path)
    writer = AuditWriter(log)
    futures: list[Future[int]] = []
    lock = threading.Lock()

    def submit(start: int) -> None:
        for i in range(start, start + 50):
            done = writer.submit(_entry(i))
            with lock:
                futures.append(done)

    threads = [threading.Thread(target=submit, args=(k * 50,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    _, pending = wait(futures, timeout=30)
    assert not pending
    seqs = sorted(f.result() for f in futures)
    assert seqs == list(range(1, 201))
    committed = {r["request_sha256"] for r in log.rows()}  # a resolved future means on disk
    assert committed == {f"{i:064d}" for i in range(200)} and log.verify() == []


class _BrokenLog:
    def append_many(self, entries):
        raise RuntimeError("disk full")


def test_a_failed_commit_fails_every_record_of_the_group_and_the_writer_goes_on(tmp_path):
    writer = AuditWriter(_BrokenLog())  # type: ignore[arg-type]
    futures = [writer.submit(_entry(i)) for i in range(3)]
    for done in futures:
        with pytest.raises(RuntimeError, match="disk full"):
            done.result(timeout=10)
    writer.log = _log(tmp_path)  # the thread survived: the next record is committed
    assert writer.submit(_entry(9)).result(timeout=10) == 1


def test_a_cancelled_caller_does_not_stop_its_record_or_the_writer(tmp_path):
    log = _log(tmp_path)
    writer = AuditWriter(log)
    entered, gate = threading.Event(), threading.Event()
    original = log.append_many

    def held(entries):
        entered.set()
        gate.wait(10)
        return original(entries)

    log.append_many = held  # type: ignore[method-assign]
    first = writer.submit(_entry(0))
    assert entered.wait(10)  # the writer is committing `first`; the next record waits in the queue
    queued = writer.submit(_entry(1))
    assert queued.cancel()  # its caller went away before the writer took it
    gate.set()
    assert first.result(timeout=10) == 1
    assert writer.submit(_entry(2)).result(timeout=10) == 3  # the cancelled record is seq 2
    assert [r["request_sha256"][-1] for r in log.rows()] == ["0", "1", "2"] and log.verify() == []


def _call(gw, path: str = "/v1/claims/score") -> tuple[int, bytes]:
    """One POST through the gateway in front of an app that answers 200."""
    from tests.conftest import post_through

    sent = post_through(gw, path)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_the_gateway_answers_only_after_the_record_is_committed_and_503_when_it_is_not(tmp_path):
    from features.settings import load_settings
    from serving.platform.gateway import Gateway
    from tests.conftest import write_settings

    settings = load_settings(write_settings(tmp_path))
    settings.security.auth = False
    settings.state_path.mkdir(parents=True, exist_ok=True)  # the service's start-up makes it
    gw = Gateway(app=None, settings=settings)
    assert _call(gw) == (200, b"{}")
    rows = open_audit(settings).rows()
    assert [(r["endpoint"], r["status"]) for r in rows] == [("/v1/claims/score", 200)]
    gw.audit.log = _BrokenLog()
    status, body = _call(gw)
    assert status == 503 and b"audit trail unavailable" in body
