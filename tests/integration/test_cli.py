"""CLI failure modes: clear messages and non-zero exits, no half-up server."""

import subprocess
import sys

import polars as pl

from tests.conftest import SAMPLE_CLAIMS, write_settings


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
