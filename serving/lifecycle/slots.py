"""A registry alias held loaded in a worker, swapped whole when the alias moves.

Each worker polls the aliases every `serving.alias_poll_s` (and on POST /v1/admin/reload_models).
A new version is loaded and checked completely before it replaces the old one in a single
assignment, so a request sees either the old model or the new one, never a half-loaded one; a
version that fails to load is logged and the old one keeps serving.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from features.registry import alias_version
from features.settings import Settings
from serving.lifecycle.loader import LoadedModel, load_alias
from serving.platform.runtime import release_free_heap, settle_heap

logger = logging.getLogger(__name__)


class ModelSlot:
    def __init__(
        self,
        settings: Settings,
        family: str,
        alias: str,
        required: bool = True,
        check: Callable[[LoadedModel], None] | None = None,
    ):
        self.settings, self.family, self.alias, self.check = settings, family, alias, check
        self.name = settings.model(family).registered_name
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()  # one refresh at a time; readers never wait
        if required or alias_version(self.name, alias) is not None:
            self.current = self._load()

    def _load(self) -> LoadedModel:
        loaded = load_alias(self.settings, self.family, self.alias)
        if self.check:
            self.check(loaded)
        return loaded

    def refresh(self) -> bool:
        """Follow the alias; True when the served version changed."""
        with self._lock:
            mv = alias_version(self.name, self.alias)
            version = str(mv.version) if mv is not None else None
            held = self.current.version if self.current else None
            if version == held:
                return False
            if version is None:  # a challenger alias removed: stop using it
                self.current = None
                logger.info("%s@%s removed; v%s unloaded", self.name, self.alias, held)
                self._settle()
                return True
            try:
                new = self._load()
            except Exception:
                logger.exception(
                    "%s@%s -> v%s failed to load; still serving v%s", self.name, self.alias, version, held
                )
                return False
            self.current = new
            logger.info("%s@%s: v%s -> v%s", self.name, self.alias, held, new.version)
            self._settle()
            return True

    def _settle(self) -> None:
        settle_heap(refreeze=True)  # the new model frozen, the old one's cycles freed


class AliasPoller:
    """Daemon thread: refresh every slot every `interval_s` seconds."""

    def __init__(self, slots: list[ModelSlot], interval_s: float):
        self.slots, self.interval_s = slots, interval_s
        self._stop = threading.Event()
        if interval_s > 0:
            threading.Thread(target=self._run, name="alias-poller", daemon=True).start()

    def refresh_all(self) -> dict[str, str | None]:
        for slot in self.slots:
            slot.refresh()
        return {f"{s.name}@{s.alias}": s.current.version if s.current else None for s in self.slots}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh_all()
            except Exception:  # the registry may be briefly unreachable: keep serving, try again
                logger.exception("alias poll failed")
            release_free_heap()
