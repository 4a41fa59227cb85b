"""Business rules: a versioned YAML library of readable conditions on claim fields.

Rules are evaluated beside the model score on every claim. They are data, not code: editing the
YAML changes the hits without retraining; `RuleBook.reload_if_changed` picks edits up.

A condition is a leaf ``{field, op, value}`` or a group ``{all: [...]}`` / ``{any: [...]}``.
Ordering operators (lt, le, gt, ge) on an ordinal field follow the spec's level order, so
``{field: Days_Policy_Accident, op: le, value: "8 to 15"}`` reads as it sounds.
"""

from __future__ import annotations

import hashlib
import logging
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
import yaml
from pydantic import BaseModel, ConfigDict, Field

from features.claims.api import RuleHit  # the API model; also importable from here
from features.claims.rowpath import RowEncoder
from features.claims.spec import ClaimSpec, default_rules_path, find_rules  # noqa: F401  (importable from here)
from features.claims.transform import _as_text, column_expr, derived_expr, to_polars

logger = logging.getLogger(__name__)
Op = Literal["eq", "ne", "in", "not_in", "lt", "le", "gt", "ge"]
ORDERING = {"lt", "le", "gt", "ge"}
ROW_OPS = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le, "gt": operator.gt,
           "ge": operator.ge}  # fmt: skip
RowTest = Callable[[dict[str, Any]], bool]


class Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str
    op: Op
    value: Any


class Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    all: list[Leaf | Group] | None = None
    any: list[Leaf | Group] | None = None


Group.model_rebuild()


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    description: str
    severity: Literal["low", "medium", "high"]
    escalate: Literal["medium", "high"] | None = Field(
        None, description="raise the claim's risk band to at least this (the probability stays the model's)"
    )
    review: bool = Field(False, description="send the claim to manual review")
    when: Leaf | Group


