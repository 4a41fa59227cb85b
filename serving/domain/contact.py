"""Contact-text analysis behind /v1/contact/*: complaint risk + key phrases, topic, intent.

The three champions are separate registry models; a message goes through each distinct encoder
once, and every model that uses it takes the layer it was trained on from that pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from features.contact import encoder
from features.contact.api import (
    ComplaintOut,
    ContactAnalysis,
    ContactBatch,
    ContactMessage,
    IntentOut,
    KeyPhraseOut,
    LabelScore,
    TextModelRef,
    TopicOut,
)
from features.contact.classifier import TextClassifier
from features.contact.phrases import key_phrases, load_nlp
from features.pii import mask_pii
from features.settings import Settings
from serving.domain.errors import TooManyTexts
from serving.lifecycle.loader import ChampionUnavailable, LoadedModel
from serving.lifecycle.slots import ModelSlot

logger = logging.getLogger(__name__)


def ready_complaint(complaint: LoadedModel) -> None:
    """The complaint champion must name its positive class; then it is compacted like the others."""
    if getattr(complaint.python_model, "positive", None) is None:
        raise ChampionUnavailable(
            f"{complaint.name} v{complaint.version} has no positive class; re-train it with "
            f"`ccrisk train text --task complaint`"
        )
    compact(complaint)


def compact(loaded: LoadedModel) -> None:
    """Served text models keep their TF-IDF vocabularies only in the compact form they score
    with (`TextClassifier.compact`): ~16 MB less per worker for the CFPB topic model."""
    model = loaded.python_model
    if isinstance(model, TextClassifier):
        model.compact()


READY = {"complaint": ready_complaint}  # what a freshly loaded champion goes through (default: compact)


class ContactService:
    def __init__(self, settings: Settings):
        champion = settings.aliases.champion
        self.slots = {
            task: ModelSlot(settings, task, champion, check=READY.get(task, compact))
            for task in settings.families("text")
        }
        self.max_batch = settings.serving.max_batch_texts
        self.max_chars = settings.serving.max_batch_chars
        self._embedder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")
        load_nlp()
        self.analyze([ContactMessage(text="Warm-up: my card has not arrived, this is unacceptable")], "all")

    def analyze(
        self,
        messages: list[ContactMessage],
        phrases: str = "flagged",
        single: bool = False,
        alongside: Callable[[], object] | None = None,
    ) -> ContactBatch:
        """Analyse messages in order; `single` names fields as the one-message endpoint does.

        `alongside` runs on this thread while the embedding runs on the helper thread (the
        prediction log's PII masking: its spaCy pass then costs the request little)."""
        texts = self._checked_texts(messages, single)
        loaded = {t: slot.current for t, slot in self.slots.items()}  # read once per request
        models: dict[str, TextClassifier] = {t: m.python_model for t, m in loaded.items()}
        refs = [
            TextModelRef(task=t, name=m.name, version=m.version, run_id=m.run_id) for t, m in loaded.items()
        ]
        probs, prepared = self._probabilities(models, texts, alongside)
        complaint = models["complaint"]
        pos = complaint.positive_index()
        results = []
        for i, text in enumerate(texts):
            p_c = float(probs["complaint"][i, pos])
            band = complaint.bands.of(p_c)
            want = phrases == "all" or (phrases == "flagged" and band != "low")
            kp = key_phrases(complaint, prepared["complaint"][i], p_c) if want else []
            results.append(
                ContactAnalysis(
                    complaint=ComplaintOut(
                        probability=p_c,
                        band=band,
                        key_phrases=[KeyPhraseOut(text=k.text, impact=k.impact) for k in kp],
                    ),
                    topic=TopicOut(**_top(models["complaint_topic"], probs["complaint_topic"][i])),
                    intent=_intent(models["intent"], probs["intent"][i]),
                    truncated=any(len(text.split()) > m.max_words for m in models.values()),
                    models=refs,
                )
            )
        if logger.isEnabledFor(logging.DEBUG):  # masking costs time; only when it is logged
            logger.debug("analysed %d messages; first: %s", len(texts), mask_pii(texts[0])[:80])
        return ContactBatch(count=len(results), results=results)

    def _checked_texts(self, messages: list[ContactMessage], single: bool) -> list[str]:
        """The messages' texts; ValueError or TooManyTexts (the 4xx answers) naming the fix."""
        if not messages:
            raise ValueError("messages: send at least one message")
        if len(messages) > self.max_batch:
            raise TooManyTexts(
                f"messages: {len(messages)} in one batch; the maximum is {self.max_batch}, split the batch"
            )
        texts = [m.text for m in messages]
        total = sum(map(len, texts))
        if total > self.max_chars:
            raise TooManyTexts(
                f"messages: {total} characters in one batch; the maximum is {self.max_chars} "
                "(serving.max_batch_chars), split the batch"
            )
        for i, t in enumerate(texts):
            if not t.strip():
                where = "text" if single else f"messages[{i}].text"
                raise ValueError(f"{where}: the message is empty or white space only; send its text")
        return texts

    def _probabilities(
        self, models: dict[str, TextClassifier], texts: list[str], alongside: Callable[[], object] | None
    ) -> tuple[dict[str, np.ndarray], dict[str, list[str]]]:
        """Class probabilities per task; one encoder pass per (encoder, prepared texts), giving
        each model the layer it was trained on.

        The embedding runs on a helper thread (ONNX Runtime releases the GIL) while this one
        computes the TF-IDF columns and runs `alongside`: since the TF-IDF is cheap (FastTfidf),
        the prediction log's PII masking is what the overlap mainly hides (README)."""
        prepared, lexical, keys, layers = {}, {}, {}, {}
        for task, model in models.items():
            prepared[task] = model.prepare(texts)
            if model.encoder_path is not None:
                keys[task] = (model.encoder_path, model.max_tokens, tuple(prepared[task]))
                layers.setdefault(keys[task], set()).add(model.encoder_layer)
        embeddings: dict[tuple, Future] = {
            key: self._embedder.submit(encoder.embed_layers, key[0], list(key[2]), key[1], tuple(wanted))
            for key, wanted in layers.items()
        }
        for task, model in models.items():
            lexical[task] = model.lexical(prepared[task])
        if alongside is not None:
            alongside()
        probs = {}
        for task, model in models.items():
            emb = embeddings[keys[task]].result()[model.encoder_layer] if task in keys else None
            probs[task] = model.proba(prepared[task], emb, lexical[task])
        return probs, prepared


def _intent(model: TextClassifier, p: np.ndarray) -> IntentOut:
    top = _top(model, p)
    return IntentOut(**top, low_confidence=top["probability"] < model.low_confidence)


def _top(model: TextClassifier, p: np.ndarray, k: int = 3) -> dict:
    order = np.argsort(-p)[:k]
    best = int(order[0])
    return {
        "label": model.labels[best],
        "probability": float(p[best]),
        "top3": [LabelScore(label=model.labels[j], probability=float(p[j])) for j in order],
    }
