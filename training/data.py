"""Reading training tables (CSV or Parquet) and their data lineage (path, sha256, rows)."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Lineage:
    path: str
    sha256: str
    rows: int

    def as_params(self) -> dict[str, str | int]:
        return {"data.path": self.path, "data.sha256": self.sha256, "data.rows": self.rows}


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: Path, as_text: bool = False) -> pl.DataFrame:
    """CSV (optionally .gz) or Parquet; raises with the fix when the file cannot be read.
    `as_text`: a CSV's cells as text, untyped (for guessing their types)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} not found; pass --data with an existing file")
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    try:
        return pl.read_csv(path, infer_schema_length=0 if as_text else 10000)
    except pl.exceptions.PolarsError as exc:
        raise ValueError(f"could not read {path} as CSV ({exc}); pass a CSV or Parquet file") from exc
