"""Claim frame validation and encoding (Polars), shared by training and the served scorer.

`encode` turns raw claim rows into the float matrix the booster sees, in `spec.feature_names`
order: categories become their index in `levels` (the natural order for ordinal fields), missing
codes and unknown values become NaN (LightGBM's missing), and derived features are computed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from features.claims.derived import (
    CalendarGap,
    DatePart,
    DaysBetween,
    DerivedFeature,
    Equals,
    PartsMismatch,
    Ratio,
)
from features.claims.spec import ClaimSpec, ColumnSpec

logger = logging.getLogger(__name__)
DAYS_PER_MONTH = 365.25 / 12
# A date column read from Parquet arrives typed; as text it is ISO, whatever the spec's format.
ISO_FORMATS = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S%.f"}


class SchemaError(ValueError):
    """Raised when a claims frame does not match its spec; names the column and the fix."""

    def __init__(self, column: str, message: str):
        super().__init__(f"column {column!r}: {message}")
        self.column = column


def to_polars(frame: pl.DataFrame | pd.DataFrame) -> pl.DataFrame:
    return frame if isinstance(frame, pl.DataFrame) else pl.from_pandas(frame)


def _as_text(col: str, spec: ColumnSpec) -> pl.Expr:
    """Category values as text; integer-coded levels tolerate float input (3.0 -> "3")."""
    expr = pl.col(col)
    if spec.levels and all(isinstance(v, int) for v in spec.levels):
        expr = expr.cast(pl.Float64, strict=False).cast(pl.Int64, strict=False)
    return expr.cast(pl.Utf8)


def _category_codes(col: str, spec: ColumnSpec) -> pl.Expr:
    """Index of the value in `levels`; null for a missing code, an unknown value or null.

    A non-strict cast to an Enum of the levels does this lookup at half the cost of
    `replace_strict` (which builds its hash map on every call: ~0.2 ms a column for one row)."""
    if not spec.levels:  # top_levels not learned yet (a spec as written, not a trained model's)
        return pl.lit(None, pl.Float64)
    enum = pl.Enum(spec.level_strings())  # distinct: ColumnSpec refuses repeated levels
    codes = _as_text(col, spec).cast(enum, strict=False).to_physical().cast(pl.Float64)
    if spec.top_levels is None:
        return codes
    text = _as_text(col, spec)  # top_levels: any other value is the one level after the learned ones
    unknown = text.is_null() | text.is_in(spec.missing_strings())
    return pl.when(unknown).then(None).otherwise(codes.fill_null(float(len(spec.levels))))


def _numeric(col: str, spec: ColumnSpec) -> pl.Expr:
    value = pl.col(col).cast(pl.Float64, strict=False)  # a text code such as '?' becomes null here
    missing = spec.missing_numbers()
    return pl.when(value.is_in(missing)).then(None).otherwise(value) if missing else value


def date_expr(col: str, spec: ColumnSpec) -> pl.Expr:
    """A date or datetime column parsed with its format (null: missing code or unparsable)."""
    dtype = pl.Date if spec.type == "date" else pl.Datetime("us")
    text = pl.col(col).cast(pl.Utf8).str.strip_chars()
    if spec.missing_codes:
        text = pl.when(text.is_in(spec.missing_strings())).then(None).otherwise(text)
    parsed = text.str.strptime(dtype, spec.date_format, strict=False)
    if spec.date_format == ISO_FORMATS[spec.type]:
        return parsed
    return pl.coalesce(parsed, text.str.strptime(dtype, ISO_FORMATS[spec.type], strict=False))


def column_expr(col: str, spec: ColumnSpec) -> pl.Expr:
    """Numeric encoding of one raw column (null = missing)."""
    expr = _category_codes(col, spec) if spec.is_categorical else _numeric(col, spec)
    return expr.alias(col)


def _calendar_gap(d: CalendarGap, spec: ClaimSpec) -> pl.Expr:
    def day_of_year(point) -> pl.Expr:
        month = _category_codes(point.month, spec.columns[point.month])
        week = _numeric(point.week_of_month, spec.columns[point.week_of_month])
        dow = _category_codes(point.day_of_week, spec.columns[point.day_of_week])
        return month * DAYS_PER_MONTH + (week - 1) * 7 + dow

    gap = (day_of_year(d.end) - day_of_year(d.start)).mod(365.25)
    return gap.round(0).alias(d.name)


def _parts_mismatch(d: PartsMismatch) -> pl.Expr:
    joined = pl.concat_str([pl.col(p).cast(pl.Utf8) for p in d.parts], separator=d.separator)
    return (pl.col(d.column).cast(pl.Utf8) != joined).cast(pl.Float64).alias(d.name)


def _date_part(d: DatePart, spec: ClaimSpec) -> pl.Expr:
    value = date_expr(d.column, spec.columns[d.column]).dt
    part = {"day_of_week": value.weekday, "month": value.month, "day_of_month": value.day, "hour": value.hour}
    return part[d.part]().cast(pl.Float64)


def _as_compared_text(col: str, spec: ClaimSpec) -> pl.Expr:
    cs = spec.columns[col]
    if cs.is_categorical:
        return _as_text(col, cs)
    return _numeric(col, cs).cast(pl.Utf8) if cs.is_numeric else pl.col(col).cast(pl.Utf8)


def derived_expr(d: DerivedFeature, spec: ClaimSpec) -> pl.Expr:
    """A derived feature computed from raw columns (Float64, null = missing)."""
    c = spec.columns
    if isinstance(d, CalendarGap):
        return _calendar_gap(d, spec)
    if isinstance(d, PartsMismatch):
        return _parts_mismatch(d)
    if isinstance(d, DaysBetween):
        start, end = (
            date_expr(x, c[x]).cast(pl.Datetime("us")) for x in (d.start, d.end)
        )  # date or datetime
        gap = end - start
        expr = gap.dt.total_seconds() / 86400.0
    elif isinstance(d, DatePart):
        expr = _date_part(d, spec)
    elif isinstance(d, Ratio):
        den = _numeric(d.denominator, c[d.denominator])
        expr = pl.when(den == 0).then(None).otherwise(_numeric(d.numerator, c[d.numerator]) / den)
    else:
        assert isinstance(d, Equals)
        same = _as_compared_text(d.column, spec) == _as_compared_text(d.other, spec)
        expr = same.cast(pl.Float64)
    return expr.cast(pl.Float64).alias(d.name)


class ClaimEncoder:
    """Compiled feature expressions for one spec (build once, reuse for every request)."""

    def __init__(self, spec: ClaimSpec):
        self.spec = spec
        self.required = spec.needed_columns
        exprs = [column_expr(c, spec.columns[c]) for c in spec.columns if spec.columns[c].feature]
        self.exprs = exprs + [derived_expr(d, spec) for d in spec.derived]

    def features(self, frame: pl.DataFrame | pd.DataFrame, extra: Sequence[pl.Expr] = ()) -> pl.DataFrame:
        """Encoded features (Float64, null = missing) in `spec.feature_names` order, then the
        `extra` expressions' columns: one Polars pass for everything a request needs."""
        df = to_polars(frame)
        absent = [c for c in self.required if c not in df.columns]
        if absent:
            raise SchemaError(absent[0], f"missing from the input (all missing: {absent})")
        return df.select([*self.exprs, *extra])

    def matrix(self, frame: pl.DataFrame | pd.DataFrame) -> np.ndarray:
        """Feature matrix (float64, NaN = missing) for the booster."""
        return to_matrix(self.features(frame))


