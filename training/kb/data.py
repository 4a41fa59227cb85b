"""Evaluation queries for a knowledge base, and the real public KB-QA sets as (articles, queries).

The project's own query file is a CSV with `query` and `article_id` (several relevant ids joined
by `;`, or one row per id). The real sets live in ../shared/datasets and never enter the repo:
- MedQuAD: answers are the KB (focus as title); questions are the queries; `held_out` pairs have
  no question, but their answers stay in the KB. Identical answers are one article.
- BankFAQs: distinct answers are the KB; questions are the queries (rows with `held_out` = 1 have
  no question, their answers stay).
- StackFAQ: threads (question + answers) are the KB; annotators' paraphrases are the queries.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections import defaultdict
from pathlib import Path

from features.kb.articles import Article
from features.text import SPACE
from training.kb.build import Queries

DATASETS = ("medquad", "bankfaqs", "stackfaq")
DATASET_FILES = {
    "medquad": "medquad/medquad_qa_pairs_dev.jsonl.gz",
    "bankfaqs": "bankfaqs/BankFAQs_dev.csv.gz",
    "stackfaq": "stackfaq/stackfaq_threads.jsonl.gz",
}


def load_queries(path: Path, articles: list[Article], strict: bool = True) -> Queries:
    """(query, relevant ids) from a CSV; every id must be an article of the KB (`strict`), or
    ids no longer in it are dropped (after an update removed articles)."""
    known = {a.id for a in articles}
    grouped: dict[str, set[str]] = defaultdict(set)
    if not Path(path).is_file():
        raise FileNotFoundError(f"queries file {path} does not exist; pass --queries PATH")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not {"query", "article_id"} <= set(reader.fieldnames or []):
            raise ValueError(f"{path}: queries need the columns query,article_id; got {reader.fieldnames}")
        for line, row in enumerate(reader, start=2):
            ids = {i.strip() for i in (row["article_id"] or "").split(";") if i.strip()}
            missing = ids - known
            if missing and not strict:
                ids -= missing
            elif missing:
                raise ValueError(f"{path}:{line}: article_id {sorted(missing)} is not in the knowledge base")
            grouped[SPACE.sub(" ", row["query"]).strip()] |= ids
    return [(q, ids) for q, ids in grouped.items() if q and ids]


def split_queries(queries: Queries, share: float, max_test: int, seed: int) -> tuple[Queries, Queries]:
    """(train, test): a seeded shuffle; test is `share` of the queries, at most `max_test`."""
    order = list(range(len(queries)))
    random.Random(seed).shuffle(order)
    n_test = min(max(1, round(share * len(queries))), max_test, len(queries) - 1)
    return [queries[i] for i in order[n_test:]], [queries[i] for i in order[:n_test]]


def _key(text: str) -> str:
    return SPACE.sub(" ", text).strip().lower()


def _gz_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def medquad(path: Path) -> tuple[list[Article], Queries]:
    articles, by_answer, relevant = [], {}, defaultdict(set)
    for line in _gz_lines(path):
        pair = json.loads(line)
        if not pair.get("has_answer") or not (pair.get("answer") or "").strip():
            continue
        answer_key = _key(pair["answer"])
        if answer_key not in by_answer:
            by_answer[answer_key] = pair["pair_id"]
            articles.append(
                Article(
                    id=pair["pair_id"],
                    title=pair.get("focus") or "",
                    body=pair["answer"],
                    line_of_business=pair.get("source"),
                )
            )
        if pair.get("question") and not pair.get("held_out"):
            relevant[_key(pair["question"])].add(by_answer[answer_key])
    return articles, sorted(relevant.items())


def bankfaqs(path: Path) -> tuple[list[Article], Queries]:
    articles, by_answer, relevant = [], {}, defaultdict(set)
    for row in csv.DictReader(_gz_lines(path)):
        answer_key = _key(row["Answer"])
        if answer_key not in by_answer:
            by_answer[answer_key] = f"bank-{len(by_answer):04d}"
            articles.append(
                Article(id=by_answer[answer_key], body=row["Answer"], line_of_business=row["Class"])
            )
        if (row.get("Question") or "").strip():
            relevant[_key(row["Question"])].add(by_answer[answer_key])
    return articles, sorted(relevant.items())


def stackfaq(threads_path: Path) -> tuple[list[Article], Queries]:
    articles = []
    for line in _gz_lines(threads_path):
        t = json.loads(line)
        body = "\n\n".join(a["text"] for a in sorted(t["answers"], key=lambda a: a["rank"]))
        articles.append(Article(id=t["thread_id"], title=t["question"], body=body))
    queries_path = threads_path.parent / "stackfaq_queries_dev.tsv.gz"
    rows = csv.DictReader(_gz_lines(queries_path), delimiter="\t")
    return articles, [(r["text"], {r["thread_id"]}) for r in rows if r["text"].strip()]


def load_dataset(name: str, root: Path) -> tuple[list[Article], Queries]:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    path = root / DATASET_FILES[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is absent (the real data lives in ../shared/datasets)")
    return {"medquad": medquad, "bankfaqs": bankfaqs, "stackfaq": stackfaq}[name](path)
