"""The notebooks run, cell by cell, against a freshly trained store (they rot silently otherwise).

Each notebook's code cells are executed in order in a subprocess started in `notebooks/` (as
Jupyter would), with the store's environment; then one expression over the notebook's variables
is printed as JSON for the test to check. No Jupyter kernel is needed."""

import json
import subprocess
import sys

from tests.conftest import ROOT

CHECKED = [  # every notebook, each with its test below
    "1.0-ccrisk-fraud-champion-tour.ipynb",
    "2.0-ccrisk-contact-and-kb-tour.ipynb",
]
RUNNER = """
import json, sys
nb = json.load(open(sys.argv[1]))
ns = {}
for i, cell in enumerate(nb["cells"]):
    if cell["cell_type"] == "code":
        exec(compile("".join(cell["source"]), f"{sys.argv[1]}, cell {i}", "exec"), ns)
print("RESULT " + json.dumps(eval(sys.argv[2], ns)))
"""


def run_notebook(name: str, expression: str, env: dict) -> object:
    path = ROOT / "notebooks" / name
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, str(path), expression],
        cwd=path.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_every_notebook_is_checked():
    assert sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) == sorted(CHECKED)


def test_fraud_tour(trained):
    out = run_notebook(
        "1.0-ccrisk-fraud-champion-tour.ipynb",
        "{'probabilities': model.predict(claims)['fraud_probability'].tolist(),"
        " 'reasons': [len(r) for r in assessment.reasons], 'champion': client.get_registered_model("
        "'ccrisk-fraud').aliases.get('champion')}",
        trained.env(),
    )
    assert len(out["probabilities"]) == 10 and all(0 <= p <= 1 for p in out["probabilities"])
    assert out["reasons"] == [3] * 10
    assert str(out["champion"]) == trained.result.version  # MLflow gives the alias as an int here


def test_contact_and_kb_tour(trained):
    out = run_notebook(
        "2.0-ccrisk-contact-and-kb-tour.ipynb",
        "{'risks': scored['complaint_risk'].tolist(), 'topics': scored['topic'].tolist(),"
        " 'risk': risk, 'phrases': [p.text for p in phrases], 'hits': len(result.hits),"
        " 'titles': answers['titles'].map(len).tolist(), 'versions': runs['version'].tolist(),"
        " 'f1': runs['cv_macro_f1'].tolist()}",
        trained.env(),
    )
    assert len(out["risks"]) == 8 and all(0 <= p <= 1 for p in out["risks"])
    assert all(isinstance(t, str) and t for t in out["topics"])
    assert out["risk"] > 0.5 and out["phrases"], "an explicit complaint should be flagged with phrases"
    assert out["hits"] == 3 and out["titles"] == [10, 10]
    expected = [trained.text_results[t].version for t in ("complaint", "complaint_topic", "intent")]
    assert [str(v) for v in out["versions"]] == expected
    assert all(0 < f <= 1 for f in out["f1"])
