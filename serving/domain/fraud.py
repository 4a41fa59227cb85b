"""Claims scoring behind the HTTP endpoints: champion score + reasons + business rules."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from pydantic import BaseModel

from features.claims.api import ModelRef, text_codes
from features.claims.batch import ClaimBatch
from features.claims.rowpath import NotPlain
from features.claims.rules import RuleBook, apply_actions, find_rules
from features.claims.spec import ClaimSpec
from features.ops.traffic import assign
from features.settings import Capacity, Settings
from serving.domain.errors import TooManyClaims
from serving.domain.scored import ScoredClaims, scatter
from serving.lifecycle.loader import LoadedModel, check_spec
from serving.lifecycle.slots import ModelSlot

logger = logging.getLogger(__name__)


ROW_PATH_MAX = 16  # batches up to this size are encoded without Polars (see _assess_rows)
SHADOW_BACKLOG = 64  # shadow batches waiting at most; beyond that they are dropped, not queued
ShadowSink = Callable[[ClaimBatch, ScoredClaims, str | None], None]  # claims, scores, tenant


class FraudService:
    """Holds the champion (and, in shadow/split mode, the challenger) and the live rule book;
    turns claims into scored responses."""

    def __init__(
        self,
        settings: Settings,
        api_spec: ClaimSpec,
        on_shadow: ShadowSink | None = None,
        family: str | None = None,
    ):
        """One line of business: `family` (default: the first claims family) served with `api_spec`."""
        self.settings = settings
        family = family or settings.families("claims")[0]
        self.family = family
        self.traffic = settings.model(family).traffic
        check = partial(_prepare, api_spec=api_spec, capacity=settings.model(family).capacity)
        self.champion = ModelSlot(settings, family, settings.aliases.champion, check=check)
        self.challenger = (
            ModelSlot(settings, family, settings.aliases.challenger, required=False, check=check)
            if self.traffic.mode != "off" or _pilots(settings)
            else None
        )
        self.on_shadow = on_shadow
        self._shadow_pool = ThreadPoolExecutor(1, thread_name_prefix="shadow")
        self._shadow_room = threading.BoundedSemaphore(SHADOW_BACKLOG)
        self.shadow_dropped = 0
        rules = find_rules(settings.spec_source(family), api_spec.name, settings.rules_file_of(family))
        self.rules = RuleBook(rules, api_spec)
        self.max_batch = settings.serving.max_batch_claims
        self.reason_count = settings.serving.reason_count

    @property
    def loaded(self) -> LoadedModel:
        return self.champion.current

    def slots(self) -> list[ModelSlot]:
        return [s for s in (self.champion, self.challenger) if s is not None]

    def model_ref(self, model: LoadedModel | None = None) -> ModelRef:
        m = model or self.champion.current
        return ModelRef(name=m.name, version=m.version, run_id=m.run_id, rules_version=self.rules.version)

    def score(
        self, claims: ClaimBatch | list[BaseModel], explain: str = "all", pin: str | None = None,
        tenant: str | None = None,
    ) -> ScoredClaims:  # fmt: skip
        """Claims (columns, or validated `claim_model` objects) of `tenant` scored in request
        order; a tenant pinned to the challenger (`pin`) has every claim scored by it."""
        claims = ClaimBatch.from_models(claims)
        if not len(claims):
            raise ValueError("claims: send at least one claim")
        if len(claims) > self.max_batch:
            raise TooManyClaims(
                f"claims: {len(claims)} claims in one batch; the maximum is {self.max_batch}, split the batch"
            )
        self.rules.reload_if_changed()
        champion = self.champion.current  # read once: an alias swap mid-request cannot mix versions
        challenger = self.challenger.current if self.challenger else None
        if pin == "challenger":
            if challenger is not None:
                return self._assess(challenger, claims, explain, "challenger")
            logger.warning("tenant %s is pinned to the challenger, but %s has none: the champion answers",
                           tenant, self.family)  # fmt: skip
        mode = self.traffic.mode if challenger else "off"
        if mode != "split":  # every claim answered by the champion, in request order
            scored = self._assess(champion, claims, explain, "champion")
            if mode == "shadow":
                self._submit_shadow(challenger, claims, tenant)
            return scored
        return self._split(champion, challenger, claims, explain)

    def _split(
        self, champion: LoadedModel, challenger: LoadedModel, claims: ClaimBatch, explain: str
    ) -> ScoredClaims:
        """Split mode: a sticky share of the claims (by id) is answered by the challenger."""
        variants = [assign(i, self.traffic.split_percent, champion.name) for i in claims.ids]
        parts = []
        for variant, model in (("champion", champion), ("challenger", challenger)):
            idx = [i for i, v in enumerate(variants) if v == variant]
            if idx:
                part = claims if len(idx) == len(claims) else claims.take(idx)
                parts.append((idx, self._assess(model, part, explain, variant)))
        return scatter(len(claims), parts)

    def _assess(self, model: LoadedModel, claims: ClaimBatch, explain: str, variant: str) -> ScoredClaims:
        scorer = model.python_model
        scored = self._assess_rows(scorer, claims, explain) if len(claims) <= ROW_PATH_MAX else None
        if scored is None:
            frame = claims.frame(_text_columns(scorer.spec))
            rules, rule_exprs = self.rules.snapshot()
            a = scorer.assess(frame, self.reason_count, explain, extra=rule_exprs)  # one Polars pass
            hits = self.rules.hits(rules, a.extra) if rules else [[] for _ in claims.ids]
            scored = (a, hits)
        a, hits = scored
        n = len(claims)
        bands, raised_by, review = apply_actions(a.bands, hits)
        return ScoredClaims(
            claim_ids=list(claims.ids),
            probability=a.probability.tolist(),
            bands=bands,
            reasons=a.reasons,
            hits=hits,
            models=[self.model_ref(model)] * n,
            variants=[variant] * n,
            model_bands=a.bands,
            raised_by=raised_by,
            review=review,
        )

    def _assess_rows(self, scorer, claims: ClaimBatch, explain: str) -> tuple | None:
        """A few claims without Polars (features/claims/rowpath.py: the same answer, ~1.5 ms less
        a claim); None when a value needs the Polars path."""
        rows = claims.rows()
        try:
            hits = self.rules.row_hits(rows)
            return scorer.assess_rows(rows, self.reason_count, explain), hits
        except NotPlain as exc:
            logger.debug("claims take the Polars path: %s", exc)
            return None

    def _submit_shadow(self, challenger: LoadedModel, claims: ClaimBatch, tenant: str | None) -> None:
        """Score with the challenger on a helper thread; dropped (and counted) when it lags."""
        if not self._shadow_room.acquire(blocking=False):
            self.shadow_dropped += 1
            return
        self._shadow_pool.submit(self._shadow, challenger, claims, tenant)

    def _shadow(self, challenger: LoadedModel, claims: ClaimBatch, tenant: str | None) -> None:
        try:
            scored = self._assess(challenger, claims, "none", "challenger")
            if self.on_shadow:
                self.on_shadow(claims, scored, tenant)
        except Exception:  # the shadow must never hurt the live path
            logger.exception("shadow scoring with %s v%s failed", challenger.name, challenger.version)
        finally:
            self._shadow_room.release()


def _pilots(settings: Settings) -> bool:
    """Whether a tenant is pinned to the challenger (then it is loaded even with traffic off; a
    pin set later takes effect when the workers restart)."""
    from features.ops.tenants import load_tenants

    return any(t.pin == "challenger" for t in load_tenants(settings.stores_url).values())


def _prepare(loaded: LoadedModel, api_spec: ClaimSpec, capacity: Capacity | None) -> None:
    """Each loaded version: trained on the API's spec, with the line's capacity (band shares) set
    from the settings, not retrained (features/claims/bands.py)."""
    check_spec(loaded, api_spec)
    if capacity is not None:
        scorer = loaded.python_model
        scorer.bands = scorer.bands.with_capacity(*capacity.as_args())


def _text_columns(spec: ClaimSpec) -> list[str]:
    """Columns read as text: open categories, and numbers beside text codes ('?'), which JSON may
    send as text or as numbers in one batch."""
    return [c for c, cs in spec.columns.items() if cs.open_levels or text_codes(cs)]
