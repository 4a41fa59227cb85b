"""A fine-tuned copy of the sentence encoder with its own softmax head, blended into a text model.

`ccrisk train text --task NAME --set finetune.enabled=true` fine-tunes MiniLM on the task's labels
(training/text/tuned.py) and stores the result here: the tuned encoder's folder travels inside
the logged MLflow model as the artifact `tuned_encoder`, the head as two arrays. The text model's
probabilities become `(1 - blend) * its own + blend * this softmax` (docs/contact-text.md, "Fine-tuning
on a lent GPU": +0.011 macro-F1 for the CFPB topic task at blend 0.25). It costs a second encoder per
process and a second encoder pass per text.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import softmax

from features.contact import encoder

ARTIFACT = "tuned_encoder"  # the name of the bundled folder among the logged model's artifacts


@dataclass
class TunedSoftmax:
    weight: np.ndarray  # (classes, dimension) float32; rows in the text model's `labels` order
    bias: np.ndarray  # (classes,) float32
    blend: float  # share of this softmax in the text model's probabilities
    max_tokens: int = 256
    path: str | None = None  # the tuned encoder's folder: set after training and at load

    @property
    def encoder_path(self) -> str:
        if self.path is None:
            raise RuntimeError(
                f"this text model bundles a tuned encoder (artifact {ARTIFACT!r}): load it with "
                "mlflow.pyfunc.load_model, not from a pickle"
            )
        return self.path

    def proba(self, prepared: list[str]) -> np.ndarray:
        """(n, classes) softmax probabilities of the tuned head on the tuned sentence embedding."""
        emb = encoder.embed(self.encoder_path, prepared, self.max_tokens)
        return head_softmax(emb, self.weight, self.bias)

    def mix(self, p: np.ndarray, prepared: list[str]) -> np.ndarray:
        """The text model's probabilities `p` with this softmax blended in."""
        return blend(p, self.proba(prepared), self.blend)


def head_softmax(emb: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """(n, classes) softmax of a linear head (`weight` (classes, d), `bias`) on embeddings `emb`, in
    float64: the served model and the pipeline's cross-validation both score the tuned head with it."""
    return softmax(emb.astype(np.float64) @ weight.T.astype(np.float64) + bias, axis=1)


def blend(p: np.ndarray, tuned: np.ndarray, weight: float) -> np.ndarray:
    """A text model's probabilities `p` with the tuned softmax's given `weight` of the total."""
    return (1.0 - weight) * p + weight * tuned
