"""What the service served, and what investigators later found: the data behind drift reports,
hit rates, champion/challenger comparisons and retraining with feedback. Both live in the shared
stores' database (`stores.url`, features/ops/stores.py), so replicas share them.

- `PredictionLog`: one row per served prediction with the model, version, variant, band/label,
  score and the inputs (claim fields, which carry no personal data, or PII-masked text); a large
  batch is one compressed block of such rows (`features/ops/blocks.py`), read back as rows.
  Written by a background thread so scoring does not wait on disk; it is a monitoring log, not an
  acknowledged write.
- `ClaimFeedbackStore`: investigators' outcomes, committed (and on SQLite synced) before the
  service acknowledges them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import pydantic_core
import sqlalchemy as sa

from features.ops import blocks as block_codec
from features.ops.blocks import Block
from features.ops.stores import claim_feedback, open_database, prediction, prediction_block

logger = logging.getLogger(__name__)

OUTCOMES = ("confirmed_fraud", "legitimate", "inconclusive")
COLUMNS = (
    "ts",
    "model",
    "model_version",
    "variant",
    "entity_id",
    "band",
    "label",
    "score",
    "tenant",
    "inputs",
)
SCALARS = COLUMNS[:-1]  # every column but `inputs` (last), which is written as JSON
# The writer waits this long after the first queued rows before writing, so that under load one
# transaction (and one turn of the file lock the workers share) takes many requests' rows.
LINGER_S = 0.05
INSERT, INSERT_BLOCK = prediction.insert(), prediction_block.insert()  # compiled once, reused


class PredictionLog:
    def __init__(self, url: str):
        self.db = open_database(url)

    def write(self, rows: list[dict[str, Any]], blocks: Sequence[Block] = ()) -> None:
        """One transaction: `rows` into the row table, each of `blocks` as one compressed row
        (a block whose inputs cannot be encoded goes in as rows)."""
        encoded = []
        for block in blocks:
            data = block_codec.encode(block)
            if data is None:
                rows = rows + block.rows()
            else:
                encoded.append({"ts": block.ts, "model": block.model, "row_count": block.size, "data": data,
                                "tenant": block.tenant})  # fmt: skip
        # pydantic-core's encoder: a quarter of json.dumps' time (a 10,000-claim batch: 38 vs 150 ms
        # on this thread, holding the GIL the next request needs). Compact; NaN written as NaN, as
        # json.dumps did, so readers (json.loads) see the same values.
        encode = pydantic_core.to_json
        values = [{**{c: r.get(c) for c in SCALARS}, "inputs": encode(r["inputs"]).decode()} for r in rows]
        with self.db.write() as conn:
            if values:
                conn.execute(INSERT, values)
            if encoded:
                conn.execute(INSERT_BLOCK, encoded)

    def frame(
        self,
        model: str,
        since: float | None = None,
        with_inputs: bool = True,
        tenants: set[str] | None = None,
    ) -> pd.DataFrame:
        """Served predictions of `model` (since `since`; of `tenants` only, when given), rows and
        blocks alike, in time order."""
        cols = [prediction.c[c] for c in COLUMNS if with_inputs or c != "inputs"]
        where, block_where = (
            _filters(prediction, model, since, tenants),
            _filters(prediction_block, model, since, tenants),
        )
        b = prediction_block.c
        with self.db.engine.connect() as conn:
            rows = pd.read_sql_query(sa.select(*cols).where(*where).order_by(prediction.c.id), conn)
            blocks = conn.execute(
                sa.select(b.ts, b.model, b.data, b.tenant).where(*block_where).order_by(b.id)
            ).all()
        if not blocks:
            return rows
        decoded = (block_codec.decode(ts, name, data, with_inputs).assign(tenant=tenant)
                   for ts, name, data, tenant in blocks)  # fmt: skip
        parts = [rows, *decoded]
        frame = pd.concat([p for p in parts if not p.empty], ignore_index=True)[[c.name for c in cols]]
        return frame.sort_values("ts", kind="stable", ignore_index=True)


def _filters(table: sa.Table, model: str, since: float | None, tenants: set[str] | None) -> list:
    where = [table.c.model == model]
    if since:
        where.append(table.c.ts >= since)
    if tenants is not None:
        where.append(table.c.tenant.in_(sorted(tenants)))
    return where


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
    def __init__(self, url: str):
        self.db = open_database(url)

    def record(self, claim_id: str, outcome: str, investigator: str, tenant: str | None = None) -> int:
        """Commit one outcome (from `tenant`); returns its id once it is committed."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome: {outcome!r} is not one of {', '.join(OUTCOMES)}")
        row = {"claim_id": claim_id, "outcome": outcome, "investigator": investigator, "ts": time.time(),
               "tenant": tenant}  # fmt: skip
        with self.db.write() as conn:
            return int(conn.execute(claim_feedback.insert().returning(claim_feedback.c.id), row).scalar_one())

    def frame(self) -> pd.DataFrame:
        """All outcomes; the latest one per claim wins where a claim was reviewed twice."""
        with self.db.engine.connect() as conn:
            return pd.read_sql_query(sa.select(claim_feedback).order_by(claim_feedback.c.id), conn)

    def latest(self, tenants: set[str] | None = None) -> pd.DataFrame:
        """The latest outcome per claim (recorded by `tenants` only, when given)."""
        frame = self.frame()
        if tenants is not None:
            frame = frame[frame["tenant"].isin(tenants)]
        return frame.drop_duplicates("claim_id", keep="last")
