"""The claim encoding of transform.py, for a few claims as plain dicts, without Polars.

A served claim went through one Polars `select` of ~40 expressions (features and business
rules) on a one-row frame: about 1.5 ms of per-expression overhead, as much as the rest of the
request's own work but TreeSHAP. This module computes the same values in plain Python for the
value shapes the API's request model produces (str, int and finite float); anything else raises
`NotPlain` and the caller takes the Polars path, which stays the definition. The two must agree
exactly: tests/unit/test_rowpath.py holds them equal on generated and edge-case claims, and
tests/data/test_rowpath_real.py on every real development claim.

Polars semantics reproduced here (transform.py): a category is its text (`_as_text`: integer-coded
levels go through float and int, so "07" is "7"), its code is the index of that text in the
levels (none for missing codes and unknown values); numbers cast to float, missing codes none;
the calendar gap is floor-modulo 365.25 and rounded half to even; a parts mismatch compares texts.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

from features.claims.derived import CalendarGap, DerivedFeature, PartsMismatch
from features.claims.spec import ClaimSpec, ColumnSpec
from features.claims.transform import DAYS_PER_MONTH

MAX_EXACT = 2**53  # beyond this an int does not survive Polars' float cast unchanged
_INT_TEXT = re.compile(r"-?[0-9]{1,15}")


class NotPlain(ValueError):
    """A value outside the shapes this path reproduces: use the Polars path for these claims."""


class RowColumn:
    """One raw column's encoding, compiled from its spec."""

    def __init__(self, name: str, cs: ColumnSpec):
        self.name = name
        self.categorical = cs.is_categorical
        self.int_coded = bool(cs.levels) and all(isinstance(v, int) for v in cs.levels)
        self.as_text = cs.open_levels  # read as text (serving/domain/fraud.py)
        self.codes = {text: float(i) for i, text in enumerate(cs.level_strings())}
        # top_levels: a value outside the learned levels (and the missing codes) is "other"
        self.other = float(len(cs.levels)) if cs.top_levels is not None and cs.levels else None
        self.missing_text = set(cs.missing_strings())
        self.missing = set(cs.missing_numbers()) if not cs.is_categorical else set()

    def frame_value(self, v: Any) -> Any:
        """The value as the served frame holds it (text for open-vocabulary categories)."""
        _plain(self.name, v)
        if not self.as_text or v is None:
            return v
        if isinstance(v, float):
            raise NotPlain(f"{self.name}: a float for an open-vocabulary category")
        return str(v)

    def text(self, v: Any) -> str | None:
        """transform._as_text"""
        v = self.frame_value(v)
        if v is None:
            return None
        if not self.int_coded:
            if isinstance(v, float):
                raise NotPlain(f"{self.name}: a float for a category")
            return str(v)
        if isinstance(v, str):
            if not _INT_TEXT.fullmatch(v):
                raise NotPlain(f"{self.name}: {v!r} is not integer text")
            v = int(v)
        if isinstance(v, float) or abs(v) > MAX_EXACT:
            raise NotPlain(f"{self.name}: not a plain integer code")
        return str(v)

    def code(self, v: Any) -> float | None:
        """transform._category_codes"""
        text = self.text(v)
        if text is None:
            return None
        code = self.codes.get(text)
        if code is None and self.other is not None and text not in self.missing_text:
            return self.other
        return code

    def number(self, v: Any) -> float | None:
        """transform._numeric"""
        _plain(self.name, v)
        if v is None:
            return None
        if isinstance(v, str) or abs(v) > MAX_EXACT or (v == 0 and math.copysign(1.0, v) < 0):
            raise NotPlain(f"{self.name}: not a plain number")
        x = float(v)
        return None if x in self.missing else x

    def encoded(self, v: Any) -> float | None:
        """transform.column_expr"""
        return self.code(v) if self.categorical else self.number(v)


def _plain(name: str, v: Any) -> None:
    if v is None or isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)):
        return
    if not isinstance(v, float) or not math.isfinite(v):
        raise NotPlain(f"{name}: {type(v).__name__} value {v!r}")


def _frame_text(col: RowColumn, v: Any) -> str | None:
    """`pl.col(c).cast(pl.Utf8)` on the served frame (floats are refused: Polars prints them
    its own way)."""
    v = col.frame_value(v)
    if isinstance(v, float):
        raise NotPlain(f"{col.name}: a float in a text comparison")
    return None if v is None else str(v)


class RowEncoder:
    """ClaimEncoder's features for claims given as dicts of their spec columns."""

    def __init__(self, spec: ClaimSpec):
        self.spec = spec
        self.columns = {c: RowColumn(c, cs) for c, cs in spec.columns.items()}
        self.required = spec.needed_columns
        self.features = [c for c, s in spec.columns.items() if s.feature]

    def derived(self, d: DerivedFeature, row: dict[str, Any]) -> float | None:
        """transform.derived_expr (the calendar gap and the parts mismatch; the Polars path
        computes the other kinds)"""
        cols = self.columns
        if not isinstance(d, CalendarGap | PartsMismatch):
            raise NotPlain(f"{d.name}: a {d.kind} feature")
        if isinstance(d, PartsMismatch):
            whole = _frame_text(cols[d.column], row[d.column])
            parts = [_frame_text(cols[p], row[p]) for p in d.parts]
            if whole is None or any(p is None for p in parts):
                return None
            return float(whole != d.separator.join(parts))  # type: ignore[arg-type]
        days = []
        for point in (d.start, d.end):
            month = cols[point.month].code(row[point.month])
            week = cols[point.week_of_month].number(row[point.week_of_month])
            dow = cols[point.day_of_week].code(row[point.day_of_week])
            if month is None or week is None or dow is None:
                return None
            days.append(month * DAYS_PER_MONTH + (week - 1) * 7 + dow)
        return float(round((days[1] - days[0]) % 365.25))  # Python's % floors, as Polars' mod

    def values(self, row: dict[str, Any]) -> list[float | None]:
        """One claim's features in `spec.feature_names` order (None = missing)."""
        absent = [c for c in self.required if c not in row]
        if absent:
            raise NotPlain(f"columns {absent} are absent")
        out = [self.columns[c].encoded(row[c]) for c in self.features]
        return out + [self.derived(d, row) for d in self.spec.derived]

    def encode(self, rows: list[dict[str, Any]]) -> tuple[np.ndarray, list[list[float | None]]]:
        """(feature matrix with NaN for missing, the same values with None), like
        ClaimEncoder.matrix and its features frame."""
        values = [self.values(r) for r in rows]
        x = np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)
        return x.reshape(len(rows), len(self.spec.feature_names)), values
