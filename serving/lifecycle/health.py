"""What a worker serves and whether it matches the registry: `/readyz` and `/metrics` read it.

Every model slot registers here. A required slot (a champion) never lets go of a loaded model:
when the registry cannot be read, the alias is removed or a new version fails to load, the slot
keeps serving the last good version and records the problem. `/readyz` then answers 200 with
status "degraded" and the problem per model, and 503 only while a required model is missing
(the gateway answers it: serving/platform/gateway.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

logger = logging.getLogger(__name__)


class Slot(Protocol):
    name: str
    alias: str
    required: bool
    problem: str | None

    @property
    def version(self) -> str | None: ...


_SLOTS: list[Slot] = []
_GAUGE: Any = None
_ON_MOVE: list[Callable[[str, str, str | None, str | None], None]] = []


def on_move(record: Callable[[str, str, str | None, str | None], None]) -> None:
    """`record(model, alias, old_version, new_version)` runs whenever a slot follows its alias to
    another version (the service audits it: a direct set in the registry is recorded too)."""
    _ON_MOVE.append(record)


def moved(name: str, alias: str, old: str | None, new: str | None) -> None:
    for record in _ON_MOVE:
        try:
            record(name, alias, old, new)
        except Exception:
            logger.exception("recording the move of %s@%s to v%s failed", name, alias, new)


def register(slot: Slot) -> None:
    _SLOTS.append(slot)
    publish(slot)


def forget_all() -> None:
    """Tests only: start from no slots and no move recorders."""
    _SLOTS.clear()
    _ON_MOVE.clear()


def readiness() -> tuple[int, dict[str, Any]] | None:
    """(HTTP status, body) for `/readyz`; None before this worker has loaded its models."""
    if not _SLOTS:
        return None
    models = {
        f"{s.name}@{s.alias}": {"version": s.version, "required": s.required, "problem": s.problem}
        for s in _SLOTS
    }
    missing = [s for s in _SLOTS if s.required and s.version is None]
    degraded = [s for s in _SLOTS if s.problem]
    state = "unavailable" if missing else "degraded" if degraded else "ready"
    return (503 if missing else 200), {"state": state, "models": models}


def publish(slot: Slot) -> None:
    """`ccrisk_model_degraded{model,alias}` on /metrics: 1 while the slot has a problem."""
    global _GAUGE
    try:
        if _GAUGE is None:
            import bentoml

            _GAUGE = bentoml.metrics.Gauge(
                name="ccrisk_model_degraded",
                documentation="1 while a worker serves a model that differs from the registry or is missing",
                labelnames=["model", "alias"],
                multiprocess_mode="livemax",
            )
        _GAUGE.labels(model=slot.name, alias=slot.alias).set(1 if slot.problem else 0)
    except Exception:  # outside a BentoML worker (tests, the CLI): no metrics to publish
        logger.debug("model health gauge not published", exc_info=True)
