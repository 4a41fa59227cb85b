"""Knowledge-base articles: the schema, reading them from files, and splitting them into chunks.

Sources: a folder of Markdown files (optional YAML front matter with `id`, `title`, `tags`,
`line_of_business`; else the id is the file name and the title the first `# ` heading), a JSONL
file or a CSV file with the columns `id`, `title`, `body` and optional `tags`, `line_of_business`.
The article is the unit an agent gets back; chunks only exist so long articles can be matched
passage by passage.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
HEADING = re.compile(r"^#\s+(.+)$", re.M)


class Article(BaseModel):
    """One knowledge-base article."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)
    id: str = Field(pattern=ID_PATTERN, description="stable id: letters, digits, _ . : -")
    title: str = Field("", max_length=500)
    body: str = Field(min_length=1)
    tags: list[str] = Field(default_factory=list)
    line_of_business: str | None = None

    @field_validator("tags", mode="before")
    @classmethod
    def _split_tags(cls, v):
        if v is None:
            return []
        if isinstance(v, str):  # CSV: "claims;motor" or "claims, motor"
            return [t.strip() for t in re.split(r"[;,]", v) if t.strip()]
        return v

    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


def _open_text(path: Path) -> str:
    raw = path.read_bytes()
    return (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8")


def _markdown_article(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    meta: dict = {}
    match = FRONT_MATTER.match(text)
    if match:
        meta = yaml.safe_load(match.group(1)) or {}
        text = text[match.end() :]
    heading = HEADING.search(text)
    if "title" not in meta and heading:
        meta["title"] = heading.group(1).strip()
        text = text[: heading.start()] + text[heading.end() :]
    return {"id": path.stem, **meta, "body": text.strip()}


def _records(path: Path) -> list[tuple[str, dict]]:
    """(where, raw record) pairs; `where` names the file and line for error messages."""
    if path.is_dir():
        files = sorted(path.glob("*.md"))
        return [(str(f), _markdown_article(f)) for f in files]
    name = path.name.removesuffix(".gz")
    if name.endswith(".jsonl"):
        lines = _open_text(path).splitlines()
        return [(f"{path}:{i + 1}", json.loads(line)) for i, line in enumerate(lines) if line.strip()]
    if name.endswith(".csv"):
        rows = csv.DictReader(_open_text(path).splitlines())
        return [(f"{path}:{i + 2}", dict(row)) for i, row in enumerate(rows)]
    raise ValueError(f"{path}: knowledge base must be a folder of .md files, a .jsonl or a .csv file")


def load_articles(path: Path) -> list[Article]:
    """Every article in `path`, validated; errors name the file/line, the field and the fix."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"knowledge base {path} does not exist; pass --kb PATH")
    articles, seen = [], {}
    for where, record in _records(path):
        try:
            article = Article.model_validate(record)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"])
            raise ValueError(f"{where}: article field {field!r}: {err['msg']}") from None
        if article.id in seen:
            raise ValueError(
                f"{where}: article id {article.id!r} repeats {seen[article.id]}; ids must be unique"
            )
        seen[article.id] = where
        articles.append(article)
    if not articles:
        raise ValueError(f"{path}: no articles found (expected .md files, JSONL or CSV rows)")
    return articles


def kb_version(articles: list[Article]) -> str:
    """Content hash of the whole knowledge base (order-independent)."""
    digest = hashlib.sha256()
    for h in sorted(a.content_hash() for a in articles):
        digest.update(h.encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Chunk:
    article: int  # index into the article list
    text: str  # passage text (no title)


def flat_body(body: str) -> str:
    """The body on one line with single spaces: what chunks are cut from. (The same as
    `SPACE.sub(" ", body).strip()`: both split on str.isspace characters; this is 5x faster.)"""
    return " ".join(body.split())


def chunk_article(index: int, article: Article, max_words: int, overlap: int) -> list[Chunk]:
    """Overlapping windows of at most `max_words` words; short articles are one chunk."""
    words = flat_body(article.body).split(" ")
    step = max(max_words - overlap, 1)
    starts = range(0, max(len(words) - overlap, 1), step)
    return [Chunk(index, " ".join(words[s : s + max_words])) for s in starts]


@dataclass
class ChunkTable:
    """Chunks kept as character spans of their article's flat body, so an index holds each
    article's text once (a list of Chunk held it twice: 27 MB more per worker for MedQuAD)."""

    article: np.ndarray  # int32, one per chunk: index into the article list
    start: np.ndarray  # int32 character offsets into flat_body(article.body)
    end: np.ndarray

    @classmethod
    def from_chunks(cls, chunks: Sequence[Chunk], articles: Sequence[Article]) -> ChunkTable:
        spans, current, flat, pos = [], -1, "", 0
        for c in chunks:
            if c.article != current:
                current, flat, pos = c.article, flat_body(articles[c.article].body), 0
            at = flat.find(c.text, pos)
            if at < 0:
                raise ValueError(
                    f"a chunk of article {articles[c.article].id!r} is not in its body; rebuild the index"
                )
            spans.append((c.article, at, at + len(c.text)))
            pos = at
        table = np.asarray(spans, dtype=np.int32).reshape(-1, 3)
        return cls(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].copy())

    def __len__(self) -> int:
        return len(self.article)

    def chunk(self, i: int, articles: Sequence[Article]) -> Chunk:
        owner = int(self.article[i])
        return Chunk(owner, flat_body(articles[owner].body)[self.start[i] : self.end[i]])

    def to_list(self, articles: Sequence[Article]) -> list[Chunk]:
        flats = {int(a): flat_body(articles[a].body) for a in np.unique(self.article)}
        return [
            Chunk(int(a), flats[int(a)][s:e])
            for a, s, e in zip(self.article, self.start, self.end, strict=True)
        ]


def dense_text(title: str, passage: str) -> str:
    """What the encoder sees for a chunk: the title gives every passage its subject."""
    return f"{title}. {passage}" if title else passage
