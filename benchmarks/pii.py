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
    """ccrisk's masker, and Presidio's analyzer with its default recognisers beside it (a dev
    dependency; docs/decisions/0011-pii-masking.md)."""
    sentences = read_labelled(SET)
    out = _figures(sentences, find_pii, mask_pii, runs=21)
    try:
        out["presidio"] = _figures(sentences, presidio_finder(), None, runs=3)
    except ImportError as exc:
        out["presidio"] = {"skipped": f"presidio-analyzer is not installed ({exc}): pip install -e '.[dev]'"}
    return out


def _figures(sentences, find, mask, runs: int) -> dict:
    result = score(sentences, find)
    text = " ".join(s.text for s in sentences)
    text = (text * (MAX_TEXT_CHARS // len(text) + 1))[:MAX_TEXT_CHARS]
    run = mask or find
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        run(text)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "sentences": len(sentences),
        "recall": {t: round(r, 4) for t, r in result["recall"].items()},
        "support": result["support"],
        "precision": round(result["precision"], 4),
        "min_recall": round(min(result["recall"].values()), 4),
        "mask_ms_20k_chars": round(statistics.median(times[1:]), 2),
    }


def presidio_finder():
    """Presidio's AnalyzerEngine, offline: the packaged small spaCy model (its default config asks
    for en_core_web_lg) and tldextract on its bundled suffix list (it would download one)."""
    import tldextract
    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine import NlpEngineProvider

    from features.contact.phrases import SPACY_MODEL
    from features.pii.masker import Span

    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=())
    config = {"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": SPACY_MODEL}]}
    engine = AnalyzerEngine(nlp_engine=NlpEngineProvider(nlp_configuration=config).create_engine())

    def find(text: str) -> list:
        return [Span(r.start, r.end, r.entity_type) for r in engine.analyze(text=text, language="en")]

    return find


def quality_bars(pii: dict) -> dict:
    if not pii:
        return {}
    return {"pii_min_recall_per_type": (RECALL_BAR, pii["min_recall"]),
            "pii_precision": (PRECISION_BAR, pii["precision"])}  # fmt: skip
