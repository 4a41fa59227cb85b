"""Reading a text task's table into (texts, labels) with lineage; checks that name the fix."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training.data import Lineage, sha256_of
from training.text.config import DataConfig

logger = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class TextData:
    texts: list[str]
    labels: list[str]
    lineage: Lineage

    def counts(self) -> Counter:
        return Counter(self.labels)


def resolve_path(path: str | Path) -> Path:
    p = Path(path)
    return p if p.is_absolute() or p.exists() else PROJECT_ROOT / p


def load_text_table(path: Path, cfg: DataConfig) -> TextData:
    """Read the CSV, apply `exclude`, map labels, drop empty texts and exact duplicate texts."""
    path = resolve_path(path)
    if not path.exists():
        raise FileNotFoundError(f"data file {path} not found; pass --data with an existing CSV")
    header = 0 if cfg.header else None
    frame = pd.read_csv(path, header=header, names=cfg.columns, dtype=str, keep_default_na=False)
    for col in (cfg.text, cfg.label, *cfg.exclude):
        if col not in frame.columns:
            raise ValueError(
                f"{path.name}: no column {col!r} (columns: {list(frame.columns)}); "
                f"set data.text / data.label (or data.columns for a file without header)"
            )
    for col, values in cfg.exclude.items():
        frame = frame[~frame[col].isin(values)]
    frame = frame[frame[cfg.text].str.strip() != ""].drop_duplicates(subset=cfg.text)
    labels = frame[cfg.label].map(lambda v: cfg.label_names.get(v, v)).tolist()
    if len(set(labels)) < 2:
        raise ValueError(f"{path.name}: column {cfg.label!r} has fewer than two classes")
    lineage = Lineage(str(path.resolve()), sha256_of(path), len(frame))
    logger.info("loaded %d texts, %d classes from %s", len(frame), len(set(labels)), path.name)
    return TextData(frame[cfg.text].tolist(), labels, lineage)
