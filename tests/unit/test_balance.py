"""Keep-alive rebalancing across worker processes (serving/platform/balance.py) and its gateway hook."""

from __future__ import annotations

import os

import pytest

from serving.platform.balance import WorkerLoad, uneven, worker_load


@pytest.mark.parametrize(
    ("mine", "others", "expected"),
    [
        (8, [0], True),  # every connection on this worker
        (2, [0], True),
        (1, [0], False),  # a lone request is not a reason to reconnect
        (6, [2], True),
        (5, [3], False),  # close enough to even: no churn
        (20, [12], False),  # busy everywhere (c=32): no churn
        (9, [4, 0], True),  # the least busy worker counts
        (3, [], False),  # one worker: nothing to balance
    ],
)
def test_uneven(mine, others, expected):
    assert uneven(mine, others) is expected


def test_workers_of_one_server_see_each_others_counts(tmp_path):
    first = WorkerLoad(tmp_path, 1, 2, server_pid=os.getpid())
    second = WorkerLoad(tmp_path, 2, 2, server_pid=os.getpid())
    for _ in range(3):
        first.enter()
    assert first.uneven() and not second.uneven()
    second.enter()
    assert not first.uneven()  # 3 against 1
    for _ in range(3):
        first.leave()
    restarted = WorkerLoad(tmp_path, 2, 2, server_pid=os.getpid())  # the same slot, from zero
    assert restarted.in_flight == 0 and first._counts[1] == 0


def test_another_server_has_its_own_file_and_stale_files_go(tmp_path):
    dead = tmp_path / "inflight-999999999"  # beyond any pid this machine can hand out
    dead.write_bytes(b"\0" * 8)
    mine = WorkerLoad(tmp_path, 1, 2, server_pid=os.getpid())
    other = WorkerLoad(tmp_path, 1, 2, server_pid=os.getppid())
    mine.enter(), mine.enter()
    assert mine.uneven() and other._counts[0] == 0
    assert not dead.exists()


def test_bad_worker_index_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"worker index 3 is outside 1\.\.2"):
        WorkerLoad(tmp_path, 3, 2)


def test_no_balancing_with_one_worker_or_outside_a_worker(tmp_path):
    assert worker_load(tmp_path, 1) is None
    assert worker_load(tmp_path, 2) is None  # not a BentoML worker: no worker index


def _post(gw) -> list[dict]:
    """The messages sent, without the X-Request-ID every answer carries (tests/unit/test_problems.py)."""
    from tests.conftest import post_through

    sent = post_through(gw, response_headers=[(b"x-a", b"1")])
    start = sent[0]
    assert dict(start["headers"])[b"x-request-id"]
    sent[0] = {**start, "headers": [h for h in start["headers"] if h[0] != b"x-request-id"]}
    return sent


def test_the_gateway_asks_for_a_reconnect_only_while_this_worker_is_far_busier(tmp_path):
    from features.settings import load_settings
    from serving.platform.gateway import Gateway
    from tests.conftest import write_settings

    settings = load_settings(write_settings(tmp_path))
    settings.security.auth = False
    settings.state_path.mkdir(parents=True, exist_ok=True)
    gw = Gateway(app=None, settings=settings)
    assert gw.load is None  # not inside a BentoML worker
    gw.load = WorkerLoad(tmp_path / "run", 1, 2, server_pid=os.getpid())
    other = WorkerLoad(tmp_path / "run", 2, 2, server_pid=os.getpid())
    assert _post(gw)[0]["headers"] == [(b"x-a", b"1")]  # one request in flight: keep the connection
    gw.load.enter()  # another request of this worker is in flight, none on the other worker
    start = _post(gw)[0]
    assert start["status"] == 200 and start["headers"] == [(b"x-a", b"1"), (b"connection", b"close")]
    other.enter()
    assert _post(gw)[0]["headers"] == [(b"x-a", b"1")]
    assert gw.load.in_flight == 1  # each request left the count as it found it
