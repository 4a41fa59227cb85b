"""The notebooks run on a real Jupyter kernel (nbclient, as `jupyter nbconvert --execute` does),
cell by cell, against a freshly trained store (they rot silently otherwise). A cell appended to a
copy prints one expression over the notebook's variables as JSON for the test to check. The
notebooks are kept with their outputs and plots (`make notebooks` runs them in place)."""

from __future__ import annotations

import json
import shutil

import nbformat
import numpy as np
from nbclient import NotebookClient

from tests.conftest import ROOT, write_settings

FOLDER = ROOT / "notebooks"
CHECKED = [  # every notebook, each with its test below
    "1.0-ccrisk-fraud-champion-tour.ipynb",
    "2.0-ccrisk-contact-and-kb-tour.ipynb",
    "3.0-ccrisk-fraud-reasons.ipynb",
    "4.0-ccrisk-kb-methods.ipynb",
    "5.0-ccrisk-retraining.ipynb",
]
PLOTS = {
    "3.0-ccrisk-fraud-reasons.ipynb": 2,
    "4.0-ccrisk-kb-methods.ipynb": 1,
    "5.0-ccrisk-retraining.ipynb": 1,
}


def run_notebook(name: str, expression: str, env: dict) -> object:
    nb = nbformat.read(FOLDER / name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(f"import json\nprint('RESULT ' + json.dumps({expression}))"))
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(FOLDER)}}
    )
    client.execute(env=env)
    text = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.output_type == "stream")
    line = next(x for x in text.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_every_notebook_is_checked_and_kept_with_its_outputs_and_plots():
    assert sorted(p.name for p in FOLDER.glob("*.ipynb")) == sorted(CHECKED)
    for name in CHECKED:
        nb = nbformat.read(FOLDER / name, as_version=4)
        nbformat.validate(nb)
        cells = [c for c in nb.cells if c.cell_type == "code"]
        assert all(c.execution_count for c in cells), f"{name}: run `make notebooks` to keep its outputs"
        outputs = [o for c in cells for o in c.outputs]
        assert not [o for o in outputs if o.output_type == "error"], name
        plots = sum("image/png" in o.get("data", {}) for o in outputs)
        assert plots >= PLOTS.get(name, 0), f"{name}: {plots} plots kept"


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


def test_fraud_reasons_are_the_treeshap_values_the_plots_draw(trained):
    out = run_notebook(
        "3.0-ccrisk-fraud-reasons.ipynb",
        "{'gap': float(gap), 'claims': len(claims), 'top': top, 'probability': float(probability[top]),"
        " 'row': contrib[top].tolist(), 'features': features, 'shape': list(contrib.shape),"
        " 'reasons': [(r.feature, r.contribution) for r in reasons]}",
        trained.env(),
    )
    assert out["gap"] < 1e-6, "TreeSHAP contributions must add up to the model's log-odds"
    assert out["shape"] == [out["claims"], len(out["features"])] and out["probability"] > 0.5
    row = dict(zip(out["features"], out["row"], strict=True))
    assert out["reasons"], "the riskiest claim has reasons"
    for feature, contribution in out["reasons"]:  # the service's reasons are the plotted values
        assert abs(row[feature] - contribution) < 1e-5, feature
    assert out["reasons"][0][1] == max(c for _, c in out["reasons"])
    assert out["reasons"][0][1] >= np.sort(out["row"])[-3]  # among the strongest risk-raising features


def test_kb_methods_compare_the_runs_held_out_metrics(trained):
    out = run_notebook(
        "4.0-ccrisk-kb-methods.ipynb",
        "{'methods': list(table.index), 'ndcg': table['ndcg_at_10'].tolist(), 'speed': speed}",
        trained.env(),
    )
    assert out["methods"] == ["hybrid", "dense", "bm25", "rrf"]
    assert out["ndcg"][0] == trained.kb_result.metrics["hybrid"]["ndcg_at_10"]
    assert all(0 < n <= 1 for n in out["ndcg"]) and all(ms > 0 for ms in out["speed"].values())


def test_the_retraining_walkthrough_promotes_and_shows_its_trail_trials_and_card(trained, tmp_path):
    shutil.copytree(trained.folder, tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("bentoml"))
    env = {**trained.env(), "CCRISK_SETTINGS": str(write_settings(tmp_path)),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db"}  # fmt: skip
    out = run_notebook(
        "5.0-ccrisk-retraining.ipynb",
        "{'status': done.returncode, 'steps': steps['step'].tolist(), 'trials': len(trials),"
        " 'states': sorted(set(trials['state'])), 'card': challenger.description[:40],"
        " 'before': str(before.version), 'after': str(after.version)}",
        env,
    )
    assert out["status"] == 0 and out["after"] != out["before"]
    assert out["steps"] == ["cli:retrain.start", "cli:retrain.trained", "cli:retrain.compared", "cli:promote",
                            "cli:retrain.promoted"]  # fmt: skip
    assert out["trials"] == 6 and set(out["states"]) <= {"complete", "pruned"}
    assert out["card"].startswith(f"# Model card: ccrisk-fraud v{out['after']}")
