"""Champion vs challenger on logged traffic, promotion through the gate, and rollback.

`compare` pairs the two variants' scores of the same claims (shadow mode scores every claim with
both; split mode gives each claim one variant, so only the per-variant figures apply) and, where
investigators' outcomes exist, the precision of each variant's alerts with a 95 % Wilson
interval. `promote` and `rollback` move the registry aliases and append who/when/what to the
audit trail; running servers follow the aliases without a restart.
"""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass

import pandas as pd
from mlflow import MlflowClient
from scipy import stats

from features.ops.audit import AuditEntry, open_audit
from features.ops.hitrate import ALERT_BANDS, wilson
from features.registry import Baseline, alias_version, decide
from features.settings import Settings

logger = logging.getLogger(__name__)


def compare(preds: pd.DataFrame, feedback: pd.DataFrame) -> dict:
    """Agreement on the claims both variants scored, and each variant's alert precision."""
    latest = preds.dropna(subset=["entity_id"]).drop_duplicates(["entity_id", "variant"], keep="last")
    champ, chall = (latest[latest["variant"] == v].set_index("entity_id") for v in ("champion", "challenger"))
    both = champ.join(chall, how="inner", lsuffix="_champion", rsuffix="_challenger")
    out: dict = {"paired_claims": len(both), "variants": {}}
    if len(both):
        out["band_agreement"] = float((both["band_champion"] == both["band_challenger"]).mean())
        out["score_mean_abs_diff"] = float((both["score_champion"] - both["score_challenger"]).abs().mean())
        if len(both) > 2:
            out["score_spearman"] = float(
                stats.spearmanr(both["score_champion"], both["score_challenger"])[0]
            )
    outcomes = feedback.set_index("claim_id")["outcome"] if len(feedback) else pd.Series(dtype=str)
    for name, frame in (("champion", champ), ("challenger", chall)):
        alerted = frame[frame["band"].isin(ALERT_BANDS)]
        found = alerted.index.to_series().map(outcomes)
        confirmed, legit = int((found == "confirmed_fraud").sum()), int((found == "legitimate").sum())
        lo, hi = wilson(confirmed, confirmed + legit)
        out["variants"][name] = {
            "scored": len(frame),
            "versions": sorted(frame["model_version"].astype(str).unique().tolist()),
            "alerted": len(alerted),
            "alert_rate": len(alerted) / len(frame) if len(frame) else float("nan"),
            "reviewed_alerts": confirmed + legit,
            "precision": confirmed / (confirmed + legit) if confirmed + legit else float("nan"),
            "precision_ci95": [lo, hi],
        }
    return out


@dataclass
class AliasMove:
    model: str
    from_version: str | None
    to_version: str
    reason: str


def _gate_metric(client: MlflowClient, mv, metric: str) -> float | None:
    logged = client.get_run(mv.run_id).data.metrics
    value = logged.get(f"test_{metric}", logged.get(metric))
    return float(value) if value is not None else None


def promote(settings: Settings, family: str, force: bool = False) -> AliasMove:
    """Challenger -> champion when its logged gate metric passes the gate against the champion's;
    the old champion is tagged so `rollback` can return to it."""
    client, model = MlflowClient(), settings.model(family)
    name, aliases = model.registered_name, settings.aliases
    challenger = alias_version(name, aliases.challenger)
    if challenger is None:
        raise ValueError(
            f"model: {name} has no @{aliases.challenger}; train one (it lands there when gated out)"
        )
    champion = alias_version(name, aliases.champion)
    candidate = _gate_metric(client, challenger, model.gate.metric)
    if candidate is None:
        raise ValueError(f"{name} v{challenger.version} has no logged {model.gate.metric}; cannot gate it")
    base = _gate_metric(client, champion, model.gate.metric) if champion else None
    decision = decide(model.gate, candidate, Baseline(base, "(as logged at training)"))
    if decision.alias != "champion" and not force:
        raise ValueError(f"gate: {decision.reason}; fix the challenger or pass --force to override")
    reason = decision.reason + (" [forced]" if decision.alias != "champion" else "")
    if champion is not None:
        client.set_model_version_tag(name, challenger.version, "previous_champion", champion.version)
    client.set_registered_model_alias(name, aliases.champion, challenger.version)
    client.delete_registered_model_alias(name, aliases.challenger)
    move = AliasMove(name, str(champion.version) if champion else None, str(challenger.version), reason)
    _audit(settings, "cli:promote", move)
    return move


def rollback(settings: Settings, family: str) -> AliasMove:
    """Champion -> the version it replaced (its `previous_champion` tag)."""
    client, name = MlflowClient(), settings.model(family).registered_name
    champion = alias_version(name, settings.aliases.champion)
    if champion is None:
        raise ValueError(f"model: {name} has no @{settings.aliases.champion} to roll back")
    previous = champion.tags.get("previous_champion")
    if not previous:
        raise ValueError(f"{name} v{champion.version} records no previous champion; move the alias by hand")
    client.set_registered_model_alias(name, settings.aliases.champion, previous)
    client.set_model_version_tag(name, champion.version, "rolled_back_by", _user())
    move = AliasMove(name, str(champion.version), str(previous), f"rollback of v{champion.version}")
    _audit(settings, "cli:rollback", move)
    return move


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # containers without a passwd entry
        return "unknown"


def _audit(settings: Settings, action: str, move: AliasMove) -> None:
    outcome = {"from_version": move.from_version, "to_version": move.to_version, "reason": move.reason}
    entry = AuditEntry(_user(), "cli", action, 0, "", 0.0, move.model, move.to_version, outcome)
    open_audit(settings).note_alias(entry, settings.aliases.champion, move.to_version)
    logger.info("%s %s: v%s -> v%s (%s)", action, move.model, move.from_version, move.to_version, move.reason)


def audit_change(settings: Settings, action: str, model: str, version: str, outcome: dict) -> None:
    """An audit record for a production change made from the CLI (e.g. `kb upsert`, `kb delete`)."""
    open_audit(settings).append(AuditEntry(_user(), "cli", action, 0, "", 0.0, model, version, outcome))
