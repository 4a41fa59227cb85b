"""Each registered pyfunc loads and predicts in a process that cannot import this repo: it carries
`features/` (code_paths) and pins what it needs (requirements.txt)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import SAMPLE_CLAIMS
from tests.servers import outside_repo

# Imported when installed, not needed: scikit-learn's progress bar tries `rich` (and rich its
# `pygments`); `torch.cuda` tries `pynvml` (nvidia-ml-py) when a code path imports it.
OPTIONAL = {"rich", "pygments", "nvidia-ml-py"}

LOAD_AND_PREDICT = """import importlib.util, json, sys
import pandas as pd
assert importlib.util.find_spec("features") is None, "the repo is still importable"
import mlflow, mlflow.pyfunc
before = set(sys.modules)  # MLflow's own imports: what loading adds is what the model needs
name, rows = sys.argv[1], json.loads(sys.argv[2])
answer = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(pd.DataFrame(rows))
out = {"answer": answer.to_dict(orient="records"), "features_file": sys.modules["features"].__file__}
out["modules"] = sorted({m.split(".")[0] for m in set(sys.modules) - before})
print("RESULT " + json.dumps(out, default=str))
"""


def _inputs(settings) -> dict[str, list[dict]]:
    from features.claims.lines import claim_lines

    texts = [{"text": "I want to complain: you charged me twice and nobody calls back"}]
    queries = [{"query": "how do I make a claim for a broken windscreen"}]
    by_kind = {"text": texts, "kb": queries}
    out = {settings.model(f).registered_name: by_kind[settings.model(f).kind] for f in settings.families()
           if settings.model(f).kind != "claims"}  # fmt: skip
    for line in claim_lines(settings):  # each line's claims, from its sample table
        table = settings.sample_data_of(line.family) or SAMPLE_CLAIMS
        claims = pd.read_csv(table).drop(columns=[line.spec.target]).head(5)
        out[settings.model(line.family).registered_name] = claims.to_dict(orient="records")
    return out


def _requirements(name: str) -> set[str]:
    """The distributions a registered model pins (its requirements.txt), lower-case, `_` as `-`."""
    path = Path(mlflow.pyfunc.get_model_dependencies(f"models:/{name}@champion", format="pip"))
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("-")]
    assert all("==" in ln for ln in lines), f"{name}: unpinned requirements {lines}"
    return {canonicalize_name(ln.split("==")[0]) for ln in lines}


@pytest.fixture(scope="module")
def standalone(trained, tmp_path_factory) -> dict:
    """Each champion loaded and run in a process of its own, started outside the repo, which
    cannot import it: name -> its input rows and what the process reported."""
    from features.settings import load_settings

    settings = load_settings(trained.settings_path)
    here = tmp_path_factory.mktemp("elsewhere")
    env = outside_repo(here, trained.env())
    out = {}
    for name, rows in _inputs(settings).items():
        proc = subprocess.run(
            [sys.executable, "-c", LOAD_AND_PREDICT, name, json.dumps(rows)],
            cwd=here, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert proc.returncode == 0, f"{name}: {proc.stderr[-4000:]}"
        out[name] = {"rows": rows, **json.loads(proc.stdout.split("RESULT ", 1)[1])}
    return out


def test_features_come_from_each_models_own_code(standalone):
    for name, got in standalone.items():
        assert "/code/features/" in got["features_file"], (name, got["features_file"])


def test_every_champion_predicts_outside_the_repo(standalone):
    for name, got in standalone.items():
        assert len(got["answer"]) == len(got["rows"]), name


def test_fraud_outside_the_repo_equals_fraud_inside(standalone):
    name = next(n for n, got in standalone.items() if "fraud_probability" in got["answer"][0])
    there = pd.DataFrame(standalone[name]["answer"])
    here = mlflow.pyfunc.load_model(f"models:/{name}@champion").predict(
        pd.DataFrame(standalone[name]["rows"])
    )
    assert (there["fraud_probability"] - here["fraud_probability"]).abs().max() < 1e-12
    assert there["risk_band"].tolist() == here["risk_band"].tolist()
    assert there["top_reasons"].tolist() == here["top_reasons"].tolist()


def _installed_with(pinned: set[str]) -> set[str]:
    """The pinned distributions and, transitively, what they require (pip installs those too)."""
    closure, todo = set(pinned), list(pinned)
    while todo:
        for text in requires(todo.pop()) or []:
            req = Requirement(text)
            dep = canonicalize_name(req.name)
            if (req.marker is None or req.marker.evaluate({"extra": ""})) and dep not in closure:
                closure.add(dep)
                todo.append(dep)
    return closure


def test_requirements_are_pinned_and_cover_what_loading_imported(standalone):
    """Every third-party package that loading and running a model imported (beyond MLflow's own
    imports) is one that model pins, or a dependency of those; nothing of training/, serving/ or
    the CLI is imported."""
    owners = packages_distributions()
    for name, got in standalone.items():
        assert not {"training", "serving", "ccrisk"} & set(got["modules"]), name
        imported = {
            canonicalize_name(owners[m][0]) for m in got["modules"] if m in owners and m != "features"
        }
        missing = sorted(imported - _installed_with(_requirements(name)) - OPTIONAL)
        assert not missing, f"{name} imported {missing}, which its requirements.txt does not install"
