"""Checks of a labelled claims table against its spec, before training: every failure names the
column, an example value and the fix. The target is returned as 0/1 whatever its raw values."""

from __future__ import annotations

import numpy as np
import polars as pl

from features.claims.spec import ClaimSpec, ColumnSpec, is_number
from features.claims.transform import SchemaError, _as_text, date_expr

EMPTY_TARGET = ("", "?", "na", "n/a", "null", "none")  # a target cell that says nothing


def unknown_values(frame: pl.DataFrame, col: str, spec: ColumnSpec) -> list[str]:
    """Distinct non-null values of a categorical column outside its levels and missing codes."""
    allowed = set(spec.level_strings()) | set(spec.missing_strings())
    values = frame.select(_as_text(col, spec).drop_nulls().unique()).to_series().to_list()
    return sorted(v for v in values if v not in allowed)


def validate(frame: pl.DataFrame, spec: ClaimSpec, *, require_target: bool = True) -> pl.DataFrame:
    """Strict checks for training data; raises SchemaError naming the column, value and fix.
    Returns the frame with the target as 0/1 (1: one of the spec's `positive` values)."""
    needed = list(spec.columns) + ([spec.target] if require_target and spec.target else [])
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise SchemaError(
            absent[0],
            f"missing from the data (all missing: {absent}); rename the file's columns "
            f"or pass --spec with a spec for this table (spec {spec.name!r} expects them)",
        )
    for col, cs in spec.columns.items():
        if cs.is_categorical and cs.top_levels is None:
            bad = unknown_values(frame, col, cs)
            if bad:
                raise SchemaError(
                    col,
                    f"{len(bad)} value(s) not in the spec, e.g. {bad[:5]}; add them to "
                    f"`levels` (or `missing_codes`) of {col} in spec {spec.name!r}",
                )
        elif cs.is_numeric:
            _check_numeric(frame, col, cs)
        elif cs.is_temporal:
            _check_dates(frame, col, cs)
    if require_target and spec.target:
        frame = frame.with_columns(target_labels(frame, spec))
    return frame


def _check_numeric(frame: pl.DataFrame, col: str, cs: ColumnSpec) -> None:
    raw = frame.get_column(col)
    values = raw.cast(pl.Float64, strict=False)
    coded = raw.cast(pl.Utf8).str.strip_chars().is_in(cs.missing_strings())
    bad = values.is_null() & raw.is_not_null() & ~coded
    if bad.any():
        example = raw.filter(bad).head(3).to_list()
        raise SchemaError(
            col, f"non-numeric values such as {example}; expected {cs.type} (or add them to `missing_codes`)"
        )
    lo = cs.min if cs.min is not None else -np.inf
    hi = cs.max if cs.max is not None else np.inf
    missing = set(cs.missing_numbers())
    outside = values.filter(((values < lo) | (values > hi)) & ~values.is_in(list(missing)))
    if len(outside):
        raise SchemaError(
            col,
            f"{len(outside)} value(s) outside [{cs.min}, {cs.max}], e.g. {outside[0]}; "
            "fix the data or widen min/max in the spec",
        )


def _check_dates(frame: pl.DataFrame, col: str, cs: ColumnSpec) -> None:
    parsed = frame.select(date_expr(col, cs)).to_series()
    raw = frame.get_column(col).cast(pl.Utf8).str.strip_chars()
    bad = parsed.is_null() & raw.is_not_null() & ~raw.is_in(cs.missing_strings()) & (raw != "")
    if bad.any():
        example = raw.filter(bad).head(3).to_list()
        raise SchemaError(
            col,
            f"{int(bad.sum())} value(s) are not dates in the format {cs.date_format!r}, e.g. {example}; "
            "fix `format` in the spec or add the values to `missing_codes`",
        )


def target_labels(frame: pl.DataFrame, spec: ClaimSpec) -> pl.Series:
    """The target as 0/1 (Int8): 1 where the value is one of `positive` (as text, any case)."""
    target = spec.target
    raw = frame.get_column(target)
    text = raw.cast(pl.Utf8).str.strip_chars().str.to_lowercase()
    empty = raw.is_null() | text.is_in(EMPTY_TARGET)
    if empty.any():
        raise SchemaError(
            target, f"{int(empty.sum())} row(s) have no target value; label them or drop them from the file"
        )
    positive = [str(v).strip().lower() for v in spec.positive]
    hit = text.is_in(positive)
    numbers = [float(v) for v in spec.positive if is_number(v)]
    if numbers:
        hit = hit | raw.cast(pl.Float64, strict=False).is_in(numbers).fill_null(False)
    found = sorted(set(text.unique().to_list()))  # compared without case, as `positive` is
    if len(found) > 2 or hit.all() or not hit.any():
        raise SchemaError(
            target,
            f"the target must hold two values, one in `positive` {spec.positive} (found {found[:10]}); "
            "set `positive` in the spec to the value(s) that mean fraud, e.g. positive: [Y]",
        )
    return hit.cast(pl.Int8).alias(target)
