"""A claims CSV (as a person exports it from a claims system) -> claim dicts for the claim model.

Cells are text; each column is typed by the claim spec: integers and numbers parsed, category
levels matched as text and returned as the spec writes them, empty cells missing. The spec's
identifier column becomes `claim_id`; its target column (the label) is dropped. What cannot be
typed is left as text, so the claim model's validation names the row, the field and the fix.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from features.claims.spec import ClaimSpec, ColumnSpec


class CsvError(ValueError):
    """The CSV as a whole cannot be read (no header, unknown columns, ragged rows)."""


class CsvTooLong(CsvError):
    """More claims than one call may score."""


def _parser(column: ColumnSpec) -> Callable[[str], Any]:
    """Text -> the column's value: a category level as the spec writes it (the first of levels and
    missing codes with that text), or a number; text that fits neither comes back as it is."""
    if column.is_categorical:
        levels = {str(v): v for v in reversed([*column.levels, *column.missing_codes])}
        return lambda cell: levels.get(cell, cell)
    if not column.is_numeric:  # dates, free text, ids: the text itself
        return lambda cell: cell
    integer = column.type == "integer"

    def number(cell: str) -> Any:
        try:
            value = float(cell)
        except ValueError:
            return cell
        if integer:
            return int(value) if value.is_integer() else cell
        return value

    return number


def claim_rows(text: str, spec: ClaimSpec, max_rows: int, first_row: int = 1) -> list[dict[str, Any]]:
    """The CSV's data rows as claim dicts; raises CsvError naming the fix. Errors number the data
    rows from `first_row` (a file sent in parts names rows as they are in the whole file)."""
    try:
        return _rows(csv.reader(io.StringIO(text.lstrip("\ufeff"))), spec, max_rows, first_row)
    except csv.Error as exc:  # e.g. a line break inside an unquoted cell
        raise CsvError(f"csv: not readable as CSV ({exc}); export the file again as CSV") from exc


def _rows(reader, spec: ClaimSpec, max_rows: int, first_row: int) -> list[dict[str, Any]]:
    header = [h.strip() for h in next(reader, [])]
    if not any(header):
        raise CsvError("csv: no header row; the first line must name the columns")
    known = {*spec.columns, spec.identifier, spec.target} - {None}
    unknown = [h for h in header if h not in known]
    if unknown:
        raise CsvError(f"csv: unknown column(s) {unknown[:5]}: use the columns of claim spec {spec.name!r}")
    parsers = {name: _parser(spec.columns[name]) for name in header if name in spec.columns}
    rows: list[dict[str, Any]] = []
    for number, cells in enumerate(reader, start=first_row):
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            raise CsvError(f"csv: data row {number} has {len(cells)} cells, the header {len(header)}")
        if len(rows) == max_rows:
            raise CsvTooLong(f"csv: over {max_rows} claims (serving.max_batch_claims): split the file")
        claim: dict[str, Any] = {}
        for name, cell in zip(header, cells, strict=True):
            if name == spec.identifier:
                claim["claim_id"] = cell.strip() or None
            elif name != spec.target:
                cell = cell.strip()
                claim[name] = parsers[name](cell) if cell else None
        rows.append(claim)
    if not rows:
        raise CsvError("csv: a header but no claims; add one row per claim")
    return rows
