"""Pattern and lexicon recognisers for the personal data of insurance contact-centre text.

Each recogniser finds spans on the original text; overlapping finds are resolved (the earlier
recogniser in RECOGNISERS wins, then the longer span) and the text is rewritten once. No model
runs: a 20,000-character message is masked in a few milliseconds, against ~300 ms for the spaCy
NER pass it replaces (docs/decisions/0011-pii-masking.md has the comparison on the labelled set).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

PII_TYPES = ("PERSON", "PLATE", "DOB", "POSTCODE", "IBAN", "NATIONAL_ID", "EMAIL", "PHONE", "CARD",
             "IP", "POLICY", "ADDRESS")  # fmt: skip


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    type: str


_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-]\d{{2,4}}|\d{{4}}-\d{{2}}-\d{{2}}"
    rf"|\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}\.?,?\s+\d{{4}}"
    rf"|{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})"
)
EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
IPV4 = re.compile(r"\b(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\b")
IPV6 = re.compile(r"(?i)(?<![\w:])(?:[0-9a-f]{1,4}:){2,7}(?::|[0-9a-f]{1,4})(?:[0-9a-f:]*)(?![\w:])")
CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}[- ](?!00)\d{2}[- ](?!0000)\d{4}\b")
NINO = re.compile(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b")
DOB = re.compile(
    r"(?i)\b(?:born(?:\s+on)?|d\.?o\.?b\.?|date\s+of\s+birth(?:\s+is)?|birthday(?:\s+is)?)"
    rf"\s*[:\-]?\s*({_DATE})"
)
REFERENCE = re.compile(
    r"(?i)\b(?:policy|claim|account|acct|member|reference|ref|case)(?:\s*(?:no\.?|number|num|#|id|ref))?"
    r"(?:\s+is)?\s*[:#]?\s*([A-Z]{0,4}[-/]?\d[\dA-Z/-]{3,})\b"
)
REFERENCE_FORM = re.compile(r"\b(?:POL|CLM|CLA|PLC|ACC|REF|CL|PX|MTR|HH)[-/]?\d[\d-]{3,}\b")
PLATE = re.compile(r"\b(?:[A-Z]{2}\d{2} ?[A-Z]{3}|[A-Z]\d{1,3} ?[A-Z]{3}|[A-Z]{3} ?\d{1,3}[A-Z])\b")
PLATE_CUE = re.compile(
    r"(?i)\b(?:reg(?:istration)?|(?:number|licen[cs]e)\s+plate|plate|tag)(?:\s+(?:no\.?|number|plate))?\b"
    r"(?:\s+is)?\s*[:#]?\s*((?=[A-Z -]*\d)[A-Z0-9]{1,4}[ -]?[A-Z0-9]{2,4}(?:[ -][A-Z0-9]{1,4})?)\b"
)
POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|[A-Z]{1,2}\d{1,2}) ?\d[ABD-HJLNP-UW-Z]{2}\b")
ZIP = re.compile(
    r"(?:\b[A-Z]{2}|(?i:\bzip(?:\s*code)?|\bpost\s*code))(?:\s+is)?\s*[:#]?\s*(\d{5}(?:-\d{4})?)\b"
)
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,5}\)\s?|\d{2,5}[\s.-])\d{3,4}[\s.-]?\d{3,4}(?!\w)"
    r"|(?<![\w+])(?:\+44\s?|0)7\d{3}\s?\d{6}(?!\w)|(?<![\w+])\+?\d{11,13}(?!\w)"
    r"|(?<![\w+])\+\d{1,3}(?:[\s.-]?(?:\(\d{1,4}\)|\d{1,5})){2,5}(?!\w)"
)
ADDRESS = re.compile(
    r"\b\d{1,5}\s+(?:[A-Z][a-z]+\s+){1,3}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Lane|Ln|Drive|Dr|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace"
    r"|Close|Crescent|Gardens)\b\.?"
)
LONG_DIGITS = re.compile(r"\b\d{6,}\b")

_WORD = r"(?:Mc|Mac|O')?[A-Z][a-z]+(?:-[A-Z][a-z]+)?"
_SURNAMES = rf"(?:\s+(?:van\s+|de\s+|da\s+)?{_WORD}){{0,2}}"
TITLED = re.compile(rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Sir|Lady)\.?\s+{_WORD}{_SURNAMES}")
CUED = re.compile(
    rf"\b(?i:my name is|name'?s|this is|i am|i'm|spoke (?:to|with)|speaking (?:to|with)|talked to|"
    rf"agent|adviser|advisor|handler|customer|policyholder|insured|driver|dear|hi|hello|thanks|"
    rf"thank you|regards|cheers|"
    rf"my (?:wife|husband|partner|son|daughter|mother|mum|father|dad|brother|sister|neighbour|friend)|"
    rf"named|called|signed)[,:]?\s+({_WORD}{_SURNAMES})"
)
CAPITALISED = re.compile(rf"\b({_WORD})(?=((?:\s+{_WORD}){{0,2}}))")  # a lookahead: "Can Niamh" finds Niamh


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


AMBIGUOUS = _words(
    "Will May June April August Mark Grace Bill Rose Frank Faith Hope Joy Summer Dawn Jack Sue Pat "
    "Ray Art Rich Penny Ruby Amber Jade Holly Ivy Lily Daisy Iris Poppy Crystal Destiny Harmony Sky "
    "Brook Chase Hunter Miles Guy Gene Carol Jean Lee Jan Kim Kerry Derby Chelsea Paris Jordan "
    "Winston Ashley Lynn Glen Dale Victoria Georgia Florence Madison Austin Sydney Tyler Mason "
    "Stanley Leon Rob Rita Nancy Vera Drew Dean Grant Heather Hugh Marion Norman Percy Reg Roy Royal "
    "Sandy Shannon Sterling Tom Terry Carmen Bob"
)
# A capitalised word that ends a cued name is not a surname when it starts the next thought.
_NOT_NAMES = _words(
    "I I'm I've It The This That There They We You He She My Your Our His Her Its A An And But Or So "
    "Not Very Really Still Calling Writing Trying Going Unable Sorry Please Thanks Thank Hello Hi "
    "Yes No Ok Okay Monday Tuesday Wednesday Thursday Friday Saturday Sunday Today Tomorrow "
    "Yesterday Claims Claim Policy Insurance Motor Home Customer Service Team Support Department "
    "Accounts Billing Complaints Car Van January February March September October November December "
    "Christmas Easter London Manchester"
)


@cache
def given_names() -> frozenset[str]:
    text = resources.files("features.pii").joinpath("given_names.txt").read_text()
    words = (w for line in text.splitlines() if not line.startswith("#") for w in line.split())
    return frozenset(words)


def _group(pattern: re.Pattern, kind: str, group: int = 0) -> Callable[[str], Iterator[Span]]:
    def find(text: str) -> Iterator[Span]:
        for m in pattern.finditer(text):
            yield Span(m.start(group), m.end(group), kind)

    return find


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def luhn_ok(digits: str) -> bool:
    """Payment-card check digit (tells card numbers from other long digit runs)."""
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _iban_ok(value: str) -> bool:
    s = value.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    moved = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _ibans(text: str) -> Iterator[Span]:
    for m in IBAN.finditer(text):
        if _iban_ok(m.group(0)):
            yield Span(m.start(), m.end(), "IBAN")


def _cards(text: str) -> Iterator[Span]:
    for m in CARD.finditer(text):
        digits = _digits(m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            yield Span(m.start(), m.end(), "CARD")


def _names(text: str) -> Iterator[Span]:
    """Titled names, cued names ("my name is ...", "spoke to ..."), and capitalised words that are
    known given names, each with the capitalised words after it (its surname)."""
    yield from _group(TITLED, "PERSON")(text)
    for m in CUED.finditer(text):
        words = m.group(1).split()
        while words and words[-1] in _NOT_NAMES:
            words.pop()
        if words and words[0] not in _NOT_NAMES:
            yield Span(m.start(1), m.start(1) + len(" ".join(words)), "PERSON")
    names = given_names()
    for m in CAPITALISED.finditer(text):
        first, rest = m.group(1), m.group(2)
        if first in AMBIGUOUS:
            if not rest:
                continue
        elif first not in names:
            continue
        words = list(re.finditer(r"\S+", rest))
        while words and words[-1].group(0) in _NOT_NAMES:
            words.pop()
        yield Span(m.start(1), m.end(1) + (words[-1].end() if words else 0), "PERSON")


RECOGNISERS: tuple[Callable[[str], Iterator[Span]], ...] = (
    _group(EMAIL, "EMAIL"),
    _ibans,
    _group(DOB, "DOB", 1),
    _group(IPV4, "IP"),
    _group(IPV6, "IP"),
    _cards,
    _group(SSN, "NATIONAL_ID"),
    _group(NINO, "NATIONAL_ID"),
    _group(REFERENCE, "POLICY", 1),
    _group(REFERENCE_FORM, "POLICY"),
    _group(PLATE_CUE, "PLATE", 1),
    _group(PLATE, "PLATE"),
    _group(POSTCODE, "POSTCODE"),
    _group(PHONE, "PHONE"),
    _group(ZIP, "POSTCODE", 1),
    _group(ADDRESS, "ADDRESS"),
    _names,
    _group(LONG_DIGITS, "NUMBER"),
)


def find_pii(text: str) -> list[Span]:
    """Non-overlapping spans of personal data, in text order: an earlier recogniser wins an
    overlap, then the longer span."""
    found = [
        (rank, span.start - span.end, span.start, span)
        for rank, recognise in enumerate(RECOGNISERS)
        for span in recognise(text)
        if span.end > span.start
    ]
    found.sort(key=lambda f: f[:3])
    taken = bytearray(len(text))
    chosen: list[Span] = []
    for *_, span in found:
        if 1 not in taken[span.start : span.end]:
            taken[span.start : span.end] = b"\x01" * (span.end - span.start)
            chosen.append(span)
    return sorted(chosen, key=lambda s: s.start)


def mask_pii(text: str) -> str:
    """`text` with each span of personal data replaced by its type: [PERSON], [PLATE], [DOB]..."""
    out, at = [], 0
    for span in find_pii(text):
        out += [text[at : span.start], f"[{span.type}]"]
        at = span.end
    out.append(text[at:])
    return "".join(out)
