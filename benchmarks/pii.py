"""PII masking in `make bench`: recall per type and precision on the labelled sentences
(data_samples/pii), and the time to mask a 20,000-character message (the longest the contact
endpoints accept), median of 20 runs. Cheap: measured in every run."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from features.contact.api import MAX_TEXT_CHARS
from features.pii import find_pii, mask_pii
from features.pii.evaluate import read_labelled, score

SET = Path(__file__).resolve().parents[1] / "data_samples" / "pii" / "contact_sentences.txt"
RECALL_BAR, PRECISION_BAR, MS_BAR = 0.95, 0.90, 50.0


def measure() -> dict:
    sentences = read_labelled(SET)
    result = score(sentences, find_pii)
    text = " ".join(s.text for s in sentences)
    text = (text * (MAX_TEXT_CHARS // len(text) + 1))[:MAX_TEXT_CHARS]
    times = []
    for _ in range(21):
        start = time.perf_counter()
        mask_pii(text)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "sentences": len(sentences),
        "recall": {t: round(r, 4) for t, r in result["recall"].items()},
        "support": result["support"],
        "precision": round(result["precision"], 4),
        "min_recall": round(min(result["recall"].values()), 4),
        "mask_ms_20k_chars": round(statistics.median(times[1:]), 2),
    }


def quality_bars(pii: dict) -> dict:
    if not pii:
        return {}
    return {"pii_min_recall_per_type": (RECALL_BAR, pii["min_recall"]),
            "pii_precision": (PRECISION_BAR, pii["precision"])}  # fmt: skip
