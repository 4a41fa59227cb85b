"""What each endpoint leaves behind: a PII-free outcome summary for the audit trail and
Prometheus (the endpoint hands it to the gateway), and prediction-log rows (inputs + outputs)
for drift reports and hit rates."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from features.claims.batch import ClaimBatch
from features.contact.api import ContactBatch, ContactMessage
from features.kb.api import KBSearchOut
from features.ops.blocks import Block
from features.pii import mask_pii
from features.settings import Settings
from serving.domain.scored import ScoredClaims

BLOCK_MIN = 64  # claims in one batch from which its predictions are logged as one block
Outcome = tuple[str, str, dict[str, Any]]  # model name, version, PII-free summary of the answer


def claims_outcome(batch: ScoredClaims) -> Outcome:
    ref = batch.models[0]
    outcome: dict[str, Any] = {"count": batch.count, "bands": dict(Counter(batch.bands))}
    if batch.count == 1:
        outcome["probability"] = round(batch.probability[0], 6)
    challenger = [m for m, v in zip(batch.models, batch.variants, strict=True) if v == "challenger"]
    if challenger:  # split mode: which version answered which share
        outcome["challenger"] = {"version": challenger[0].version, "count": len(challenger)}
    return ref.name, ref.version, outcome


def contact_outcome(batch: ContactBatch) -> Outcome:
    complaint = next(m for m in batch.results[0].models if m.task == "complaint")
    outcome: dict[str, Any] = {
        "count": batch.count,
        "bands": dict(Counter(r.complaint.band for r in batch.results)),
        "topics": dict(Counter(r.topic.label for r in batch.results)),
        "intents": dict(Counter(r.intent.label for r in batch.results)),
    }
    if batch.count == 1:
        outcome["complaint_probability"] = round(batch.results[0].complaint.probability, 6)
    return complaint.name, complaint.version, outcome


def kb_outcome(out: KBSearchOut) -> Outcome:
    top = out.answers[0] if out.answers else None
    outcome = {
        "query_id": out.query_id,
        "top_article": top.article_id if top else None,
        "top_score": round(top.score, 6) if top else None,
        "bands": {"no_confident_answer" if out.no_confident_answer else "answered": 1},
    }
    return out.model.name, out.model.version, outcome


def alias_mover(settings: Settings):
    """Audits an alias move a worker's poller followed; the first process to see it records it
    (features/ops/audit.py `note_alias`), with the caller unknown unless the CLI recorded it."""
    from features.ops.audit import AuditEntry, open_audit

    log = open_audit(settings)

    def record(model: str, alias: str, old: str | None, new: str | None) -> None:
        outcome = {"alias": alias, "from_version": old, "to_version": new, "noticed_by": "alias poller"}
        entry = AuditEntry(
            "unknown (registry)", "none", "registry:alias_moved", 0, "", 0.0, model, new or "", outcome
        )
        log.note_alias(entry, alias, new)

    return record


class PredictionRecorder:
    """Per worker: queues prediction rows. Text is PII-masked on the request thread
    (`masked_texts`, alongside the embedding), or on the writer thread for any row not marked masked."""

    def __init__(self, settings: Settings):
        from features.ops.outcomes import BackgroundWriter, PredictionLog  # workers only (pandas)

        self.enabled = settings.monitoring.log_predictions
        self.writer = BackgroundWriter(PredictionLog(settings.stores_url), prepare=_mask_texts)

    def claims(self, claims: ClaimBatch | list, batch: ScoredClaims, tenant: str | None = None) -> None:
        """Served (and shadow) claim scores of `tenant`'s call; each row keeps the variant and
        version that scored it. A batch of BLOCK_MIN claims or more is logged as one block
        (features/ops/blocks.py)."""
        if not self.enabled:
            return
        claims = ClaimBatch.from_models(claims)
        now = time.time()
        if len(claims) >= BLOCK_MIN and len({m.name for m in batch.models}) == 1:
            self.writer.submit(_claim_block(now, claims, batch, tenant))
            return
        rows = [
            _row(now, m, v, b, p, inputs, i, tenant)
            for inputs, i, p, b, m, v in zip(
                claims.rows(), batch.claim_ids, batch.probability, batch.bands, batch.models, batch.variants,
                strict=True,
            )
        ]  # fmt: skip
        self.writer.submit(rows)

    def contact(
        self,
        messages: list[ContactMessage],
        batch: ContactBatch,
        masked: list[str] | None = None,
        tenant: str | None = None,
    ) -> None:
        """Log each message once per text model; `masked` (from `masked_texts`) saves the writer
        thread masking the texts itself."""
        if not self.enabled:
            return
        now = time.time()
        rows = []
        for i, (m, r) in enumerate(zip(messages, batch.results, strict=True)):
            inputs = {"text": masked[i], "pii_masked": True} if masked else {"text": m.text}
            inputs["channel"] = m.channel
            outputs = {"complaint": r.complaint, "complaint_topic": r.topic, "intent": r.intent}
            for ref in r.models:
                out = outputs[ref.task]
                label = getattr(out, "band", None) or out.label
                rows.append(_row(now, ref, "champion", label, out.probability, inputs, tenant=tenant))
        self.writer.submit(rows)


def _claim_block(ts: float, claims: ClaimBatch, batch: ScoredClaims, tenant: str | None) -> Block:
    outputs = {
        "model_version": [m.version for m in batch.models],
        "variant": list(batch.variants),
        "entity_id": list(batch.claim_ids),
        "band": list(batch.bands),
        "label": list(batch.bands),
        "score": list(batch.probability),
    }
    return Block(ts=ts, model=batch.models[0].name, outputs=outputs, inputs=_inputs(claims), tenant=tenant)


def _inputs(claims: ClaimBatch) -> Any:
    """A block's inputs: the frame scoring built from the claims (not built twice), or, where a
    column mixes types and there is none, the columns (the block then goes in as rows)."""
    return claims.as_sent if claims.as_sent is not None else claims.columns


def _row(
    ts, ref, variant: str, label: str, score: float, inputs: dict, entity_id=None, tenant=None
) -> dict[str, Any]:
    """One prediction-log row; `label` is the band (fraud, complaint) or the predicted class."""
    return {
        "ts": ts,
        "model": ref.name,
        "model_version": ref.version,
        "variant": variant,
        "entity_id": entity_id,
        "band": label,
        "label": label,
        "score": score,
        "tenant": tenant,
        "inputs": inputs,
    }


def masked_texts(texts: list[str]) -> list[str]:
    """The texts with personal data masked (the service masks them while the embedding runs)."""
    masked: dict[str, str] = {}  # a repeated text is masked once
    for text in texts:
        if text not in masked:
            masked[text] = mask_pii(text)
    return [masked[t] for t in texts]


def _mask_texts(rows: list[dict]) -> list[dict]:
    """Runs on the writer thread: replace raw text by its masked form before it touches disk
    (rows whose text is already masked only lose their `pii_masked` mark)."""
    raw = [r for r in rows if isinstance(r["inputs"], dict) and "text" in r["inputs"]]
    todo = [r for r in raw if not r["inputs"].get("pii_masked")]
    for row, text in zip(todo, masked_texts([r["inputs"]["text"] for r in todo]), strict=True):
        row["inputs"] = {**row["inputs"], "text": text}
    for row in raw:
        row["inputs"] = {k: v for k, v in row["inputs"].items() if k != "pii_masked"}
    return rows
