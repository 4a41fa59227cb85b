"""`ccrisk train kb-encoder` passes its flags to the pipeline as config overrides."""

from typer.testing import CliRunner

import training.kb.runs as runs
from ccrisk.cli import app
from tests.conftest import write_settings


def test_kb_encoder_flags_override_the_tuning_config(monkeypatch, tmp_path):
    seen = {}

    def fake_source(dataset, data_root, kb, pairs):
        return [], [], "bankfaqs"

    def fake_run(articles, queries, cfg, settings, source):
        seen["tuning"] = cfg.tuning
        raise ValueError("stop here")

    monkeypatch.setattr(runs, "load_source", fake_source)
    monkeypatch.setattr(runs, "tune_encoder_run", fake_run)
    monkeypatch.setenv("CCRISK_SETTINGS", str(write_settings(tmp_path)))
    args = ["train", "kb-encoder", "--dataset", "bankfaqs", "--epochs", "2", "--batch-size", "16"]
    done = CliRunner().invoke(app, args)
    assert "stop here" in done.output and done.exit_code != 0
    assert (seen["tuning"].epochs, seen["tuning"].lr, seen["tuning"].batch_size) == (2, 3e-5, 16)
