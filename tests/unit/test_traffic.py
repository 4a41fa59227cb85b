"""Sticky champion/challenger assignment and the champion-vs-challenger comparison."""

from __future__ import annotations

import pandas as pd
import pytest

from ccrisk.ops.release import compare
from features.ops.traffic import assign, bucket
from tests.conftest import needs_proc, resident_mb


def test_assignment_is_sticky_and_close_to_the_configured_share():
    ids = [f"CLM-{i}" for i in range(20_000)]
    first = [assign(i, 20, "ccrisk-fraud") for i in ids]
    assert first == [assign(i, 20, "ccrisk-fraud") for i in ids]
    share = first.count("challenger") / len(ids)
    assert share == pytest.approx(0.20, abs=0.015)


def test_assignment_edges():
    assert assign(None, 50, "m") == "champion"  # nothing to be sticky by
    assert assign("CLM-1", 0, "m") == "champion"
    assert assign("CLM-1", 100, "m") == "challenger"
    other = sum(bucket(f"c{i}", "a") == bucket(f"c{i}", "b") for i in range(1000))
    assert other < 50  # families split independently


def test_compare_pairs_variants_and_scores_alert_precision():
    preds = pd.DataFrame(
        {
            "entity_id": ["a", "b", "c", "a", "b", "c"],
            "variant": ["champion"] * 3 + ["challenger"] * 3,
            "band": ["high", "low", "medium", "high", "medium", "low"],
            "score": [0.9, 0.1, 0.5, 0.8, 0.4, 0.2],
            "model_version": ["1"] * 3 + ["2"] * 3,
        }
    )
    feedback = pd.DataFrame(
        {"claim_id": ["a", "b", "c"], "outcome": ["confirmed_fraud", "legitimate", "legitimate"]}
    )
    out = compare(preds, feedback)
    assert out["paired_claims"] == 3 and out["band_agreement"] == pytest.approx(1 / 3)
    champ, chall = out["variants"]["champion"], out["variants"]["challenger"]
    assert (champ["alerted"], champ["precision"]) == (2, 0.5)
    assert (chall["alerted"], chall["precision"], chall["versions"]) == (2, 0.5, ["2"])
    assert out["score_mean_abs_diff"] == pytest.approx((0.1 + 0.3 + 0.3) / 3)


def test_settle_heap_freezes_live_objects_and_a_swap_refreezes():
    import gc

    from serving.platform.runtime import settle_heap

    try:
        settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 1000  # the interpreter and pytest alone hold thousands of objects
        kept = [[i] for i in range(5000)]  # a newly loaded "model"
        ids = {id(x) for x in kept}
        assert sum(id(o) in ids for o in gc.get_objects()) == len(kept)  # tracked: full GCs scan them
        settle_heap(refreeze=True)
        assert sum(id(o) in ids for o in gc.get_objects()) == 0  # frozen: out of the collector's sight
    finally:
        gc.unfreeze()


@needs_proc
def test_free_heap_pages_go_back_to_the_system():
    """Blocks freed below a live one stay mapped (glibc trims only the heap's top) until
    `release_free_heap` hands them back: resident memory must drop by most of what was freed."""
    import ctypes
    import ctypes.util

    from serving.platform.runtime import release_free_heap

    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size, count = 64 * 1024, 1600  # 100 MB in blocks under glibc's mmap threshold: on the heap
    blocks = [libc.malloc(size) for _ in range(count)]
    keeper = libc.malloc(size)  # a live block above them: free() alone cannot shrink the heap
    for b in blocks:
        ctypes.memset(b, 1, size)  # touched: resident
    for b in blocks:
        libc.free(b)
    held = resident_mb()
    assert release_free_heap() is True
    released = held - resident_mb()
    libc.free(keeper)
    assert released > 60, f"only {released:.0f} of 100 MB freed went back"
