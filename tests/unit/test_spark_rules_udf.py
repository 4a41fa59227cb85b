"""The Spark rules UDF reaches the executors as a pickle: it must load where only `features/` (the
zip the job adds with addPyFile) is importable, not the `ccrisk` package that built it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import cloudpickle

from tests.servers import outside_repo

LOAD = """import importlib.util, sys
import cloudpickle
assert importlib.util.find_spec("ccrisk") is None, "ccrisk is importable"
fn = cloudpickle.loads(open(sys.argv[1], "rb").read())
print("loaded", fn.__name__)
"""


def test_the_rules_udf_loads_with_features_alone(tmp_path, spec):
    import features
    from ccrisk.batch.spark import rules_udf

    pickled = tmp_path / "udf.pickle"
    pickled.write_bytes(cloudpickle.dumps(rules_udf("rules.yaml", spec).func))
    code = Path(features.__file__).resolve().parent
    zipped = shutil.make_archive(str(tmp_path / "features"), "zip", code.parent, code.name)
    env = outside_repo(tmp_path, {"PATH": "/usr/bin:/bin"})
    env["PYTHONPATH"] += f":{zipped}"  # as addPyFile puts it on an executor's path
    done = subprocess.run([sys.executable, "-c", LOAD, str(pickled)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "loaded rules_act"
