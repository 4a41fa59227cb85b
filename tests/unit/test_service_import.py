"""BentoML's supervisor process imports the service module only for its endpoint types; the
models' libraries belong in the workers (`CCRisk.__init__`), or the supervisor holds ~150 MB
it never uses."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("mlflow", "torch", "sentence_transformers", "spacy", "lightgbm", "sklearn", "pandas", "polars")


def test_importing_the_service_module_loads_no_model_library():
    code = (
        "import json, sys; import serving.service; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []


def test_the_service_class_still_names_every_endpoint():
    code = (
        "import json; from serving.service import CCRisk; "
        "print(json.dumps(sorted(a.route for a in CCRisk.apis.values())))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    routes = json.loads(done.stdout.strip().splitlines()[-1])
    assert "/v1/claims/score" in routes and "/v1/contact/analyze" in routes and "/v1/kb/search" in routes


def test_workers_import_pandas_without_pyarrow_unless_it_is_already_loaded():
    code = (
        "import json, sys; from serving.platform.runtime import without_pyarrow; without_pyarrow(); "
        "import pandas as pd; s = pd.Series(['a', None]); "
        "import pyarrow as pa"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "import of pyarrow halted" in done.stderr, done.stderr[-2000:]
    code = "import pandas; from serving.platform import runtime; runtime.without_pyarrow(); import pyarrow"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_bentoml_access_log_follows_the_settings_and_tracing_is_off():
    """The access log is off by default (serving.access_log): the audit trail records every call
    already. No trace exporter is configured, so no spans: "." in excluded_urls matches every URL."""
    code = (
        "import json; from serving.service import CCRisk; "
        "print(json.dumps([CCRisk.config['logging'], CCRisk.config['tracing']]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    logging, tracing = json.loads(done.stdout.strip().splitlines()[-1])
    assert logging == {"access": {"enabled": False}}
    assert tracing == {"excluded_urls": ["."]}

    from opentelemetry.util.http import ExcludeList

    assert ExcludeList(tracing["excluded_urls"]).url_disabled("http://127.0.0.1:3000/v1/claims/score")
