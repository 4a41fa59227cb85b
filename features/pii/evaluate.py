"""Recall per type and precision of a PII finder on a labelled set of sentences
(data_samples/pii/contact_sentences.txt: personal data marked `[[TYPE|text]]`).

A labelled span counts as found when predicted spans cover all of it (whatever type they name:
what matters is that it does not survive); a predicted span counts as right when it overlaps
a labelled one. `make bench` reports these (benchmarks/pii.py); tests/model/test_pii_masking.py
holds the bars."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from features.pii.masker import Span

_MARK = re.compile(r"\[\[([A-Z_]+)\|(.+?)\]\]")


@dataclass(frozen=True)
class Labelled:
    text: str
    spans: tuple[Span, ...]


def read_labelled(path: Path) -> list[Labelled]:
    out = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, spans, at = [], [], 0
        for m in _MARK.finditer(line):
            text.append(line[at : m.start()])
            start = sum(map(len, text))
            text.append(m.group(2))
            spans.append(Span(start, start + len(m.group(2)), m.group(1)))
            at = m.end()
        text.append(line[at:])
        out.append(Labelled("".join(text), tuple(spans)))
    return out


def score(sentences: Iterable[Labelled], find: Callable[[str], list[Span]]) -> dict:
    """{"recall": {type: share}, "support": {type: n}, "precision": share, "missed": [...],
    "false_positives": [...]} (the last two as text, for reading the misses)."""
    found, support = defaultdict(int), defaultdict(int)
    right = predicted = 0
    missed, wrong = [], []
    for s in sentences:
        spans = find(s.text)
        covered = bytearray(len(s.text))
        for p in spans:
            covered[p.start : p.end] = b"\x01" * (p.end - p.start)
        for g in s.spans:
            support[g.type] += 1
            if 0 not in covered[g.start : g.end]:
                found[g.type] += 1
            else:
                missed.append(f"{g.type}: {s.text[g.start : g.end]!r} in {s.text!r}")
        for p in spans:
            predicted += 1
            if any(p.start < g.end and g.start < p.end for g in s.spans):
                right += 1
            else:
                wrong.append(f"{p.type}: {s.text[p.start : p.end]!r} in {s.text!r}")
    recall = {t: found[t] / n for t, n in sorted(support.items())}
    return {"recall": recall, "support": dict(sorted(support.items())),
            "precision": right / predicted if predicted else 1.0,
            "missed": missed, "false_positives": wrong}  # fmt: skip
