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


def load_text_table(path: Path, cfg: DataConfig, min_classes: int = 2) -> TextData:
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
    if len(set(labels)) < min_classes:
        raise ValueError(f"{path.name}: column {cfg.label!r} has fewer than {min_classes} classes")
    lineage = Lineage(str(path.resolve()), sha256_of(path), len(frame))
    logger.info("loaded %d texts, %d classes from %s", len(frame), len(set(labels)), path.name)
    return TextData(frame[cfg.text].tolist(), labels, lineage)


def load_extra(sources: list[DataConfig], main: TextData) -> list[TextData]:
    """The config's training-only tables, each read like the main one. A row is dropped when its
    text (whitespace-normalised) is in the main table or an earlier extra table, so no text is
    both trained on and validated, or when its label is not one of the main table's: such a
    class could never be validated. Each result's lineage counts the rows kept."""
    seen = {_normalised(t) for t in main.texts}
    known = set(main.labels)
    out = []
    for source in sources:
        table = load_text_table(Path(source.path), source, min_classes=1)
        texts, labels, unknown, repeated = [], [], Counter(), 0
        for text, label in zip(table.texts, table.labels, strict=True):
            key = _normalised(text)
            if label not in known:
                unknown[label] += 1
            elif key in seen:
                repeated += 1
            else:
                seen.add(key)
                texts.append(text)
                labels.append(label)
        if unknown:
            logger.warning("%s: %d rows dropped, labels not in the main table: %s", source.path,
                           sum(unknown.values()), dict(unknown))  # fmt: skip
        logger.info("extra %s: %d rows kept, %d already seen", source.path, len(texts), repeated)
        lineage = Lineage(table.lineage.path, table.lineage.sha256, len(texts))
        out.append(TextData(texts, labels, lineage))
    return out


def _normalised(text: str) -> str:
    return " ".join(text.split())