class RuleLibrary(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str
    spec: str = Field(description="name of the claim spec the rules are written against")
    rules: list[Rule]


def _compare(expr: pl.Expr, op: str, value: Any) -> pl.Expr:
    if op in ("in", "not_in"):
        hit = expr.is_in(list(value))
        return hit if op == "in" else ~hit
    return {
        "eq": expr == value,
        "ne": expr != value,
        "lt": expr < value,
        "le": expr <= value,
        "gt": expr > value,
        "ge": expr >= value,
    }[op]


def _numeric_value(leaf: Leaf) -> Any:
    """The value(s) a numeric field is compared with, checked to be numbers; an `in` list as
    floats: Polars 2 refuses is_in of Float64 values in a list of integers (`{op: in, value:
    [300, 500]}` on a number failed every request)."""
    many = leaf.op in ("in", "not_in")
    values = leaf.value if many and isinstance(leaf.value, list) else [leaf.value]
    if (many and not isinstance(leaf.value, list)) or any(
        isinstance(v, bool) or not isinstance(v, int | float) for v in values
    ):
        kind = "a list of numbers" if many else "a number"
        raise ValueError(f"rule on {leaf.field!r}: `{leaf.op}` on a number takes {kind}, not {leaf.value!r}")
    return [float(v) for v in values] if many else leaf.value


def _leaf_expr(leaf: Leaf, spec: ClaimSpec) -> pl.Expr:
    derived = {d.name: d for d in spec.derived}
    if leaf.field in derived:
        return _compare(derived_expr(derived[leaf.field], spec), leaf.op, _numeric_value(leaf))
    if leaf.field not in spec.columns:
        raise ValueError(f"rule field {leaf.field!r} is not a column or derived feature of the spec")
    cs = spec.columns[leaf.field]
    if not cs.is_categorical:
        return _compare(column_expr(leaf.field, cs), leaf.op, _numeric_value(leaf))
    values = leaf.value if leaf.op in ("in", "not_in") else [leaf.value]
    unknown = [v for v in values if str(v) not in cs.level_strings()]
    if unknown:
        raise ValueError(f"rule on {leaf.field!r} uses values {unknown} not in its levels")
    if leaf.op in ORDERING:
        if cs.type != "ordinal":
            raise ValueError(f"rule op {leaf.op!r} needs an ordinal field; {leaf.field!r} is nominal")
        position = cs.level_strings().index(str(leaf.value))
        return _compare(column_expr(leaf.field, cs), leaf.op, float(position))
    text = [str(v) for v in values] if leaf.op in ("in", "not_in") else str(leaf.value)
    return _compare(_as_text(leaf.field, cs), leaf.op, text)


def _row_compare(x: Any, op: str, value: Any) -> bool:
    if x is None:
        return False  # as fill_null(False): a condition on a missing value never fires
    if op in ("in", "not_in"):
        return (x in value) == (op == "in")
    return bool(ROW_OPS[op](x, value))


def _leaf_row(leaf: Leaf, spec: ClaimSpec, enc: RowEncoder) -> RowTest:
    """_leaf_expr for one claim as a dict (rowpath.py); _leaf_expr has checked the rule."""
    field, op = leaf.field, leaf.op
    derived = {d.name: d for d in spec.derived}
    cs = spec.columns.get(field)
    if field in derived or not cs.is_categorical:
        value = _numeric_value(leaf)
        if field in derived:
            return lambda row: _row_compare(enc.derived(derived[field], row), op, value)
        return lambda row: _row_compare(enc.columns[field].number(row[field]), op, value)
    col = enc.columns[field]
    if op in ORDERING:
        position = float(cs.level_strings().index(str(leaf.value)))
        return lambda row: _row_compare(col.code(row[field]), op, position)
    text = [str(v) for v in leaf.value] if op in ("in", "not_in") else str(leaf.value)
    return lambda row: _row_compare(col.text(row[field]), op, text)


def condition_row(cond: Leaf | Group, spec: ClaimSpec, enc: RowEncoder) -> RowTest:
    """condition_expr for one claim as a dict of its spec columns."""
    if isinstance(cond, Leaf):
        return _leaf_row(cond, spec, enc)
    parts = [condition_row(c, spec, enc) for c in (cond.all or cond.any)]
    combine = all if cond.all else any
    return lambda row: combine(p(row) for p in parts)


def condition_expr(cond: Leaf | Group, spec: ClaimSpec) -> pl.Expr:
    """Polars boolean expression for a condition; missing values never fire a rule."""
    if isinstance(cond, Leaf):
        return _leaf_expr(cond, spec).fill_null(False)
    if bool(cond.all) == bool(cond.any):
        raise ValueError("a condition group needs exactly one of `all` or `any`, non-empty")
    parts = [condition_expr(c, spec) for c in (cond.all or cond.any)]
    return pl.all_horizontal(parts) if cond.all else pl.any_horizontal(parts)


class RuleBook:
    """A rule library bound to a spec, compiled once, reloaded when its file changes."""

    def __init__(self, path: Path | None, spec: ClaimSpec):
        self.path = Path(path) if path is not None else None  # None: a spec without rules
        self.spec = spec
        self._mtime = -1.0
        self.reload()

    def reload(self) -> None:
        text = self.path.read_text() if self.path else ""
        data = yaml.safe_load(text) if self.path else {"version": "none", "spec": self.spec.name, "rules": []}
        library = RuleLibrary.model_validate(data)
        if library.spec != self.spec.name:
            raise ValueError(
                f"rules {self.path} are written for spec {library.spec!r}, not {self.spec.name!r}"
            )
        compiled = [(_hit(r), condition_expr(r.when, self.spec).alias(r.id)) for r in library.rules]
        enc = RowEncoder(self.spec)  # one for the library, not one a rule
        tests = [condition_row(r.when, self.spec, enc) for r in library.rules]
        self._row_rules = ([hit for hit, _ in compiled], tests)
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        self.library, self.compiled = library, compiled
        self.version = f"{library.version}+{digest}"
        self._mtime = self.path.stat().st_mtime if self.path else 0.0
        logger.info("loaded %d rules, version %s", len(compiled), self.version)

    def reload_if_changed(self) -> bool:
        """Reload when the file's mtime moved; a broken edit keeps the last good rules."""
        if self.path is None:
            return False
        try:
            if self.path.stat().st_mtime == self._mtime:
                return False
            self.reload()
            return True
        except Exception:  # keep serving the last good library; the error is logged
            logger.exception("rules file %s changed but failed to load; keeping %s", self.path, self.version)
            self._mtime = self.path.stat().st_mtime if self.path.exists() else self._mtime
            return False

    def snapshot(self) -> tuple[list[RuleHit], list[pl.Expr]]:
        """The rules in force and their boolean expressions (consistent even if a reload swaps them)."""
        compiled = self.compiled
        return [hit for hit, _ in compiled], [expr for _, expr in compiled]

    @staticmethod
    def hits(rules: list[RuleHit], flags: pl.DataFrame) -> list[list[RuleHit]]:
        """Rule hits per row from the flag columns of `snapshot()`'s expressions (a null flag,
        from a condition on a missing value, has not fired). Read as one boolean matrix: most
        claims fire no rule, and walking the rows in Python cost ~40 ms per 10,000 claims."""
        out: list[list[RuleHit]] = [[] for _ in range(flags.height)]
        fired = flags.fill_null(False).to_numpy().astype(bool, copy=False)
        for i, j in zip(*(a.tolist() for a in np.nonzero(fired)), strict=True):  # row-major
            out[i].append(rules[j])
        return out

    def row_hits(self, rows: list[dict[str, Any]]) -> list[list[RuleHit]]:
        """Rule hits for claims as dicts of their spec columns, without Polars (rowpath.py), in
        library order; raises rowpath.NotPlain for a value that path does not reproduce."""
        hits, tests = self._row_rules
        return [[h for h, test in zip(hits, tests, strict=True) if test(row)] for row in rows]

    def act(self, frame: pl.DataFrame | pd.DataFrame, bands: list[str]) -> dict[str, list]:
        """Batch scoring's rule columns for claims the model put in `bands`: rules_hit (ids),
        risk_band (after escalations), band_raised_by and manual_review (apply_actions)."""
        hits = self.evaluate(frame)
        final, raised_by, review = apply_actions(list(bands), hits)
        ids = [[h.id for h in row] for row in hits]
        return {"rules_hit": ids, "risk_band": final, "band_raised_by": raised_by, "manual_review": review}

    def evaluate(self, frame: pl.DataFrame | pd.DataFrame) -> list[list[RuleHit]]:
        """Rule hits per row, in library order (one Polars pass over the raw rows)."""
        rules, exprs = self.snapshot()
        if not rules:
            return [[] for _ in range(len(frame))]
        return self.hits(rules, to_polars(frame).select(exprs))


_BOOKS: dict[tuple[str, str], RuleBook] = {}


def cached_rulebook(path: str | Path | None, spec: ClaimSpec) -> RuleBook:
    """One RuleBook per file and spec in this process: a Spark executor's rules UDF compiles the
    library once, not once a batch (ccrisk/batch/spark.py)."""
    key = (str(path), spec.name)
    if key not in _BOOKS:
        _BOOKS[key] = RuleBook(Path(path) if path else None, spec)
    return _BOOKS[key]


def _hit(rule: Rule) -> RuleHit:
    return RuleHit(
        id=rule.id,
        description=rule.description,
        severity=rule.severity,
        escalate=rule.escalate,
        review=rule.review,
    )


BAND_ORDER = {"low": 0, "medium": 1, "high": 2}


def apply_actions(
    bands: list[str], hits: list[list[RuleHit]]
) -> tuple[list[str], list[str | None], list[bool]]:
    """Rules that act: each claim's band raised to the highest `escalate` of the rules it hit (the
    first such rule, in library order, is named), and manual review when any hit rule asks for it.
    Returns (bands, the rule that raised each band or None, manual review flags)."""
    out, raised_by, review = list(bands), [None] * len(bands), [False] * len(bands)
    for i, row in enumerate(hits):
        for hit in row:
            review[i] = review[i] or hit.review
            if hit.escalate and BAND_ORDER[hit.escalate] > BAND_ORDER[out[i]]:
                out[i], raised_by[i] = hit.escalate, hit.id
    return out, raised_by, review
