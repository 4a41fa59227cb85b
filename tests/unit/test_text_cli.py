"""`ccrisk train text-finetune-trial` passes its flags to the trial and ends input errors with
the message (exit code 2), not a traceback."""

from typer.testing import CliRunner

import training.text.finetune as finetune
from ccrisk.cli import app
from tests.conftest import write_settings


def test_trial_flags_reach_the_trial(monkeypatch, tmp_path):
    seen = {}

    def fake_trial(data, cfg, settings, folds, epochs, lr, blend, device):
        seen.update(task=cfg.task, folds=folds, epochs=epochs, lr=lr, blend=blend, device=device)
        return {"oof_blend_macro_f1": 0.5}

    monkeypatch.setattr(finetune, "run_trial", fake_trial)
    monkeypatch.setenv("CCRISK_SETTINGS", str(write_settings(tmp_path)))
    args = ["train", "text-finetune-trial", "--task", "complaint_topic", "--sample", "--folds", "5"]
    done = CliRunner().invoke(
        app, [*args, "--epochs", "4", "--lr", "1e-4", "--blend", "0.3", "--device", "cpu"]
    )
    assert done.exit_code == 0, done.output
    assert seen == {
        "task": "complaint_topic",
        "folds": 5,
        "epochs": 4,
        "lr": 1e-4,
        "blend": 0.3,
        "device": "cpu",
    }
    assert "oof_blend_macro_f1" in done.output


def test_cuda_without_a_gpu_ends_with_the_fix(monkeypatch, tmp_path):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("CCRISK_SETTINGS", str(write_settings(tmp_path)))
    args = ["train", "text-finetune-trial", "--task", "complaint", "--sample", "--device", "cuda"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 2
    assert "torch sees no CUDA GPU here; use --device cpu" in done.output
