"""`ccrisk retrain FAMILY`: the learning loop as one step, each step an audit record.

1. **train**, with what the service learned: claims lines add the served claims investigators
   reviewed (`with_feedback`), the KB the answers agents marked helpful or dismissed; Optuna
   trials, when asked for, are MLflow child runs with a pruner. The new version is registered
   as challenger, whatever the gate says (`hold`).
2. **shadow** (optional, `shadow_s`): wait while servers in `traffic.mode: shadow` (or split)
   score live traffic with the challenger too.
3. **compare** champion and challenger on the traffic logged meanwhile (claims lines).
4. **promote** through the gate (`ccrisk promote`'s rule), or keep the challenger and say why.

Records: `cli:retrain.start`, `cli:retrain.trained`, `cli:retrain.compared`, then `cli:promote`
(with `cli:retrain.promoted`) or `cli:retrain.held`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from ccrisk.ops.release import audit_change, compare, promote
from features.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class Retrained:
    family: str
    model: str
    version: str
    promoted: bool
    reason: str
    steps: list[str] = field(default_factory=list)
    comparison: dict | None = None


def retrain(settings: Settings, family: str, data: Path | None = None, trials: int | None = None,
            shadow_s: float = 0.0, overrides: list[str] | None = None,
            sample: bool = False) -> Retrained:  # fmt: skip
    """Train (held as challenger), shadow, compare and promote one family; `sample`: a text
    model on the project's sample messages."""
    model = settings.model(family)
    name = model.registered_name
    audit_change(settings, "cli:retrain.start", name, "", {"family": family, "data": str(data or "(config)")})
    version, decision, run_id, extra = _train(settings, family, data, trials, list(overrides or []), sample)
    done = Retrained(family, name, version, False, decision.reason, ["trained"])
    outcome = {"run_id": run_id, "gate": decision.reason, **extra}
    audit_change(settings, "cli:retrain.trained", name, version, outcome)
    if shadow_s > 0:
        logger.info("%s v%s: shadowing for %.0f s", name, version, shadow_s)
        time.sleep(shadow_s)
        done.steps.append("shadowed")
    if model.kind == "claims":
        done.comparison = _compare(settings, name, time.time() - max(shadow_s, 0.0) - 1)
        audit_change(settings, "cli:retrain.compared", name, version, done.comparison)
        done.steps.append("compared")
    try:
        move = promote(settings, family)
    except ValueError as exc:  # the gate says no: the challenger stays for a person to look at
        done.reason = str(exc)
        audit_change(settings, "cli:retrain.held", name, version, {"reason": done.reason})
        done.steps.append("held")
        return done
    done.promoted, done.reason = True, move.reason
    audit_change(settings, "cli:retrain.promoted", name, version, {"from_version": move.from_version})
    done.steps.append("promoted")
    return done


def _train(settings: Settings, family: str, data: Path | None, trials: int | None, overrides: list[str],
           sample: bool):  # fmt: skip
    """(version, decision, run id, what it learned from) of a held training run of `family`."""
    kind = settings.model(family).kind
    if trials is not None:
        overrides.append(f"tuning.trials={trials}")
    if kind == "claims":
        from training.config import default_config_path, load_config
        from training.fraud.config import FraudTrainConfig
        from training.fraud.pipeline import train_fraud

        cfg = load_config(FraudTrainConfig, default_config_path("fraud"), [*overrides, "with_feedback=true"])
        cfg = cfg.model_copy(update={"spec": settings.spec_source(family)})
        table = data or settings.sample_data_of(family)
        if table is None:
            raise ValueError(f"data: give the claims table to retrain {family} on (--data FILE)")
        result = train_fraud(Path(table), cfg, settings, hold=True)
        return result.version, result.decision, result.run_id, {"feedback": "investigators' outcomes"}
    if kind == "text":
        from training.text.config import load_text_config
        from training.text.pipeline import train_text

        cfg = load_text_config(family, overrides=overrides, sample=sample)
        result = train_text(data, cfg, settings, hold=True)
        return result.version, result.decision, result.run_id, {"feedback": "none kept for text models"}
    from features.kb.articles import load_articles
    from training.kb.config import load_kb_config
    from training.kb.data import load_queries
    from training.kb.pipeline import train_kb

    cfg = load_kb_config(None, [*overrides, "with_feedback=true"])
    articles = load_articles(Path(data or cfg.kb))
    pairs = load_queries(Path(cfg.queries), articles) if cfg.queries else []
    result = train_kb(articles, pairs, cfg, settings, source=str(data or cfg.kb), hold=True)
    return (
        result.version,
        result.decision,
        result.run_id,
        {"feedback": "agents' KB feedback", **result.feedback},
    )


def _compare(settings: Settings, name: str, since: float) -> dict:
    from features.ops.outcomes import ClaimFeedbackStore, PredictionLog

    preds = PredictionLog(settings.stores_url).frame(name, since, with_inputs=False)
    if preds.empty:
        return {
            "paired_claims": 0,
            "note": "no traffic logged while shadowing: compared on test metrics only",
        }
    return compare(preds, ClaimFeedbackStore(settings.stores_url).latest())
