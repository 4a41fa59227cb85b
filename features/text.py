"""Customer-message text normalisation for models, shared by training and serving.
PII masking lives in features/pii."""

from __future__ import annotations

import re
import unicodedata

URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+")
MENTION = re.compile(r"(?<![\w@])@\w{1,30}")
REDACTION = re.compile(r"\b[Xx]{2,}(?:[/-][Xx]{2,})*\b")  # CFPB: XXXX, XX/XX/XXXX
SPACE = re.compile(r"\s+")

# The characters `str.strip()` removes (`str.isspace()`), as a JSON Schema pattern: a text must
# hold one character outside them. The endpoints refuse white-space-only text with `strip()`, so
# the OpenAPI document states the same rule (tests/unit/test_text.py checks the list).
SPACE_CHARS = (
    "\\t\\n\\u000b\\u000c\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a"
    "\\u2028\\u2029\\u202f\\u205f\\u3000"
)
NOT_ONLY_SPACE = f"[^{SPACE_CHARS}]"


def normalize(text: str) -> str:
    """Model-ready text: Unicode NFKC, URLs, @mentions and CFPB redactions replaced by tokens,
    white space collapsed."""
    text = unicodedata.normalize("NFKC", text)
    text = URL.sub(" <url> ", text)
    text = MENTION.sub("@user", text)
    text = REDACTION.sub("<redacted>", text)
    return SPACE.sub(" ", text).strip()
