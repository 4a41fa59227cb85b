"""The text pipeline's typed config: one YAML per task, differing only in data, labels and gate."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from training.config import default_config_path, load_config


class DataConfig(BaseModel):
    """How to read the task's table: which columns hold the text and the label."""

    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="CSV (optionally .gz); relative paths start at the project root")
    header: bool = True
    columns: list[str] | None = Field(None, description="column names when the file has no header")
    text: str = "text"
    label: str = "label"
    label_names: dict[str, str] = Field(default_factory=dict, description="raw label -> name")
    exclude: dict[str, list[str]] = Field(
        default_factory=dict, description="drop rows whose column holds one of these values"
    )


class FeatureConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tfidf: bool = True
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = Field(2, ge=1)
    embeddings: bool = True
    embedding_weight: float = Field(
        1.0,
        ge=0,
        description="scale of the embedding columns in the head; 0: the embedding feeds head.vote only",
    )
    encoder_layer: int | None = Field(
        None, ge=1, description="mean of this encoder layer's token states (MiniLM: 1-6); default: the last"
    )
    max_words: int = Field(400, ge=8, description="longer texts are cut (with a warning)")
    max_tokens: int = Field(256, ge=8, le=512, description="encoder word pieces per text")


class VoteConfig(BaseModel):
    """An RBF-kernel SVM on the L2-normalised sentence embedding whose predicted class gets
    `weight` of the probability (features/contact/vote.py); three or more classes only."""

    model_config = ConfigDict(extra="forbid")
    C: float = Field(10.0, gt=0)
    gamma: float = Field(1.0, gt=0)
    class_weight: Literal["balanced"] | None = None
    weight: float = Field(0.25, gt=0, lt=1)


class HeadConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["svc", "logreg"] = "svc"
    C: float = Field(1.0, gt=0)
    class_weight: Literal["balanced"] | None = None
    calibration_folds: int = Field(3, ge=2)
    ensemble: bool = Field(
        True,
        description="true: one SVM per calibration fold, each fitted on the other folds, averaged; "
        "false: one SVM fitted on all rows, its sigmoid fitted on cross-validated decisions",
    )
    vote: VoteConfig | None = Field(None, description="blend in a kernel SVM's vote on the embedding")


class FinetuneConfig(BaseModel):
    """Fine-tune a copy of the encoder with a softmax head on the task's labels, and blend that
    softmax into the model's probabilities (features/contact/tuned.py). Off by default: on 2 CPU
    cores the CFPB narratives take hours a fold (a GPU: about a minute), and the service then
    holds a second encoder (+89 MB a worker)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    epochs: int = Field(4, ge=1, le=50)
    lr: float = Field(1e-4, gt=0, lt=1, description="encoder learning rate (the head's: 2e-3)")
    blend: float = Field(0.25, gt=0, lt=1, description="share of the tuned softmax in the probabilities")
    max_tokens: int | None = Field(
        None, ge=8, le=512, description="word pieces the tuned encoder reads; default features.max_tokens"
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: a CUDA GPU when torch sees one")


class TextTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: str
    data: DataConfig
    sample: DataConfig | None = Field(None, description="the project's sample messages (--sample)")
    extra: list[DataConfig] = Field(
        default_factory=list,
        description="more labelled tables for training only: their rows join every training fold "
        "and the final fit but are never scored, so cross-validated metrics stay those of `data`; "
        "texts also in `data` (or an earlier table) and labels `data` lacks are dropped",
    )
    seed: int = 42
    folds: int = Field(5, ge=2, le=20)
    features: FeatureConfig = FeatureConfig()
    head: HeadConfig = HeadConfig()
    positive: str | None = Field(None, description="class whose probability is the risk score")
    bands: dict[str, float] = Field(default_factory=lambda: {"medium": 0.4, "high": 0.7})
    low_confidence: float = Field(0.5, ge=0, le=1)
    finetune: FinetuneConfig = FinetuneConfig()

    @model_validator(mode="after")
    def _vote_reads_embeddings(self) -> TextTrainConfig:
        if self.head.vote is not None and not self.features.embeddings:
            raise ValueError(
                "head.vote reads the sentence embedding: set features.embeddings: true or remove head.vote"
            )
        if not self.features.tfidf and self.features.embedding_weight == 0:
            raise ValueError(
                "with features.tfidf false the head reads only embeddings: set embedding_weight above 0"
            )
        if self.features.embeddings and self.features.embedding_weight == 0 and self.head.vote is None:
            raise ValueError(
                "features.embedding_weight 0 computes embeddings that nothing reads: "
                "set a weight above 0 or add head.vote"
            )
        return self


def load_text_config(
    task: str, path: Path | None = None, overrides: list[str] | None = None, sample: bool = False
) -> TextTrainConfig:
    """The task's config; with `sample`, its `sample` data section replaces `data`."""
    if path is None and not default_config_path(f"text_{task}").is_file():
        known = sorted(
            p.stem.removeprefix("text_") for p in default_config_path("x").parent.glob("text_*.yaml")
        )
        raise ValueError(f"unknown text task {task!r}; choose one of {', '.join(known)} or pass --config")
    cfg = load_config(TextTrainConfig, path or default_config_path(f"text_{task}"), overrides)
    if cfg.task != task:
        raise ValueError(f"config is for task {cfg.task!r}, not {task!r}")
    if sample:
        if cfg.sample is None:
            raise ValueError(f"config for {task!r} has no `sample` section; pass --data instead")
        cfg = cfg.model_copy(update={"data": cfg.sample, "extra": []})  # extras fit `data`'s labels
    return cfg
