"""`ccrisk spec draft`: a first claim spec guessed from a claims table, for a person to review.

Each column's type comes from its values: numbers (integer or not), dates and datetimes (the
first format in DATE_FORMATS that reads every value), free text and ids (kept out of the
features), categories (their levels listed, or learned in training when there are many). Cells
such as '?' or 'N/A' become missing codes. The draft trains as it is written.
"""

from __future__ import annotations

import itertools
import logging
import re
from datetime import datetime
from typing import Any

import polars as pl

from features.claims.spec import ClaimSpec

logger = logging.getLogger(__name__)
MISSING_TOKENS = ("?", "NA", "N/A", "n/a", "na", "-", "--", "null", "NULL", "#N/A", "none given")
DATE_FORMATS = (
    ("date", "%Y-%m-%d"), ("date", "%d/%m/%Y"), ("date", "%m/%d/%Y"), ("date", "%Y/%m/%d"),
    ("date", "%d-%m-%Y"), ("date", "%d.%m.%Y"), ("datetime", "%Y-%m-%d %H:%M:%S"),
    ("datetime", "%Y-%m-%dT%H:%M:%S"), ("datetime", "%Y-%m-%d %H:%M"), ("datetime", "%d/%m/%Y %H:%M"),
)  # fmt: skip
MAX_LEVELS = 30  # more distinct values than this: levels are learned in training (top_levels)
TOP_LEVELS = 20
TEXT_MIN_WORDS = 4  # free text: values of several words, mostly distinct
ID_NAME = re.compile(r"(^|_|\b)(id|ref|reference|number|no|num|code)$|id$", re.IGNORECASE)
POSITIVE = ("1", "y", "yes", "true", "t", "fraud", "fraudulent")


def _label(name: str) -> str:
    words = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").split()
    return " ".join(words).lower()


def _values(series: pl.Series) -> tuple[pl.Series, list[str]]:
    """The column as trimmed text without nulls and missing tokens, and the tokens found."""
    text = series.cast(pl.Utf8).str.strip_chars().drop_nulls()
    text = text.filter(text != "")
    codes = sorted(set(text.filter(text.is_in(MISSING_TOKENS)).to_list()))
    return text.filter(~text.is_in(MISSING_TOKENS)), codes


def _date_type(values: pl.Series) -> tuple[str, str] | None:
    sample = values.head(2000).to_list()
    for kind, fmt in DATE_FORMATS:
        try:
            for v in sample:
                datetime.strptime(v, fmt)
        except ValueError:
            continue
        return kind, fmt
    return None


def _numeric_type(values: pl.Series) -> str | None:
    numbers = values.cast(pl.Float64, strict=False)
    if numbers.null_count():
        return None
    return "integer" if (numbers == numbers.round(0)).all() else "number"


def guess_column(name: str, series: pl.Series, rows: int) -> dict[str, Any]:
    """One column's spec entry."""
    values, codes = _values(series)
    entry: dict[str, Any] = {"label": _label(name)}
    distinct = values.n_unique()
    numeric = _numeric_type(values) if len(values) else "number"
    dated = _date_type(values) if len(values) and not numeric else None
    if numeric:
        looks_like_id = ID_NAME.search(name) and distinct >= 0.95 * max(len(values), 1)
        entry["type"] = "id" if looks_like_id else numeric
    elif dated:
        entry["type"], entry["format"] = dated
    elif distinct <= MAX_LEVELS:
        entry["type"] = "nominal"
        entry["levels"] = sorted(values.unique().to_list())
    elif values.str.split(" ").list.len().mean() >= TEXT_MIN_WORDS and distinct >= 0.5 * len(values):
        entry["type"] = "text"
    elif distinct >= 0.95 * len(values):
        entry["type"] = "id"
    else:
        entry.update(type="nominal", top_levels=TOP_LEVELS)
    if codes:
        entry["missing_codes"] = codes
    if entry["type"] == "nominal" and "levels" in entry:
        entry["unknown"] = "missing"  # a value the table did not show is scored as unknown, not refused
    if entry["type"] in ("integer", "number") and not codes and series.null_count() == rows:
        entry["type"] = "number"
    return {"type": entry.pop("type"), **entry}


def positive_values(series: pl.Series, name: str) -> list[str | int]:
    """The target value(s) that mean fraud: a conventional positive word or 1, else the rarer value."""
    values, _ = _values(series)
    counts = values.value_counts(sort=True)
    found = counts.get_column(values.name).to_list()
    if len(found) != 2:
        raise ValueError(
            f"--target {name}: a target needs two values (fraud or not); this column has {len(found)}: "
            f"{found[:10]}"
        )
    for v in found:
        if v.lower() in POSITIVE:
            return [int(v)] if v.isdigit() else [v]
    rarer = found[-1]
    return [int(rarer)] if rarer.isdigit() else [rarer]


def draft_spec(frame: pl.DataFrame, target: str, name: str) -> dict[str, Any]:
    """The draft as YAML-ready data; it validates as a ClaimSpec (checked before it is returned)."""
    if target not in frame.columns:
        raise ValueError(f"--target {target}: no such column; the table has {frame.columns}")
    columns = {c: guess_column(c, frame.get_column(c), frame.height) for c in frame.columns if c != target}
    ids = [c for c, e in columns.items() if e["type"] == "id"]
    identifier = next((c for c in ids if ID_NAME.search(c)), ids[0] if ids else None)
    if identifier:
        columns.pop(identifier)
    dates = [c for c, e in columns.items() if e["type"] in ("date", "datetime")]
    derived = [
        {
            "name": f"days_{start}_to_{end}",
            "kind": "days_between",
            "label": f"days from {columns[start]['label']} to {columns[end]['label']}",
            "start": start,
            "end": end,
        }
        for start, end in itertools.pairwise(dates)
    ]
    draft = {
        "name": name,
        "version": "0.1",
        "identifier": identifier,
        "target": target,
        "positive": positive_values(frame.get_column(target), target),
        "columns": columns,
        "derived": derived,
    }
    ClaimSpec.model_validate(draft)
    return {k: v for k, v in draft.items() if v not in (None, [])}
