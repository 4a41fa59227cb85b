"""What `make bench` prints and writes from a report: the bars, the console table, the
generated part of docs/performance.md and the README's results table (a full run only)."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from benchmarks import batch, kb, kb_feedback, pii, release, screens, text

ROOT = Path(__file__).resolve().parents[1]
BARS = {
    "fraud_rps_vs_mlflow_at_c8": 3.0,
    "single_claim_p99_ms_at_c8": 10.0,
    "batch_none_share_of_raw_predict": 0.5,
    "rss_mb_all_models": 1536,
    "message_p95_ms_at_c1": 30.0,
    "kb_query_p95_ms_at_c1": 50.0,
    "pii_mask_ms_20k_chars": pii.MS_BAR,
    "agent_screen_p95_ms": screens.AGENT_MS_BAR,
}
LOWER_IS_BETTER = {
    "single_claim_p99_ms_at_c8",
    "rss_mb_all_models",
    "message_p95_ms_at_c1",
    "kb_query_p95_ms_at_c1",
    "pii_mask_ms_20k_chars",
    "agent_screen_p95_ms",
}
SINGLE_SERVERS = ("ccrisk", "mlflow", "floor")  # floor: absent from runs before 2026-11-23 11:50


def check_bars(report: dict) -> dict:
    """Each bar whose figure this run measured (a run of some families only leaves the others out;
    the RSS bar, "with all models", needs every family's real model served)."""
    serving = report["serving"]
    measured = {}
    if "fraud_single" in serving:
        single = serving["fraud_single"]
        points = {r["concurrency"]: r for r in single["ccrisk"]["load"]}
        measured["fraud_rps_vs_mlflow_at_c8"] = _ratio_at_c8(single, list(points))
        measured["single_claim_p99_ms_at_c8"] = points[8]["p99_ms"]
        batch = serving["fraud_batch"]
        largest = batch[max((k for k in batch if k.isdigit()), key=int)]
        measured["batch_none_share_of_raw_predict"] = largest["endpoint_none_vs_raw"]
        if not report.get("only"):
            measured["rss_mb_all_models"] = single["ccrisk"]["rss_mb"]
    if "text_single" in serving:
        measured["message_p95_ms_at_c1"] = _p95_at_c1(serving["text_single"]["neutral"])
    if "kb_search" in serving:
        measured["kb_query_p95_ms_at_c1"] = _p95_at_c1(serving["kb_search"]["search"])
    if "screens" in serving:
        measured["agent_screen_p95_ms"] = serving["screens"]["agent_enter_to_panels"]["p95_ms"]
    if "pii" in report["quality"]:
        measured["pii_mask_ms_20k_chars"] = report["quality"]["pii"]["mask_ms_20k_chars"]
    bars = {
        k: {"bar": BARS[k], "measured": v, "met": v <= BARS[k] if k in LOWER_IS_BETTER else v >= BARS[k]}
        for k, v in measured.items()
    }
    quality = {
        **text.quality_bars(report["quality"].get("text", {})),
        **kb.quality_bars(report["quality"].get("kb", {})),
        **pii.quality_bars(report["quality"].get("pii", {})),
    }
    for k, (bar, value) in quality.items():
        bars[k] = {"bar": bar, "measured": value, "met": value >= bar}
    return bars


def _ratio_at_c8(single: dict, levels: list[int]) -> float:
    """ccrisk / mlflow req/s at c=8 over the rounds where both servers split the connections
    over their workers; over every round when none did (or the run predates that figure)."""
    balanced = dict(zip(levels, single.get("ratio_rps_balanced") or [None] * len(levels), strict=True))
    return balanced[8] if balanced[8] is not None else dict(zip(levels, single["ratio_rps"], strict=True))[8]


def _p95_at_c1(points: list[dict]) -> float:
    return {r["concurrency"]: r for r in points}[1]["p95_ms"]


def summary_table(report: dict) -> Table:
    only = f" (only {', '.join(report['only'])})" if report.get("only") else ""
    table = Table(title="ccrisk bench" + (" (quick)" if report["quick"] else "") + only)
    for col in ("figure", "value"):
        table.add_column(col)
    q = report["quality"].get("fraud")
    if isinstance(q, dict):
        for k in ("roc_auc", "pr_auc", "brier", "precision_at_recall_95"):
            table.add_row(f"fraud test {k}", str(q[k]))
    single = report["serving"].get("fraud_single", {})
    for name in SINGLE_SERVERS:
        for r in single.get(name, {}).get("load", []):
            figures = f"{r['rps']:.0f} req/s, p50 {r['p50_ms']:.1f} / p99 {r['p99_ms']:.1f} ms"
            table.add_row(f"{name} single c={r['concurrency']}", f"{figures}, errors {r['errors']}")
    for row in text.table_rows(report):
        table.add_row(*row)
    for k, v in report["bars"].items():
        table.add_row(f"bar {k}", f"{v['measured']} vs {v['bar']}: {'met' if v['met'] else 'NOT met'}")
    return table


PERF_START, PERF_END = "<!-- bench:start -->", "<!-- bench:end -->"


def markdown(report: dict) -> str:
    """docs/performance.md's generated section, from one bench run."""
    lines = [PERF_START, "", *_header_lines(report)]
    lines += text.markdown_lines(report)
    lines += kb.markdown_lines(report)
    lines += kb_feedback.markdown_lines(report)
    lines += screens.markdown_lines(report)
    lines += _single_claim_lines(report["serving"]["fraud_single"])
    lines += _batch_lines(report["serving"]["fraud_batch"])
    lines += batch.markdown_lines(report)
    lines += release.markdown_lines(report)
    lines += _tuning_and_bar_lines(report)
    lines += ["", PERF_END]
    return "\n".join(lines)


def _header_lines(report: dict) -> list[str]:
    lines = [
        f"Generated by `make bench` ({report['started']}, commit {report['git_commit'][:8]}, "
        f"{report['machine']['cpus']} CPUs, {report['duration_s_per_point']:.0f} s per point; "
        "JSON in `benchmarks/results/bench.json`).",
        "",
    ]
    q = report["quality"].get("fraud")
    if isinstance(q, dict):
        lines += [
            f"Fraud quality ({q['data']}, {q['split']}): ROC-AUC {q['roc_auc']}, PR-AUC {q['pr_auc']}, "
            f"Brier {q['brier']}, precision at recall 0.95 {q['precision_at_recall_95']}.",
            "",
        ]
    return lines


def _single_claim_lines(single: dict) -> list[str]:
    """The one-claim table of every server, the req/s ratios and the rounds at c=8."""
    lines = [
        "| one claim | concurrency | req/s | p50 ms | p95 ms | p99 ms | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in SINGLE_SERVERS:
        for r in single.get(name, {}).get("load", []):
            lines.append(
                f"| {name} | {r['concurrency']} | {r['rps']:.0f} | {r['p50_ms']:.1f} | {r['p95_ms']:.1f} "
                f"| {r['p99_ms']:.1f} | {r['errors']} |"
            )
    levels = [r["concurrency"] for r in single["ccrisk"]["load"]]
    ratios = ", ".join(f"c={c} {x}" for c, x in zip(levels, single["ratio_rps"], strict=True))
    balanced = single.get("ratio_rps_balanced") or [None] * len(levels)
    even = ", ".join(f"c={c} {'none' if x is None else x}" for c, x in zip(levels, balanced, strict=True))
    lines += [
        "",
        f"The servers are up at once, taking turns point by point, {single.get('rounds', 1)} round(s); "
        f"figures are medians over rounds. ccrisk / mlflow req/s, median of the per-round ratios: {ratios}; "
        "over the rounds where both servers spread the connections over their workers (busiest "
        "share <= 0.6; at c=1 every round; the bar reads c=8 from these when there is such a round): "
        f"{even}. "
        "`floor` is BentoML with the same request and response types and a constant answer "
        "(benchmarks/floor_service.py): no model, auth or audit.",
        "",
        _rounds_at(single, 8),
        "",
    ]
    return lines


def _batch_lines(batch: dict) -> list[str]:
    lines = [
        "| batch size | in-process raw predict rows/s | endpoint, no reasons | share (paired rounds) "
        "| endpoint, flagged explained |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n, b in batch.items():
        if n.isdigit():
            lines.append(
                f"| {n} | {b['in_process_raw_predict_rows_per_s']} "
                f"| {b['endpoint_explain_none_claims_per_s']} "
                f"| {b['endpoint_none_vs_raw']} "
                f"| {b['endpoint_explain_flagged_claims_per_s']} |"
            )
    lines += [
        "",
        "Claims/s and rows/s are medians over the rounds; each round times the raw predict once and "
        "then posts the same claims once, and the share is the median of the rounds' ratios.",
    ]
    return lines


def _tuning_and_bar_lines(report: dict) -> list[str]:
    lines = [
        "",
        "| tuning (one claim, concurrency 8) | req/s | p50 ms | p99 ms | busiest share | RSS sum MB "
        "| PSS sum MB |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {k} | {v['rps']:.0f} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} "
        f"| {v.get('busiest_process_cpu_share', '')} | {v.get('rss_mb', '')} | {v.get('pss_mb', '')} |"
        for k, v in report["serving"].get("tuning", {}).items()
    ]
    lines += ["", "| bar | target | measured | met |", "| --- | --- | --- | --- |"]
    return lines + [
        f"| {k} | {v['bar']} | {v['measured']} | {'yes' if v['met'] else 'no'} |"
        for k, v in report["bars"].items()
    ]


def _rounds_at(single: dict, c: int) -> str:
    """Each round's req/s at concurrency `c`, with the busiest process's share of the server's CPU
    (about 0.5: the two workers shared the connections; near 1.0: one worker had them all)."""
    parts = []
    for name in SINGLE_SERVERS:
        rounds_by_level = single.get(name, {}).get("load_rounds", {})
        points = rounds_by_level.get(c) or rounds_by_level.get(str(c))
        if points:
            rounds = ", ".join(f"{p['rps']:.0f} ({p.get('busiest_process_cpu_share')})" for p in points)
            parts.append(f"{name} {rounds}")
    return f"Rounds at c={c}, req/s (busiest process's CPU share): " + "; ".join(parts) + "."


RESULTS_START, RESULTS_END = "<!-- results:start -->", "<!-- results:end -->"
# The README's results table: family, figure, the bar's key in report["bars"] (or "quality:" and a
# dotted path into report["quality"], a figure without a bar).
RESULT_ROWS = (
    ("fraud", "test ROC-AUC (vehicle claims, stratified 80/20)", "quality:fraud.roc_auc"),
    ("fraud", "test PR-AUC", "quality:fraud.pr_auc"),
    ("fraud", "one claim, req/s vs `mlflow models serve` at c=8", "fraud_rps_vs_mlflow_at_c8"),
    ("fraud", "one claim, p99 ms at c=8", "single_claim_p99_ms_at_c8"),
    ("fraud", "10,000-claim batch, share of raw `Booster.predict` speed", "batch_none_share_of_raw_predict"),
    ("contact text", "complaint, CV macro-F1", "complaint_cv_macro_f1"),
    ("contact text", "complaint topic, CV macro-F1", "complaint_topic_cv_macro_f1"),
    ("contact text", "intent (BANKING77), CV accuracy", "intent_cv_accuracy"),
    ("contact text", "one message, p95 ms at c=1", "message_p95_ms_at_c1"),
    ("knowledge base", "MedQuAD, nDCG@10", "kb_medquad_ndcg_at_10"),
    ("knowledge base", "BankFAQs, nDCG@10", "kb_bankfaqs_ndcg_at_10"),
    ("knowledge base", "StackFAQ, nDCG@10", "kb_stackfaq_ndcg_at_10"),
    ("knowledge base", "one query, p95 ms at c=1", "kb_query_p95_ms_at_c1"),
    ("knowledge base", "BankFAQs loop: nDCG@10 before feedback", "quality:kb_feedback.ndcg_at_10.before"),
    ("knowledge base", "BankFAQs loop: after training on feedback", "quality:kb_feedback.ndcg_at_10.after"),
    ("knowledge base", "BankFAQs loop: encoder tuned on it too", "quality:kb_feedback.ndcg_at_10.tuned"),
    ("knowledge base", "BankFAQs loop: full labels (reference)", "quality:kb_feedback.ndcg_at_10.labels"),
    ("screens", "/agent in a browser: Enter to every panel filled, p95 ms", "agent_screen_p95_ms"),
    ("service", "RSS MB, every real model served, 2 workers", "rss_mb_all_models"),
    ("PII masking", "lowest recall of a type (labelled sentences)", "pii_min_recall_per_type"),
    ("PII masking", "precision (labelled sentences)", "pii_precision"),
    ("PII masking", "ms to mask a 20,000-character message", "pii_mask_ms_20k_chars"),
)


def results_table(report: dict) -> str:
    """The README's table: one row per figure, with its bar and whether the run met it."""
    lines = [
        RESULTS_START,
        "",
        f"`make bench` at {report['git_commit'][:8]} ({report['started'][:10]}, "
        f"{report['machine']['cpus']} CPUs); details in docs/performance.md.",
        "",
        "| family | figure | bar | measured | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for family, figure, key in RESULT_ROWS:
        if key.startswith("quality:"):
            value = _quality(report["quality"], key.split(":", 1)[1])
            if value is not None:
                lines.append(f"| {family} | {figure} | | {value} | |")
            continue
        bar = report["bars"].get(key)
        if bar is not None:
            sign = "≤" if key in LOWER_IS_BETTER else "≥"
            met = "yes" if bar["met"] else "no"
            lines.append(f"| {family} | {figure} | {sign} {bar['bar']} | {bar['measured']} | {met} |")
    return "\n".join([*lines, "", RESULTS_END])


def _quality(quality: dict, path: str):
    """The figure at a dotted `path` (None where the run did not measure it)."""
    value = quality
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _replace_block(path: Path, start: str, end: str, block: str) -> None:
    text = path.read_text()
    if start in text and end in text:
        head, rest = text.split(start, 1)
        path.write_text(head + block + rest.split(end, 1)[1])


def update_docs(report: dict) -> None:
    """docs/performance.md's generated section and the README's results table."""
    _replace_block(ROOT / "docs" / "performance.md", PERF_START, PERF_END, markdown(report))
    _replace_block(ROOT / "README.md", RESULTS_START, RESULTS_END, results_table(report))
