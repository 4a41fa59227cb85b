"""The knowledge-base pipeline's typed config (`training/configs/kb.yaml`, `--set` overrides)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from features.contact.encoder import PACKAGED
from features.kb.index import FEATURES
from training.config import default_config_path, load_config


class ChunkConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_words: int = Field(180, ge=16, description="words per chunk of a long article")
    overlap: int = Field(40, ge=0, description="words shared by neighbouring chunks")


class RankerConfig(BaseModel):
    """The LightGBM LambdaRank fusion (one group per training query)."""

    model_config = ConfigDict(extra="forbid")
    trees: int = Field(300, ge=10)
    learning_rate: float = Field(0.05, gt=0, le=1)
    num_leaves: int = Field(15, ge=2)
    min_child_samples: int = Field(20, ge=1)
    threads: int = Field(2, ge=1, description="training threads (serving scores on one)")
    min_queries: int = Field(
        200, ge=1, description="auto: with fewer training queries the logistic fusion is used as is"
    )


class FusionConfig(BaseModel):
    """How the retrievers' scores become one: a logistic model or a LambdaRank ranker learned
    from question -> article pairs, chosen by cross-validation on the training queries (`auto`);
    the default weights apply when there are no pairs to learn from."""

    model_config = ConfigDict(extra="forbid")
    learn: bool = True
    model: Literal["auto", "logistic", "lambdarank"] = Field(
        "auto", description="auto: the better out-of-fold nDCG@10 on the training queries"
    )
    cv_folds: int = Field(5, ge=2, le=20, description="folds (by query) for the choice and calibration")
    C: float = Field(1.0, gt=0, description="logistic fusion's inverse regularisation")
    lob_C: float = Field(1.0, gt=0, description="line-of-business prior's inverse regularisation")
    ranker: RankerConfig = RankerConfig()
    max_train_queries: int = Field(3000, ge=1, description="queries sampled to fit the fusion")
    default_weights: dict[str, float] = Field(
        default_factory=lambda: {"dense": 12.0, "dense_gap": 6.0, "bm25_rel": 2.0},
        description=f"feature -> weight; features: {', '.join(FEATURES)}",
    )
    default_bias: float = -8.0
    target_precision: float = Field(
        0.7, gt=0, lt=1, description="top-1 precision the no-confident-answer threshold aims for"
    )
    confident_share: float = Field(
        0.95, gt=0, le=1, description="share of the training queries' right top answers kept confident"
    )


class AdapterConfig(BaseModel):
    """The query adapter (`training/kb/adapter.py`): W in unit(q + q W), learned from the pairs."""

    model_config = ConfigDict(extra="forbid")
    learn: bool = True
    min_queries: int = Field(200, ge=10, description="with fewer training queries no adapter is learned")
    reg: float = Field(0.03, gt=0, description="L2 penalty on W: larger keeps queries nearer the encoder's")
    candidates: int = Field(50, ge=5, description="hard negatives: the frozen top articles per query")
    scale: float = Field(20.0, gt=0, description="softmax scale of the cosines (as MiniLM was trained)")
    iterations: int = Field(20, ge=1, description="L-BFGS iterations (|W| settles within about 10)")
    batch: int = Field(256, ge=1, description="queries per block of the loss (memory only)")
    folds: int = Field(5, ge=2, le=20, description="folds for the fusion's cross-fitted query vectors")


class EncoderTuningConfig(BaseModel):
    """`ccrisk train kb-encoder`: MultipleNegativesRankingLoss over question -> answer pairs.
    Defaults chosen 2026-11-23 on a validation fifth of BankFAQs' training questions (not its
    test queries): 5 epochs, lr 3e-5, batch 64 scored 0.713 dense nDCG@10 there, 1 epoch at
    batch 32 (the earlier default) 0.664; see docs/kb.md."""

    model_config = ConfigDict(extra="forbid")
    epochs: int = Field(5, ge=1, description="passes over the training pairs")
    lr: float = Field(3e-5, gt=0, description="AdamW learning rate (10 % linear warm-up)")
    batch_size: int = Field(64, ge=2, description="pairs per batch: the others are its negatives")


class KBTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kb: str = Field("data_samples/kb/articles", description="folder of .md, or .jsonl / .csv")
    queries: str | None = Field(
        "data_samples/kb/queries.csv", description="CSV query,article_id for fusion and the gate"
    )
    test_share: float = Field(0.3, gt=0, lt=1, description="queries kept out of fusion fitting")
    max_test_queries: int = Field(2000, ge=1)
    seed: int = 42
    chunk: ChunkConfig = ChunkConfig()
    encoder: str = Field(PACKAGED, description="package:... or a sentence-transformers folder")
    max_tokens: int = Field(256, ge=16, le=512)
    bm25_k1: float = Field(1.2, gt=0)
    bm25_b: float = Field(0.75, ge=0, le=1)
    candidates: int = Field(50, ge=5, le=500, description="top articles taken from each retriever")
    snippet_words: int = Field(40, ge=5)
    with_feedback: bool = Field(
        False, description="also learn the fusion and adapter from agents' feedback in the stores"
    )
    fusion: FusionConfig = FusionConfig()
    adapter: AdapterConfig = AdapterConfig()
    tuning: EncoderTuningConfig = EncoderTuningConfig()


def load_kb_config(path: Path | None = None, overrides: list[str] | None = None) -> KBTrainConfig:
    return load_config(KBTrainConfig, path or default_config_path("kb"), overrides)
