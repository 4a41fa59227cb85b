"""`ccrisk bento build`: a Bento of the ccrisk service that serves with no MLflow store.

It carries the service's code (`features/`, `serving/`), the registry's champions (each MLflow
model folder imported into BentoML's model store, labelled with its registry version, run id and
files' SHA-256), the claim spec, the rules and a settings file that says
`serving.model_source: bento`. State (keys, audit trail, feedback) lives outside the Bento, in
`~/.ccrisk` unless `CCRISK_STATE_DIR` says otherwise, so a new Bento keeps it (docs/deployment.md).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import dataclass
from importlib.metadata import requires
from pathlib import Path

import bentoml
import mlflow
import yaml
from bentoml.exceptions import NotFound
from packaging.requirements import Requirement

from ccrisk.common import champion_version
from features.claims.spec import RULES_SUFFIX
from features.registry import ARTIFACT_HASH_TAG
from features.settings import OFFLINE_ENV, Settings, find_settings_file
from serving.lifecycle.packaged import MLFLOW_FOLDER, RUN_ID, SHA256, VERSION
from training.registry import pinned

logger = logging.getLogger(__name__)
SERVICE = "serving.service:CCRisk"
CODE = ("features", "serving")  # what the service imports; serving never imports training
BENTO_STATE_DIR = "~/.ccrisk"  # outside the Bento: a rebuilt Bento keeps the keys and the audit trail
CPU_TORCH = "https://download.pytorch.org/whl/cpu"  # the CPU build of torch, as `make install` takes


@dataclass(frozen=True)
class Packaged:
    family: str
    name: str
    version: str
    run_id: str
    tag: str


def import_champions(settings: Settings) -> list[Packaged]:
    """Every family's champion, imported into BentoML's model store (once per version)."""
    return [_import(settings, family) for family in settings.families()]


def _import(settings: Settings, family: str) -> Packaged:
    mv = champion_version(settings, family)
    name = mv.name
    sha = (mv.tags or {}).get(ARTIFACT_HASH_TAG, "")
    tag = f"{name}:v{mv.version}-{(sha or mv.run_id)[:12]}"
    packaged = Packaged(family, name, str(mv.version), mv.run_id, tag)
    try:
        bentoml.models.get(tag)
        logger.info("%s v%s is already in the model store as %s", name, mv.version, tag)
        return packaged
    except NotFound:
        pass
    labels = {VERSION: str(mv.version), RUN_ID: mv.run_id, SHA256: sha, "family": family}
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(f"models:/{name}/{mv.version}", dst_path=tmp)
        with bentoml.models.create(
            tag, labels=labels, metadata={"source": f"models:/{name}/{mv.version}"}
        ) as m:
            shutil.copytree(local, m.path_of(MLFLOW_FOLDER))
    logger.info("imported %s v%s (run %s) as %s", name, mv.version, mv.run_id, tag)
    return packaged


def bento_settings(settings_file: Path, ctx: Path) -> dict:
    """The settings file as the Bento serves it: models from the Bento, state outside it, and the
    claim spec and rules files (when the settings name files) copied in beside it."""
    data = yaml.safe_load(settings_file.read_text()) or {}
    root = settings_file.resolve().parent
    serving = data.setdefault("serving", {})
    serving["model_source"] = "bento"
    data["state_dir"] = BENTO_STATE_DIR
    lines = [m for m in (data.get("models") or {}).values() if m.get("kind") == "claims"]
    for section, key, folder in [(serving, "claim_spec", "specs"), (serving, "rules_file", "rules")] + [
        (m, k, f) for m in lines for k, f in (("spec", "specs"), ("rules_file", "rules"))
    ]:
        _copy_in(section, key, folder, root, ctx)
    for section, key in (("security", "audit_key_file"), ("security", "audit_anchor_file")):
        value = (data.get(section) or {}).get(key)
        if value and not Path(value).expanduser().is_absolute():
            logger.warning(
                "%s.%s=%s is relative: the Bento keeps it in its state_dir instead", section, key, value
            )
            data[section][key] = None
    return data


def _copy_in(section: dict, key: str, folder: str, root: Path, ctx: Path) -> None:
    """A spec or rules file a setting names, copied into the Bento and the setting pointed at the
    copy; a spec's rules beside it travel with it."""
    value = section.get(key)
    if not (value and value.endswith((".yaml", ".yml"))):
        return
    source = (root / Path(value).expanduser()).resolve()
    (ctx / folder).mkdir(exist_ok=True)
    shutil.copy(source, ctx / folder / source.name)
    section[key] = f"{folder}/{source.name}"
    beside = source.with_name(source.stem + RULES_SUFFIX)  # rules found beside the spec
    if folder == "specs" and beside.is_file():
        shutil.copy(beside, ctx / folder / beside.name)


def runtime_packages() -> list[str]:
    """The service's dependencies (pyproject's, without the dev extra) pinned as installed here."""
    names = []
    for text in requires("ccrisk") or []:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.append(req.name)
    return pinned(names)


def build(settings: Settings, repo: Path, version: str | None = None) -> bentoml.Bento:
    """Import the champions, stage the code and settings, build the Bento `ccrisk`."""
    models = import_champions(settings)
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        for package in CODE:
            shutil.copytree(repo / package, ctx / package, ignore=shutil.ignore_patterns("__pycache__"))
        (ctx / "mlflow.yaml").write_text(
            yaml.safe_dump(bento_settings(find_settings_file(), ctx), sort_keys=False)
        )
        bento = bentoml.bentos.build(
            SERVICE,
            name="ccrisk",
            version=version,
            build_ctx=str(ctx),
            include=[f"{p}/**" for p in CODE] + ["mlflow.yaml", "specs/*", "rules/*"],
            exclude=["__pycache__", "*.pyc"],
            models=[m.tag for m in models],
            labels={m.family: f"v{m.version}" for m in models},
            python={"packages": runtime_packages(), "extra_index_url": [CPU_TORCH], "lock_packages": False},
            docker={"python_version": "3.11", "env": dict(OFFLINE_ENV)},
        )
    logger.info("built %s with %s", bento.tag, ", ".join(f"{m.name} v{m.version}" for m in models))
    return bento