def to_matrix(features: pl.DataFrame) -> np.ndarray:
    return features.to_numpy().astype(np.float64, copy=False)


def feature_frame(frame: pl.DataFrame | pd.DataFrame, spec: ClaimSpec) -> pl.DataFrame:
    """One-off encoding (compiles the expressions each call; hot paths keep a ClaimEncoder)."""
    return ClaimEncoder(spec).features(frame)


def encode(frame: pl.DataFrame | pd.DataFrame, spec: ClaimSpec) -> np.ndarray:
    """One-off feature matrix (float64, NaN = missing) for the booster."""
    return ClaimEncoder(spec).matrix(frame)


def categorical_indices(spec: ClaimSpec) -> list[int]:
    """Positions of nominal features in the matrix (ordinal ones stay numeric on purpose)."""
    return [
        i
        for i, name in enumerate(spec.feature_names)
        if name in spec.columns and spec.columns[name].type == "nominal"
    ]


def learn_levels(frame: pl.DataFrame, spec: ClaimSpec) -> ClaimSpec:
    """The spec with each `top_levels` column's levels learned from `frame` (training rows): its
    most frequent values, ties broken by value, missing codes left out."""
    learned: dict[str, list[str]] = {}
    for col in spec.learned_columns:
        cs = spec.columns[col]
        text = frame.select(_as_text(col, cs).alias("v")).drop_nulls()
        text = text.filter(~pl.col("v").is_in(cs.missing_strings()))
        counts = text.group_by("v").len().sort(["len", "v"], descending=[True, False])
        learned[col] = counts.head(cs.top_levels).get_column("v").to_list()
        logger.info("%s: %d levels learned (of %d seen)", col, len(learned[col]), counts.height)
    return spec.with_levels(learned)
