"""The ccrisk HTTP service (BentoML): `bentoml serve serving.service:CCRisk`.

Endpoints are typed with pydantic models; the claim request model is built from the claim spec
named in mlflow.yaml (`serving.claim_spec`), which is why this entry module reads the settings
and the spec when it is imported: BentoML needs the types when the class is defined. Everything
else (the models, their libraries) is imported in `CCRisk.__init__`, which only the workers run:
BentoML's supervisor process imports this module as well and stays small (59 MB of imports, not 210).
"""

from __future__ import annotations

import logging
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated

import bentoml
from bentoml.exceptions import BentoMLException, InvalidArgument, NotFound
from pydantic import Field, ValidationError
from starlette.responses import Response

from features.claims.api import BatchScore, ClaimFeedbackOut, ClaimScore, Explain, Outcome, claim_model
from features.claims.batch import ClaimBatch
from features.claims.csv_rows import CsvError, CsvTooLong, claim_rows
from features.claims.lines import claim_lines
from features.claims.spec import ClaimSpec
from features.claims.wire import BatchDecoder
from features.contact.api import Channel, ContactAnalysis, ContactBatch, ContactMessage, KeyPhraseMode, Text
from features.kb.api import KBFeedbackOut, KBFilters, KBSearchOut, Query, TopK, Verdict
from features.settings import load_settings, prepare_environment
from serving.domain import records
from serving.domain.batch_input import claims_batch_input
from serving.domain.errors import TooManyClaims, TooManyTexts, UnknownQueryId
from serving.domain.lines import line_endpoints
from serving.platform.admin import admin_app
from serving.platform.gateway import Gateway, caller_pin, caller_tenant, note
from serving.platform.runtime import prepare_worker, service_options, settle_heap
from serving.ui.api import ui_api_app
from serving.ui.pages import Screens

if TYPE_CHECKING:
    from serving.domain.scored import ScoredClaims

logger = logging.getLogger(__name__)

_SETTINGS = load_settings()
prepare_environment(_SETTINGS)
_LINES = claim_lines(_SETTINGS)  # lines of business; the first is the default (/v1/claims/score)
_SPEC = _LINES[0].spec
Claim = claim_model(_SPEC)
ClaimsCsv = Annotated[
    str,
    Field(min_length=1, max_length=_SETTINGS.security.max_body_bytes, description="CSV text, header first"),
]
FirstRow = Annotated[
    int, Field(ge=1, description="the first data row's number in errors (a file sent in parts)")
]
ClaimsBatchInput = claims_batch_input(Claim, BatchDecoder(_SPEC), _SETTINGS.serving.max_batch_claims)


class Unprocessable(BentoMLException):
    """422: a valid request whose content cannot be scored (a CSV's header, rows or cells)."""

    error_code = HTTPStatus.UNPROCESSABLE_ENTITY


