"""CLI failure modes: clear messages and non-zero exits, no half-up server."""

import subprocess
import sys
from pathlib import Path

import polars as pl
import yaml

from tests.conftest import SAMPLE_CLAIMS, SAMPLE_KB, SAMPLE_KB_QUERIES, write_settings


def _ccrisk(args, env, timeout=120):
    return subprocess.run(
        [sys.executable, "-m", "ccrisk", *args], env=env, capture_output=True, text=True, timeout=timeout
    )


def _empty_store_env(tmp_path, trained):
    settings = write_settings(tmp_path)
    return {
        **trained.env(),
        "CCRISK_SETTINGS": str(settings),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path}/mlflow.db",
    }


def test_serve_without_champion_fails_fast_with_the_fix(tmp_path, trained):
    done = _ccrisk(["serve", "--port", "1"], _empty_store_env(tmp_path, trained))
    assert done.returncode == 3
    text = " ".join(done.stdout.split())
    assert "ccrisk-fraud@champion does not exist" in text and "ccrisk train fraud" in text


def test_serve_with_a_broken_key_file_fails_fast(tmp_path, trained):
    """Champions are fine (the session store), but the key file of an earlier version, imported
    on start, is not JSON: exit 3 before forking, naming the file."""
    env = {**_empty_store_env(tmp_path, trained), "MLFLOW_TRACKING_URI": trained.env()["MLFLOW_TRACKING_URI"]}
    (tmp_path / "state").mkdir(exist_ok=True)
    (tmp_path / "state" / "api_keys.json").write_text("{not json")
    done = _ccrisk(["serve", "--port", "1"], env)
    assert done.returncode == 3
    text = " ".join(done.stdout.split())
    assert "api_keys.json: not a ccrisk key file" in text and "fix it or remove it" in text


def test_serve_with_an_audit_trail_it_cannot_open_fails_fast(tmp_path, trained):
    """Checked once before the workers start (each would otherwise exit and be restarted)."""
    env = {**_empty_store_env(tmp_path, trained), "MLFLOW_TRACKING_URI": trained.env()["MLFLOW_TRACKING_URI"]}
    settings = yaml.safe_load(Path(env["CCRISK_SETTINGS"]).read_text())
    (tmp_path / "a-file").write_text("")
    settings.setdefault("security", {})["audit_url"] = f"sqlite:///{tmp_path / 'a-file' / 'audit.sqlite'}"
    Path(env["CCRISK_SETTINGS"]).write_text(yaml.safe_dump(settings))
    done = _ccrisk(["serve", "--port", "1"], env)
    assert done.returncode == 3
    text = " ".join(done.stdout.split())
    assert "the audit trail (security.audit_url) cannot be opened" in text and "Not a directory" in text
    assert "a-file" not in text.split("Not a directory")[0]  # our message names the setting, not the URL


def test_training_on_a_bad_table_names_the_column(tmp_path, trained):
    bad = tmp_path / "bad.csv"
    pl.read_csv(SAMPLE_CLAIMS).with_columns(pl.lit("cheap").alias("VehiclePrice")).write_csv(bad)
    done = _ccrisk(["train", "fraud", "--data", str(bad)], _empty_store_env(tmp_path, trained))
    assert done.returncode == 2
    text = " ".join(done.stdout.split())
    assert "'VehiclePrice'" in text and "add them to `levels`" in text


def test_training_on_a_missing_file_says_so(tmp_path, trained):
    done = _ccrisk(
        ["train", "fraud", "--data", str(tmp_path / "nope.csv")], _empty_store_env(tmp_path, trained)
    )
    assert done.returncode == 2 and "not found" in done.stdout


def test_serve_with_a_corrupted_champion_fails_fast(tmp_path, trained):
    """Train into a fresh store, damage the logged model, and `ccrisk serve` must refuse to start."""
    env = _empty_store_env(tmp_path, trained)
    small = tmp_path / "small.csv"
    pl.read_csv(SAMPLE_CLAIMS).head(600).write_csv(small)
    done = _ccrisk(
        ["train", "fraud", "--data", str(small), "--set", "folds=2", "--set", "num_boost_round=50"],
        env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:]
    pickles = list(tmp_path.rglob("python_model.pkl"))
    assert len(pickles) == 1
    pickles[0].write_bytes(b"not a pickle")
    done = _ccrisk(["serve", "--port", "1"], env)
    assert done.returncode == 3
    text = " ".join(done.stdout.split())
    assert "could not be loaded" in text and "Re-train" in text


def test_text_training_errors_name_the_fix(tmp_path, trained):
    env = _empty_store_env(tmp_path, trained)
    done = _ccrisk(["train", "text", "--task", "sentiment"], env)
    assert done.returncode == 2 and "unknown text task 'sentiment'" in done.stdout
    bad = tmp_path / "messages.csv"
    bad.write_text("message,label\nhello,a\n")
    done = _ccrisk(["train", "text", "--task", "intent", "--data", str(bad)], env)
    text = " ".join(done.stdout.split())
    assert done.returncode == 2 and "no column 'text'" in text and "set data.text" in text


def test_kb_train_update_and_evaluate_through_the_cli(tmp_path, trained):
    """Build a KB model from the sample, add one article, remove it, evaluate; errors name the fix."""
    env = _empty_store_env(tmp_path, trained)
    done = _ccrisk(["kb", "delete", "windshield"], env)
    assert done.returncode == 2 and "build one first with `ccrisk train kb`" in " ".join(done.stdout.split())
    done = _ccrisk(["train", "kb", "--kb", str(tmp_path / "absent")], env)
    assert done.returncode == 2 and "pass --kb PATH" in done.stdout
    done = _ccrisk(
        ["train", "kb", "--kb", str(SAMPLE_KB), "--queries", str(SAMPLE_KB_QUERIES)], env, timeout=300
    )
    assert done.returncode == 0, done.stdout[-2000:]
    assert "@champion" in done.stdout and "hybrid" in done.stdout
    new = tmp_path / "new.jsonl"
    new.write_text('{"id": "ev-charger", "title": "EV home charger", "body": "Home chargers are covered."}\n')
    done = _ccrisk(["kb", "upsert", str(new), "--queries", str(SAMPLE_KB_QUERIES)], env, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "2 text(s) embedded anew" in done.stdout
    done = _ccrisk(["kb", "delete", "ev-charger", "nope"], env)
    assert done.returncode == 2 and "['nope'] are not in the knowledge base" in done.stdout
    done = _ccrisk(["kb", "delete", "ev-charger"], env, timeout=300)  # a takedown: never gated
    assert done.returncode == 0 and "@champion" in done.stdout and "takedown" in done.stdout, done.stdout
    from features.ops.audit import open_audit
    from features.settings import load_settings

    trail = open_audit(load_settings(Path(env["CCRISK_SETTINGS"]))).rows()
    changes = [(r["endpoint"], r["outcome"]) for r in trail if r["endpoint"].startswith("cli:kb_")]
    assert [e for e, _ in changes] == ["cli:kb_upsert", "cli:kb_delete"]
    assert all('"article_ids":["ev-charger"]' in o for _, o in changes)
    done = _ccrisk(
        ["evaluate", "kb", "--kb", str(SAMPLE_KB), "--queries", str(SAMPLE_KB_QUERIES)], env, timeout=300
    )
    assert done.returncode == 0 and "rrf" in done.stdout and "bm25" in done.stdout
