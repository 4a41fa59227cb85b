"""`make bench` (`--only FAMILY` too): the bars a run reports, the families it accepts, and the
README results table it generates."""

from __future__ import annotations

import pytest
from rich.console import Console

from benchmarks.fraud import balanced_ratios, batch_entry
from benchmarks.report import check_bars
from benchmarks.run import run_bench


def _point(c: int, p95: float, p99: float = 0.0, rps: float = 100.0) -> dict:
    return {"concurrency": c, "rps": rps, "p50_ms": 1.0, "p95_ms": p95, "p99_ms": p99, "errors": 0}


def _fraud_serving() -> dict:
    return {
        "fraud_single": {
            "ccrisk": {"load": [_point(1, 5.0), _point(8, 20.0, p99=30.0)], "rss_mb": 1400.0},
            "ratio_rps": [2.0, 3.5],
        },
        "fraud_batch": {"1000": {"endpoint_none_vs_raw": 0.4}, "10000": {"endpoint_none_vs_raw": 0.55}},
    }


def test_a_full_run_checks_every_serving_bar():
    report = {
        "quality": {},
        "serving": {
            **_fraud_serving(),
            "text_single": {"neutral": [_point(1, 25.0), _point(8, 90.0)]},
            "kb_search": {"search": [_point(1, 60.0)]},
        },
    }
    bars = check_bars(report)
    assert {k: v["met"] for k, v in bars.items()} == {
        "fraud_rps_vs_mlflow_at_c8": True,
        "single_claim_p99_ms_at_c8": False,
        "batch_none_share_of_raw_predict": True,  # the largest batch's share
        "rss_mb_all_models": True,
        "message_p95_ms_at_c1": True,
        "kb_query_p95_ms_at_c1": False,
    }


def test_a_fraud_only_run_leaves_out_the_other_bars_and_the_rss_with_all_models():
    bars = check_bars({"quality": {}, "serving": _fraud_serving(), "only": ["fraud"]})
    assert set(bars) == {
        "fraud_rps_vs_mlflow_at_c8",
        "single_claim_p99_ms_at_c8",
        "batch_none_share_of_raw_predict",
    }


@pytest.mark.parametrize("only", [("fraud", "speech"), ()])
def test_only_names_the_families_it_accepts(only):
    with pytest.raises(ValueError, match="choose from fraud, text, kb"):
        run_bench(True, Console(quiet=True), only)


def _round(rps: float, share: float) -> dict:
    return {**_point(8, 10.0, rps=rps), "busiest_process_cpu_share": share}


def test_the_ratio_bar_reads_the_rounds_where_both_servers_split_the_load():
    # Round 2: every mlflow connection on one worker (share ~1.0), half its req/s: ratio 6 there.
    ours = {8: [_round(300, 0.50), _round(300, 0.51), _round(330, 0.50)]}
    theirs = {8: [_round(120, 0.52), _round(50, 0.99), _round(110, 0.55)]}
    assert balanced_ratios(ours, theirs, [8]) == [2.75]  # median of 2.5 and 3.0; not 3.0 with round 2
    serving = _fraud_serving()
    serving["fraud_single"]["ratio_rps_balanced"] = [None, 2.75]
    assert check_bars({"quality": {}, "serving": serving})["fraud_rps_vs_mlflow_at_c8"]["measured"] == 2.75


def test_without_a_balanced_round_the_ratio_bar_reads_every_round():
    ours, theirs = {8: [_round(300, 0.99)]}, {8: [_round(100, 0.50)]}
    assert balanced_ratios(ours, theirs, [8]) == [None]
    serving = _fraud_serving()
    serving["fraud_single"]["ratio_rps_balanced"] = [None, None]
    assert check_bars({"quality": {}, "serving": serving})["fraud_rps_vs_mlflow_at_c8"]["measured"] == 3.5


def test_the_batch_share_is_the_median_of_the_paired_rounds_ratios():
    # raw predict s, post s: the machine slows down in round 2, for both sides of that round
    rounds = [(0.10, 0.20), (0.15, 0.30), (0.10, 0.25)]
    entry = batch_entry(10_000, rounds, flagged_s=1.0)
    assert entry["endpoint_none_vs_raw_rounds"] == [0.5, 0.5, 0.4]
    assert entry["endpoint_none_vs_raw"] == 0.5  # the median round, not fastest raw / median post (0.4)
    assert entry["in_process_raw_predict_rows_per_s"] == 100_000  # median of 0.10, 0.15, 0.10 s
    assert entry["in_process_raw_predict_rows_per_s_best"] == 100_000
    assert entry["endpoint_explain_none_claims_per_s"] == 40_000  # median 0.25 s
    assert entry["endpoint_explain_flagged_claims_per_s"] == 10_000


def test_the_readme_results_table_has_a_row_per_measured_figure_with_its_bar(tmp_path):
    from benchmarks.report import RESULTS_END, RESULTS_START, _replace_block, results_table

    report = {
        "git_commit": "0123456789abcdef",
        "started": "2026-12-06T05:00:00+0000",
        "machine": {"cpus": 2},
        "quality": {"fraud": {"roc_auc": 0.8644, "pr_auc": 0.2972}},
        "serving": {**_fraud_serving(), "kb_search": {"search": [_point(1, 60.0)]}},
    }
    report["bars"] = check_bars(report)
    table = results_table(report)
    assert "| fraud | test ROC-AUC (vehicle claims, stratified 80/20) | | 0.8644 | |" in table
    assert "| fraud | one claim, p99 ms at c=8 | ≤ 10.0 | 30.0 | no |" in table
    assert "| knowledge base | one query, p95 ms at c=1 | ≤ 50.0 | 60.0 | no |" in table
    assert "complaint" not in table  # not measured in this run: no row
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n{RESULTS_START}\nold\n{RESULTS_END}\nafter\n")
    _replace_block(readme, RESULTS_START, RESULTS_END, table)
    text = readme.read_text()
    assert "old" not in text and "0123456" in text and text.endswith("after\n")


def test_the_kb_learning_loop_reports_paired_gains_and_fills_its_readme_rows():
    import numpy as np

    from benchmarks import kb_feedback
    from benchmarks.report import results_table

    rng = np.random.default_rng(0)
    before = rng.uniform(0, 1, 400)
    per_question = {"before": before, "after": before + 0.05, "tuned": before + rng.normal(0, 0.2, 400)}
    ci = kb_feedback.gain_intervals(per_question)
    assert ci["after"] == [0.05, 0.05]  # the same gain on every question
    assert ci["tuned"][0] < 0 < ci["tuned"][1]  # noise around no gain
    loop = {"ndcg_at_10": {"before": 0.61, "after": 0.66, "tuned": 0.68, "labels": 0.7}}
    report = {"git_commit": "0" * 8, "started": "2026-12-06", "machine": {"cpus": 2}, "serving": {},
              "quality": {"kb_feedback": loop}, "bars": {}}  # fmt: skip
    table = results_table(report)
    assert "| knowledge base | BankFAQs loop: nDCG@10 before feedback | | 0.61 | |" in table
    assert "| knowledge base | BankFAQs loop: after training on feedback | | 0.66 | |" in table
    assert "| knowledge base | BankFAQs loop: full labels (reference) | | 0.7 | |" in table
    assert kb_feedback.markdown_lines({"quality": {"kb_feedback": "skipped: absent"}}) == [
        "KB learning loop: skipped: absent",
        "",
    ]
    assert "one query" not in table and "fraud" not in table  # figures the run did not measure