class PayloadTooLarge(BentoMLException):
    """413: a batch over serving.max_batch_claims or serving.max_batch_texts."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class CCRisk:
    """Claims fraud scoring, contact-text analysis (complaint risk, topic, intent) and
    knowledge-base answers."""

    def __init__(self) -> None:
        prepare_worker(_SETTINGS)
        # Imported here, in the workers: BentoML's supervisor process imports this module too,
        # and needs only the endpoint types, not the models' libraries (~150 MB there).
        from features.ops.outcomes import ClaimFeedbackStore
        from serving.domain.contact import ContactService
        from serving.domain.fraud import FraudService
        from serving.domain.kb import KBService
        from serving.lifecycle import health
        from serving.lifecycle.monitor_gauges import MonitorGauges
        from serving.lifecycle.slots import AliasPoller

        health.on_move(records.alias_mover(_SETTINGS))
        self.recorder = records.PredictionRecorder(_SETTINGS)
        self.lines = {
            line.name: FraudService(_SETTINGS, line.spec, partial(self._log_claims, line.spec), line.family)
            for line in _LINES
        }
        self.fraud = self.lines[_LINES[0].name]  # the default line
        self.contact = ContactService(_SETTINGS)
        self.kb = KBService(_SETTINGS)
        self.claim_feedback = ClaimFeedbackStore(_SETTINGS.stores_url)
        fraud_slots = [slot for line in self.lines.values() for slot in line.slots()]
        slots = [*fraud_slots, *self.contact.slots.values(), self.kb.slot]
        self.poller = AliasPoller(slots, _SETTINGS.serving.alias_poll_s)
        MonitorGauges(_SETTINGS.monitoring_path / "statistics.json").start()
        settle_heap()  # after every model is loaded: no full-heap GC pauses under traffic

    @bentoml.api(route="/v1/claims/score")
    async def claims_score(self, claim: Claim) -> ClaimScore:  # type: ignore[valid-type]
        """Score one claim: calibrated fraud probability, risk band, top reasons, rules hit."""
        # ~2 ms of work: async, so it runs on the event loop without the hand-off to BentoML's
        # endpoint thread and back (docs/decisions/0006-worker-runtime.md).
        return self._score([claim]).results[0]

    @bentoml.api(route="/v1/claims/feedback")
    def claims_feedback(
        self,
        claim_id: Annotated[str, Field(min_length=1, max_length=128, description="the scored claim's id")],
        outcome: Outcome,
        investigator: Annotated[str, Field(min_length=1, max_length=128, description="who decided")],
    ) -> ClaimFeedbackOut:
        """An investigator's finding for a claim; acknowledged only once it is committed to disk.
        Outcomes become labels for `ccrisk train fraud --with-feedback` and feed `ccrisk report hit-rate`."""
        feedback_id = self.claim_feedback.record(claim_id, outcome, investigator, caller_tenant())
        model = self.fraud.loaded
        note(
            model.name, model.version, {"claim_id": claim_id, "outcome": outcome, "feedback_id": feedback_id}
        )
        return ClaimFeedbackOut(stored=True, feedback_id=feedback_id)

    # The input spec decodes the body straight into columns when it can (serving/domain/batch_input.py):
    # `claims` is then a ClaimBatch, else the list of Claim objects pydantic validated.
    @bentoml.api(route="/v1/claims/score_batch", input_spec=ClaimsBatchInput)
    def claims_score_batch(self, claims: ClaimBatch | list, explain: Explain = "flagged") -> BatchScore:
        """Score a batch of claims (up to serving.max_batch_claims), in request order.

        Reasons (TreeSHAP) cost far more than scores, so by default only flagged claims
        (medium or high band) get them; send "explain": "all" to explain every claim."""
        # The BatchScore JSON, encoded from columns (serving/domain/scored.py): BentoML passes a
        # Response through, and building 10,000 response objects cost more than the model.
        return Response(self._score(claims, explain).to_json(), media_type="application/json")

    @bentoml.api(route="/v1/claims/score_csv")
    def claims_score_csv(
        self, csv: ClaimsCsv, explain: Explain = "all", first_row: FirstRow = 1
    ) -> BatchScore:
        """A claims CSV as exported from a claims system (the claims screen's upload), scored as
        /v1/claims/score_batch would: one column per claim field, the spec's identifier column
        as `claim_id`, its label column ignored. Every claim is explained unless told otherwise."""
        try:
            rows = claim_rows(csv, _SPEC, _SETTINGS.serving.max_batch_claims, first_row)
        except CsvTooLong as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except CsvError as exc:
            raise Unprocessable(str(exc)) from exc
        claims, problems = [], []
        for number, row in enumerate(rows, start=first_row):
            try:
                claims.append(Claim.model_validate(row))
            except ValidationError as exc:
                problems += [f"row {number} {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise Unprocessable(f"{len(problems)} invalid cell(s): " + "; ".join(problems[:3]) + more)
        return Response(self._score(claims, explain).to_json(), media_type="application/json")

    @bentoml.api(route="/v1/contact/analyze")
    def contact_analyze(
        self,
        text: Text,
        channel: Channel | None = None,
        key_phrases: KeyPhraseMode = "flagged",
    ) -> ContactAnalysis:
        """One customer message: complaint risk (band and key phrases), topic and intent.

        Key phrases (spaCy + occlusion) cost extra model passes, so by default only messages in
        the medium or high complaint band get them; send "key_phrases": "all" for every one."""
        message = ContactMessage(text=text, channel=channel)
        return self._analyze([message], key_phrases, single=True).results[0]

    @bentoml.api(route="/v1/contact/analyze_batch")
    def contact_analyze_batch(
        self,
        messages: Annotated[
            list[ContactMessage],
            # the limit is declared here and enforced by the service: over it is a 413, not a 400
            Field(min_length=1, json_schema_extra={"maxItems": _SETTINGS.serving.max_batch_texts}),
        ],
        key_phrases: KeyPhraseMode = "flagged",
    ) -> ContactBatch:
        """Many messages (up to serving.max_batch_texts), results in request order."""
        return self._analyze(messages, key_phrases)

    @bentoml.api(route="/v1/kb/search")
    def kb_search(self, query: Query, top_k: TopK = 5, filters: KBFilters | None = None) -> KBSearchOut:
        """The best knowledge-base articles for a question, with the matching passage highlighted.

        `no_confident_answer` is true when even the best article scores under the model's
        calibrated threshold. Keep `query_id` to send feedback."""
        try:
            out = self.kb.search(query, top_k, filters, caller_tenant())
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc
        note(*records.kb_outcome(out))
        return out

    @bentoml.api(route="/v1/kb/feedback")
    def kb_feedback(
        self,
        query_id: Annotated[str, Field(min_length=1, max_length=64, description="from /v1/kb/search")],
        article_id: Annotated[str, Field(min_length=1, max_length=128)],
        feedback: Verdict,
    ) -> KBFeedbackOut:
        """Whether an answer helped; acknowledged only once it is committed to disk."""
        try:
            feedback_id = self.kb.feedback(query_id, article_id, feedback, caller_tenant())
            ref = self.kb.ref
            note(
                ref.name, ref.version, {"query_id": query_id, "article_id": article_id, "feedback": feedback}
            )
            return KBFeedbackOut(stored=True, feedback_id=feedback_id)
        except UnknownQueryId as exc:
            raise NotFound(str(exc)) from exc
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc

    @bentoml.api(route="/v1/admin/reload_models")
    def reload_models(self) -> dict[str, str | None]:
        """Follow the registry aliases now (each worker also polls every serving.alias_poll_s).
        Answers for the worker that took the call: alias -> version now served."""
        return self.poller.refresh_all()

    @bentoml.api(route="/v1/admin/reload_rules")
    def reload_rules(self) -> dict[str, str | dict[str, str]]:
        """Reload every line's business-rules file now, in the worker that takes the call (every
        worker also reloads a file when it changes, before its next claim). rules_version: the
        default line's; rules_versions: each line's."""
        for line in self.lines.values():
            line.rules.reload()
        versions = {name: line.rules.version for name, line in self.lines.items()}
        return {"rules_version": self.fraud.rules.version, "rules_versions": versions}

    def _analyze(
        self, messages: list[ContactMessage], key_phrases: str, single: bool = False
    ) -> ContactBatch:
        masked: list[str] = []  # shown to the agent and logged: masked while the embedding runs
        try:
            out = self.contact.analyze(
                messages,
                key_phrases,
                single,
                alongside=lambda: masked.extend(records.masked_texts([m.text for m in messages])),
            )
        except TooManyTexts as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc
        for result, text in zip(out.results, masked, strict=True):
            result.masked_text = text
        note(*records.contact_outcome(out))
        self.recorder.contact(messages, out, masked, caller_tenant())
        return out

    def _score(
        self, claims: ClaimBatch | list, explain: str = "all", line: str | None = None
    ) -> ScoredClaims:
        claims = ClaimBatch.from_models(claims)
        service = self.lines[line] if line else self.fraud
        tenant = caller_tenant()
        try:
            out = service.score(claims, explain, caller_pin(), tenant)
        except TooManyClaims as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except ValueError as exc:
            raise InvalidArgument(str(exc)) from exc
        note(*records.claims_outcome(out))
        self._log_claims(service.rules.spec, claims, out, tenant)
        return out

    def _log_claims(
        self, spec: ClaimSpec, claims: ClaimBatch, scored: ScoredClaims, tenant: str | None
    ) -> None:
        """Served (and shadow) scores to the prediction log, without the claims' free text and ids."""
        self.recorder.claims(claims.without(spec.private_columns), scored, tenant)


for _line in _LINES:
    for _name, _endpoint in line_endpoints(_line, _SETTINGS, Claim if _line.default else None).items():
        setattr(CCRisk, _name, _endpoint)
CCRisk = bentoml.service(name="ccrisk", **service_options(_SETTINGS))(CCRisk)
CCRisk.add_asgi_middleware(Gateway, settings=_SETTINGS)
CCRisk.add_asgi_middleware(Screens, settings=_SETTINGS)
CCRisk.mount_asgi_app(admin_app(_SETTINGS), path="/v1/admin")
CCRisk.mount_asgi_app(ui_api_app(_SETTINGS), path="/v1/ui")
