"""A registry alias held loaded in a worker, swapped whole when the alias moves.

Each worker polls the aliases every `serving.alias_poll_s` (and on POST /v1/admin/reload_models).
A new version is loaded and checked completely before it replaces the old one in a single
assignment, so a request sees either the old model or the new one, never a half-loaded one; a
version that fails to load is logged and the old one keeps serving. A required slot (a
champion) never drops its model: a registry that cannot be read, a removed alias or a failed
load leaves the last good version serving, with the problem reported (serving/lifecycle/health.py).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from features.settings import Settings
from serving.lifecycle import health
from serving.lifecycle.loader import LoadedModel, load_alias, version_of
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
        self.required = required
        self.current: LoadedModel | None = None
        self.problem: str | None = None  # why what is served differs from the registry, if it does
        self._lock = threading.Lock()  # one refresh at a time; readers never wait
        if required or version_of(settings, family, alias) is not None:
            self.current = self._load()
        health.register(self)

    @property
    def version(self) -> str | None:
        current = self.current
        return current.version if current else None

    def _load(self) -> LoadedModel:
        loaded = load_alias(self.settings, self.family, self.alias)
        if self.check:
            self.check(loaded)
        return loaded

    def refresh(self) -> bool:
        """Follow the alias; True when the served version changed."""
        with self._lock:
            held = self.version
            try:
                version = version_of(self.settings, self.family, self.alias)
            except Exception as exc:  # a locked store, an unreachable server: keep serving
                self._report(f"registry unreadable ({type(exc).__name__}: {exc}); serving v{held}")
                return False
            if version == held:
                self._report(None)
                return False
            if version is None and self.required:
                self._report(
                    f"@{self.alias} was removed from the registry; still serving v{held}: set it again"
                )
                return False
            if version is None:  # a challenger alias removed: stop using it
                self._swap(None, held)
                return True
            try:
                new = self._load()
            except Exception as exc:
                logger.exception(
                    "%s@%s -> v%s failed to load; still serving v%s", self.name, self.alias, version, held
                )
                self._report(f"v{version} failed to load ({exc}); still serving v{held}")
                return False
            self._swap(new, held)
            return True

    def _swap(self, new: LoadedModel | None, held: str | None) -> None:
        self.current = new
        logger.info("%s@%s: v%s -> v%s", self.name, self.alias, held, self.version)
        self._report(None)
        health.moved(self.name, self.alias, held, self.version)
        self._settle()

    def _report(self, problem: str | None) -> None:
        if problem != self.problem:
            if problem:
                logger.warning("%s@%s degraded: %s", self.name, self.alias, problem)
            else:
                logger.info("%s@%s matches the registry again", self.name, self.alias)
            self.problem = problem
            health.publish(self)

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
        return {f"{s.name}@{s.alias}": s.version for s in self.slots}

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.refresh_all()
            except Exception:  # the registry may be briefly unreachable: keep serving, try again
                logger.exception("alias poll failed")
            release_free_heap()
