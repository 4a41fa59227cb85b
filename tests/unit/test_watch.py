"""`ccrisk monitor run`'s parts: thresholds judged only with enough rows, the language share, the
binary task's classes, the alert webhook (a receiver on loopback), the report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ccrisk.ops.watch import Statistic, Watch, _other_language, _served_classes, post_alerts
from ccrisk.ops.watch_report import html_report


def test_a_threshold_is_crossed_only_when_judged_and_on_its_side():
    watch = Watch()
    watch.add(Statistic("m", "psi", 0.4, 0.2, rows=50), min_rows=30)
    watch.add(Statistic("m", "acceptance", 0.3, 0.5, "below", rows=50), min_rows=30)
    watch.add(Statistic("m", "few", 0.9, 0.2, rows=3), min_rows=30)
    watch.add(Statistic("m", "fine", 0.1, 0.2, rows=50), min_rows=30)
    watch.add(Statistic("m", "none", None, 0.2, rows=50), min_rows=30)
    assert [a.name for a in watch.alerts] == ["psi", "acceptance"]
    assert not watch.statistics[2].judged


def test_messages_not_in_english_are_counted_when_long_enough():
    share, note = _other_language([
        "My claim payment is late again and nobody calls me back",
        "Mi reclamación no ha sido pagada todavía y nadie me llama",
        "hi",
    ])  # fmt: skip
    assert share == 0.5 and note == "1 of 2 messages of 4+ words"
    assert _other_language(["ok", "thanks"])[0] is None


def test_a_binary_tasks_classes_come_from_its_probability():
    served = pd.DataFrame({"label": ["high", "low"], "score": [0.9, 0.2]})
    ref = {"classes": ["complaint", "not_complaint"], "positive": "complaint"}
    assert _served_classes(served, ref) == ["complaint", "not_complaint"]
    assert _served_classes(served.assign(label=["a", "b"]), {"classes": ["a", "b"]}) == ["a", "b"]


def test_alerts_are_posted_to_the_webhook(webhook):
    url, got = webhook
    alert = Statistic("ccrisk-kb", "no_answer_rate", 0.62, 0.4, rows=80)
    post_alerts(url, {"html": "/x/report.html", "mlflow_run": "r1"}, [alert])
    assert got[0]["alerts"][0]["name"] == "no_answer_rate" and got[0]["mlflow_run"] == "r1"
    assert "ccrisk-kb no_answer_rate = 0.620 (above 0.4)" in got[0]["text"]


def test_a_webhook_that_cannot_be_reached_is_an_error():
    import httpx

    with pytest.raises(httpx.HTTPError):
        post_alerts("http://127.0.0.1:9/hook", {}, [])


def test_the_report_marks_crossed_thresholds_and_draws_the_distributions():
    stats = [{**Statistic("m", "psi", 0.4, 0.2, rows=50).__dict__, "crossed": True}]
    plots = {"m: scores": {"training": np.random.rand(50), "served": np.random.rand(40)}}
    page = html_report({"generated_at": "now", "window_s": 86400, "alerts": 1, "statistics": stats}, plots)
    assert "class='crossed'" in page and "data:image/png;base64," in page and "1 threshold(s) crossed" in page
