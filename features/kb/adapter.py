"""A learned linear correction of the query embedding, for the KB's dense retriever.

The packaged MiniLM was trained on web pairs, not on a bank's FAQ questions or a medical site's
answers. Fine-tuning the whole encoder on a KB's question -> answer pairs pays (BankFAQs dense
nDCG@10 0.65 -> 0.72) but costs half an hour of CPU. A query adapter is the cheap part of that:
one matrix W, learned in seconds from the same pairs (`training/kb/adapter.py`), maps a query
embedding q to unit(q + q W) before it meets the article vectors, which stay as embedded. W = 0
is the frozen encoder; the training penalises W's size so the correction stays small.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class QueryAdapter:
    weight: np.ndarray  # (dim, dim) float32: the correction W
    queries: int = 0  # training queries it was learned from (for the run's record)
    reg: float = 0.0  # the L2 penalty on W it was learned with

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """Unit-length adapted query vectors, one per row of `vectors` (unit-length embeddings)."""
        if vectors.shape[-1] != self.weight.shape[0]:
            raise ValueError(
                f"query adapter: vectors have {vectors.shape[-1]} dimensions, the adapter "
                f"{self.weight.shape[0]}; re-train the KB model with this encoder"
            )
        out = vectors + vectors @ self.weight
        norms = np.linalg.norm(out, axis=-1, keepdims=True)
        return (out / np.maximum(norms, 1e-12)).astype(np.float32)
