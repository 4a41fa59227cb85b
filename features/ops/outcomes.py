"""What the service served, and what investigators later found: the data behind drift reports,
hit rates, champion/challenger comparisons and retraining with feedback.

- `PredictionLog` (`<state_dir>/predictions.sqlite`): one row per served prediction with the
  model, version, variant, band/label, score and the inputs (claim fields, which carry no
  personal data, or PII-masked text); a large batch is one compressed block of such rows
  (`features/ops/blocks.py`), read back as rows. Written by a background thread so scoring does
  not wait on disk; it is a monitoring log, not an acknowledged write.
- `ClaimFeedbackStore` (table in the feedback database): investigators' outcomes, committed and
  synced (WAL, synchronous=FULL) before the service acknowledges them.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pydantic_core

from features.ops import blocks as block_codec
from features.ops.blocks import Block
from features.ops.files import touch_private
from features.ops.writelock import WriteLock

logger = logging.getLogger(__name__)

OUTCOMES = ("confirmed_fraud", "legitimate", "inconclusive")
PREDICTION_SCHEMA = """
CREATE TABLE IF NOT EXISTS prediction (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, model TEXT NOT NULL,
  model_version TEXT NOT NULL, variant TEXT NOT NULL, entity_id TEXT, band TEXT, label TEXT,
  score REAL, inputs TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS prediction_model_ts ON prediction (model, ts);
CREATE INDEX IF NOT EXISTS prediction_entity ON prediction (entity_id);
CREATE TABLE IF NOT EXISTS prediction_block (
  id INTEGER PRIMARY KEY AUTOINCREMENT, ts REAL NOT NULL, model TEXT NOT NULL,
  row_count INTEGER NOT NULL, data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS prediction_block_model_ts ON prediction_block (model, ts);
"""
FEEDBACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS claim_feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, claim_id TEXT NOT NULL, outcome TEXT NOT NULL,
  investigator TEXT NOT NULL, ts REAL NOT NULL);
"""
COLUMNS = ("ts", "model", "model_version", "variant", "entity_id", "band", "label", "score", "inputs")
SCALARS = COLUMNS[:-1]  # every column but `inputs` (last), which is written as JSON
# The writer waits this long after the first queued rows before writing, so that under load one
# transaction (and one turn of the file lock the workers share) takes many requests' rows.
LINGER_S = 0.05
INSERT = f"INSERT INTO prediction ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})"
INSERT_BLOCK = "INSERT INTO prediction_block (ts, model, row_count, data) VALUES (?, ?, ?, ?)"


def _connect(path: Path, synchronous: str) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(touch_private(path), timeout=30, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    return conn


class PredictionLog:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writer = WriteLock(self.path)
        with self._writer.hold():  # workers start together: one switches a new file to WAL at a time
            self._conn = _connect(self.path, "NORMAL")
            self._conn.executescript(PREDICTION_SCHEMA)

    def write(self, rows: list[dict[str, Any]], blocks: Sequence[Block] = ()) -> None:
        """One transaction: `rows` into the row table, each of `blocks` as one compressed row
        (a block whose inputs cannot be encoded goes in as rows)."""
        encoded = []
        for block in blocks:
            data = block_codec.encode(block)
            if data is None:
                rows = rows + block.rows()
            else:
                encoded.append((block.ts, block.model, block.size, data))
        # pydantic-core's encoder: a quarter of json.dumps' time (a 10,000-claim batch: 38 vs 150 ms
        # on this thread, holding the GIL the next request needs). Compact; NaN written as NaN, as
        # json.dumps did, so readers (json.loads) see the same values. Columns zipped in C rather
        # than one generator per row: 32 vs 41 ms for the same tuples of 10,000 claim rows.
        encode = pydantic_core.to_json
        inputs = [encode(r["inputs"]).decode() for r in rows]
        values = list(zip(*([r.get(c) for r in rows] for c in SCALARS), inputs, strict=True))
        with self._lock, self._writer.hold():
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.executemany(INSERT, values)
            self._conn.executemany(INSERT_BLOCK, encoded)
            self._conn.execute("COMMIT")

    def frame(self, model: str, since: float | None = None, with_inputs: bool = True) -> pd.DataFrame:
        """Served predictions of `model` (since `since`), rows and blocks alike, in time order."""
        cols = ", ".join(c for c in COLUMNS if with_inputs or c != "inputs")
        where = " WHERE model = ?" + (" AND ts >= ?" if since else "") + " ORDER BY id"
        args = (model, since) if since else (model,)
        with self._lock:
            rows = pd.read_sql_query(f"SELECT {cols} FROM prediction" + where, self._conn, params=args)
            blocks = self._conn.execute(f"SELECT ts, model, data FROM prediction_block{where}", args)
            blocks = blocks.fetchall()
        if not blocks:
            return rows
        parts = [rows, *(block_codec.decode(ts, name, data, with_inputs) for ts, name, data in blocks)]
        frame = pd.concat([p for p in parts if not p.empty], ignore_index=True)
        return frame.sort_values("ts", kind="stable", ignore_index=True)


class BackgroundWriter:
    """Queue prediction rows (and blocks) and write them in batches from one daemon thread."""

    def __init__(self, log: PredictionLog, prepare: Callable[[list[dict]], list[dict]] | None = None,
                 max_queue: int = 100_000, linger_s: float = LINGER_S):  # fmt: skip
        self.log = log
        self.linger_s = linger_s
        self.prepare = prepare  # applied to rows; a block's inputs are logged as given
        self._queue: queue.Queue[list[dict] | Block] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def submit(self, rows: list[dict[str, Any]] | Block) -> None:
        try:
            self._queue.put_nowait(rows)
        except queue.Full:  # never block scoring on the monitoring log
            logger.warning("prediction log queue full: %d rows not logged", _size(rows))

    def flush(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _run(self) -> None:
        while True:
            items = [self._queue.get()]
            size = _size(items[0])
            time.sleep(self.linger_s)  # let the rows of concurrent requests join this write
            while not self._queue.empty() and size < 20_000:
                items.append(self._queue.get_nowait())
                size += _size(items[-1])
            rows = [r for item in items if not isinstance(item, Block) for r in item]
            blocks = [item for item in items if isinstance(item, Block)]
            try:
                self.log.write(self.prepare(rows) if self.prepare and rows else rows, blocks)
            except Exception:  # a bad row must not kill the writer thread
                logger.exception("prediction log write failed (%d rows, %d blocks)", len(rows), len(blocks))
            finally:
                for _ in items:
                    self._queue.task_done()


def _size(item: list[dict] | Block) -> int:
    return item.size if isinstance(item, Block) else len(item)


class ClaimFeedbackStore:
    def __init__(self, path: Path):
        self.path = Path(path)
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = WriteLock(self.path)
        with self._writer.hold():
            self._conn().executescript(FEEDBACK_SCHEMA)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:  # one connection per thread; several worker processes share the file
            conn = self._local.conn = _connect(self.path, "FULL")
        return conn

    def record(self, claim_id: str, outcome: str, investigator: str) -> int:
        """Commit one outcome; returns its id once it is on disk."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
        with self._writer.hold():
            cur = self._conn().execute(
                "INSERT INTO claim_feedback (claim_id, outcome, investigator, ts) VALUES (?, ?, ?, ?)",
                (claim_id, outcome, investigator, time.time()),
            )
        return int(cur.lastrowid)

    def frame(self) -> pd.DataFrame:
        """All outcomes; the latest one per claim wins where a claim was reviewed twice."""
        return pd.read_sql_query("SELECT * FROM claim_feedback ORDER BY id", self._conn())

    def latest(self) -> pd.DataFrame:
        return self.frame().drop_duplicates("claim_id", keep="last")
