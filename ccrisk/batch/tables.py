"""What `ccrisk score claims|messages` reads and writes, whatever the engine: the champion a job
scores with (fixed by version at the start), input tables typed by the claim spec and read in
batches of bounded size, and the output columns."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as pads

from ccrisk.common import champion_version
from features.claims.api import text_codes
from features.claims.spec import ClaimSpec
from features.settings import Settings

CLAIM_ID, MESSAGE_ID, TEXT = "claim_id", "message_id", "text"
FORMATS = {".csv": "csv", ".gz": "csv", ".parquet": "parquet", ".pq": "parquet"}
# The claims output: one row per input claim, in input order within each output file.
CLAIM_SCHEMA = pa.schema([
    ("claim_id", pa.string()), ("fraud_probability", pa.float64()), ("risk_band", pa.string()),
    ("model_risk_band", pa.string()), ("band_raised_by", pa.string()), ("manual_review", pa.bool_()),
    ("top_reasons", pa.string()), ("rules_hit", pa.list_(pa.string())), ("model_name", pa.string()),
    ("model_version", pa.string()), ("rules_version", pa.string()),
])  # fmt: skip
CLAIM_COLUMNS = CLAIM_SCHEMA.names


@dataclass(frozen=True)
class Champion:
    """The version a job scores with: looked up once, so a promotion mid-job cannot mix two."""

    family: str
    name: str
    version: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def champion(settings: Settings, family: str) -> Champion:
    mv = champion_version(settings, family)
    return Champion(family, mv.name, str(mv.version))


def input_format(path: Path) -> str:
    """csv or parquet, from the name (a folder: the format of the files in it)."""
    files = (
        sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith((".", "_")))
        if path.is_dir()
        else [path]
    )
    if not files:
        raise FileNotFoundError(f"--input {path}: no files in the folder")
    kinds = {FORMATS.get(p.suffix.lower()) for p in files}
    if len(kinds) != 1 or None in kinds:
        raise ValueError(f"--input {path}: give CSV (.csv, .csv.gz) or Parquet (.parquet) files, one format")
    return kinds.pop()


def claim_schema(spec: ClaimSpec) -> dict[str, pa.DataType]:
    """Column types from the spec: category levels as text (matched as the spec writes them)."""
    types = {"integer": pa.int64(), "number": pa.float64()}
    # text missing codes ('?') keep a numeric column as text; the encoder reads numbers from it
    out = {
        name: types[col.type] if col.is_numeric and not text_codes(col) else pa.string()
        for name, col in spec.columns.items()
    }
    if spec.identifier:
        out[spec.identifier] = pa.string()
    return out


def check_columns(names: list[str], required: list[str], what: str, path: Path) -> None:
    missing = [c for c in required if c not in names]
    if missing:
        raise ValueError(f"--input {path}: {what} needs the columns {missing}; it has {names}")


def batches(path: Path, types: dict[str, pa.DataType], rows: int) -> Iterator[pa.RecordBatch]:
    """The input in record batches of at most `rows` rows, columns typed by `types`; nothing
    beyond one batch is held in memory."""
    if input_format(path) == "csv":
        options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        fmt = pads.CsvFileFormat(convert_options=options)
        data = pads.dataset(path, format=fmt)
    else:
        data = pads.dataset(path, format="parquet")
    yield from data.to_batches(batch_size=rows)


def column_names(path: Path) -> list[str]:
    return pads.dataset(path, format=input_format(path)).schema.names
