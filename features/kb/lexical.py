"""Lexical matching for the knowledge base: tokens for BM25 (bm25s) and snippet highlighting.

Lower-cased word tokens, English stop words (bm25s' list) removed, Snowball-stemmed (PyStemmer),
so "claims", "claimed" and "claim" match. The same function tokenises articles and queries.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

TOKEN = re.compile(r"(?u)\b\w\w+\b")
WORD = re.compile(r"\S+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def tokenize(text: str) -> list[str]:
    stop = _stopwords()
    words = [w for w in TOKEN.findall(text.lower()) if w not in stop]
    return _stemmer().stemWords(words)


def stems(words: list[str]) -> list[str]:
    return _stemmer().stemWords([w.lower() for w in words])


def best_window(hits: list[int], width: int = 40) -> tuple[int, int]:
    """Word range [start, end) of the `width`-word window with the most hits (1 per query term)."""
    if len(hits) <= width:
        return 0, len(hits)
    best, best_start, current = -1, 0, sum(hits[:width])
    for start in range(len(hits) - width + 1):
        if start:
            current += hits[start + width - 1] - hits[start - 1]
        if current > best:
            best, best_start = current, start
    return best_start, best_start + width


def _core(word: str) -> str:
    """The word without punctuation ("claim," -> "claim")."""
    return "".join(TOKEN.findall(word.lower()))


def highlight(passage: str, query: str, width: int = 40) -> str:
    """The passage's best `width`-word window, HTML-escaped, query terms wrapped in <mark>."""
    q = set(tokenize(query))
    words = WORD.findall(passage)
    cores = [_core(w) for w in words]
    hits = [1 if c and s in q else 0 for c, s in zip(cores, stems(cores), strict=True)]  # stemmed once
    start, end = best_window(hits, width)
    out = [
        f"<mark>{html.escape(w)}</mark>" if h else html.escape(w) for w, h in zip(words, hits, strict=True)
    ]
    prefix = "… " if start else ""
    suffix = " …" if end < len(words) else ""
    return prefix + " ".join(out[start:end]) + suffix
