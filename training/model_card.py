"""Model cards: one per registered version, written by the run that trained it, as the run's
`model_card.md` and the version's registry description (what the MLflow UI shows beside it).

A card says what the model is for, what it was trained on (the data's path, SHA-256 and rows, the
spec or config), how well it did with 95 % bootstrap intervals, how it did per group (protected
attributes for claims, message length for texts, query length for the knowledge base), what the
gate decided, and its known limits: those of its kind, those of its line, and the warnings of this
run (a sample table, a fairness warning, a version kept from champion).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import mlflow
import numpy as np
from mlflow import MlflowClient

from features.registry import GateDecision
from features.settings import Settings

logger = logging.getLogger(__name__)
ARTIFACT = "model_card.md"
DESCRIPTION_MAX = 4500  # the registry's description column holds 5,000 characters
RESAMPLES = 200
INTENDED_USE = {
    "claims": "Ranks incoming claims of its line of business by the probability that they are fraudulent, "
    "so that investigators look at the riskiest first. A decision aid for claims handlers: the band "
    "and reasons point at what to check; it never rejects or delays a claim by itself.",
    "text": "Reads a customer's message to a contact centre (email, chat or transcript) and gives the "
    "agent its complaint risk, topic or intent with the phrases behind it, to route and prioritise. "
    "It assists agents; it is not a regulatory complaint classification.",
    "kb": "Finds the knowledge-base articles that answer an agent's or customer's question, with a "
    "calibrated score and a no-confident-answer flag. It suggests answers for an agent to check.",
}
KNOWN_LIMITS = {
    "claims": [
        "Trained on past investigated claims: fraud never caught before is under-represented in its labels.",
        "Scores are calibrated on the training period; a change in the claims mix shifts them (watch drift).",
    ],
    "text": [
        "English only; other languages, very short messages and long threads are outside what it learned.",
        "Trained on labelled public complaint text; an insurer's own messages may differ in tone and topics.",
    ],
    "kb": [
        "Answers only from the indexed articles; an article missing or out of date cannot be found.",
        "Evaluated on the dataset's questions; agents' own phrasing may rank differently.",
    ],
}


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    low: float | None = None
    high: float | None = None


@dataclass
class ModelCard:
    name: str
    version: str
    kind: str
    run_id: str
    lineage: dict[str, str]
    metrics: list[Metric]
    decision: GateDecision
    groups: dict[str, list[dict]] = field(default_factory=dict)  # grouping -> one row per group
    limits: list[str] = field(default_factory=list)  # this run's own, besides the kind's
    evaluated_on: str = "the held-out test part"


def bootstrap(
    statistic: Callable[..., dict[str, float]],
    arrays: Sequence[np.ndarray],
    names: Sequence[str],
    seed: int = 0,
) -> list[Metric]:
    """`statistic(*arrays)`'s `names` with 95 % intervals from RESAMPLES resamples of the rows
    (a resample on which a metric is undefined, e.g. one class only, is left out of its interval)."""
    point = statistic(*arrays)
    rng = np.random.default_rng(seed)
    n = len(arrays[0])
    draws: dict[str, list[float]] = {k: [] for k in names}
    for _ in range(RESAMPLES):
        idx = rng.integers(0, n, n)
        try:
            with warnings.catch_warnings():  # a resample with one class: the metric is NaN, left out
                warnings.simplefilter("ignore")
                values = statistic(*(a[idx] for a in arrays))
        except ValueError:
            continue
        for k in names:
            if np.isfinite(values.get(k, np.nan)):
                draws[k].append(values[k])
    out = []
    for k in names:
        lo, hi = np.percentile(draws[k], [2.5, 97.5]) if len(draws[k]) >= 20 else (None, None)
        out.append(
            Metric(k, float(point[k]), None if lo is None else float(lo), None if hi is None else float(hi))
        )
    return out


def length_groups(lengths: np.ndarray, edges: tuple[int, ...]) -> np.ndarray:
    """Each row's length bucket, e.g. edges (20, 60) -> "<20 words", "20-59 words", ">=60 words"."""
    labels = [
        f"<{edges[0]} words",
        *(f"{a}-{b - 1} words" for a, b in pairwise(edges)),
        f">={edges[-1]} words",
    ]
    return np.asarray(labels, dtype=object)[np.searchsorted(edges, lengths, side="right")]


def render(card: ModelCard, settings: Settings) -> str:
    family = next((m for m in settings.models.values() if m.registered_name == card.name), None)
    use = (family.card.intended_use if family and family.card.intended_use else None) or INTENDED_USE[
        card.kind
    ]
    limits = [*KNOWN_LIMITS[card.kind], *(family.card.limits if family else []), *card.limits]
    lines = [f"# Model card: {card.name} v{card.version}", "", "## Intended use", "", use, ""]
    lines += ["## Training data", ""] + [f"- {k}: `{v}`" for k, v in card.lineage.items()]
    lines += [f"- MLflow run: `{card.run_id}`", ""]
    lines += [
        f"## Metrics ({card.evaluated_on}; 95 % bootstrap intervals)",
        "",
        "| metric | value | 95 % interval |",
        "| --- | --- | --- |",
    ]
    for m in card.metrics:
        interval = f"[{m.low:.3f}, {m.high:.3f}]" if m.low is not None else "-"
        lines.append(f"| {m.name} | {m.value:.3f} | {interval} |")
    for grouping, rows in card.groups.items():
        columns = [c for c in rows[0] if c != "group"] if rows else []
        lines += [
            "",
            f"## Per group: {grouping}",
            "",
            "| group | " + " | ".join(columns) + " |",
            "| --- " * (len(columns) + 1) + "|",
        ]
        lines += ["| " + " | ".join([str(r["group"]), *(_cell(r[c]) for c in columns)]) + " |" for r in rows]
    decided = card.decision
    lines += ["", "## Gate", "", f"@{decided.alias}: {decided.reason}", "", "## Known limits", ""]
    lines += [f"- {limit}" for limit in limits]
    return "\n".join(lines) + "\n"


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def publish(card: ModelCard, settings: Settings) -> str:
    """Log the card in the active run and make it the version's registry description."""
    text = render(card, settings)
    mlflow.log_text(text, ARTIFACT)
    description = text
    if len(text) > DESCRIPTION_MAX:
        cut = text[:DESCRIPTION_MAX].rsplit("\n", 1)[0]
        description = f"{cut}\n\n(cut short: the whole card is {ARTIFACT} in run {card.run_id})\n"
    MlflowClient().update_model_version(card.name, card.version, description=description)
    return text
