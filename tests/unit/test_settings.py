from pathlib import Path

from features.settings import load_settings


def test_relative_sqlite_uri_is_anchored_at_the_settings_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    src = Path(__file__).resolve().parents[2] / "mlflow.yaml"
    (tmp_path / "mlflow.yaml").write_text(src.read_text())
    s = load_settings(tmp_path / "mlflow.yaml")
    assert s.resolved_tracking_uri() == f"sqlite:///{tmp_path}/.ccrisk/mlflow.db"
    assert s.state_path == tmp_path / ".ccrisk"


def test_environment_overrides_tracking_uri(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/x.db")
    s = load_settings(Path(__file__).resolve().parents[2] / "mlflow.yaml")
    assert s.resolved_tracking_uri() == "sqlite:////elsewhere/x.db"


def test_all_registered_names_are_declared():
    s = load_settings(Path(__file__).resolve().parents[2] / "mlflow.yaml")
    names = {m.registered_name for m in s.models.values()}
    assert names == {
        "ccrisk-fraud",
        "ccrisk-fraud-health_claims",  # the second line of business: ccrisk-fraud-<spec>
        "ccrisk-complaint",
        "ccrisk-complaint-topic",
        "ccrisk-intent",
        "ccrisk-kb",
    }


def test_artifacts_follow_the_store(tmp_path, monkeypatch):
    s = load_settings(Path(__file__).resolve().parents[2] / "mlflow.yaml")
    assert s.artifact_root(s.configured_tracking_uri()) == s.artifact_path
    assert s.artifact_root(f"sqlite:///{tmp_path}/other.db") == tmp_path / "mlartifacts"
    assert s.artifact_root("http://127.0.0.1:5000") is None


def test_retired_switches_are_ignored_with_a_warning_and_typos_still_refused(caplog):
    """A settings file written before the A/B switches were retired keeps working."""
    import pydantic
    import pytest

    from features.settings import SecuritySettings, ServingSettings

    with caplog.at_level("WARNING", logger="features.settings"):
        serving = ServingSettings.model_validate(
            {"freeze_heap": True, "claim_on_event_loop": False, "workers": 3}
        )
        SecuritySettings.model_validate({"audit": False})
    assert serving.workers == 3 and not hasattr(serving, "freeze_heap")
    assert (
        "serving.claim_on_event_loop, freeze_heap: retired" in caplog.text and "security.audit" in caplog.text
    )
    with pytest.raises(pydantic.ValidationError, match="freez_heap"):
        ServingSettings.model_validate({"freez_heap": True})


def test_model_families_come_from_the_settings_file_claims_first():
    from features.settings import load_settings

    settings = load_settings()
    assert settings.families() == ["fraud", "fraud_health", "complaint", "complaint_topic", "intent", "kb"]
    assert settings.families("claims") == ["fraud", "fraud_health"]
    assert settings.families("text") == ["complaint", "complaint_topic", "intent"]
    assert settings.families("kb") == ["kb"]


def test_any_setting_can_come_from_the_environment(monkeypatch):
    """CCRISK_ + the setting's path joined by __ wins over the file; the rest of the file stays."""
    monkeypatch.setenv("CCRISK_SERVING__WORKERS", "4")
    monkeypatch.setenv("CCRISK_SECURITY__RATE_BURST", "7")
    monkeypatch.setenv("CCRISK_SERVING__UI_MESSAGE_ORIGINS", '["https://phone.example.com"]')
    monkeypatch.setenv("CCRISK_MODELS__FRAUD__REGISTERED_NAME", "ccrisk-fraud-motor")
    s = load_settings(Path(__file__).resolve().parents[2] / "mlflow.yaml")
    assert (s.serving.workers, s.security.rate_burst) == (4, 7)
    assert s.serving.ui_message_origins == ["https://phone.example.com"]
    assert s.models["fraud"].registered_name == "ccrisk-fraud-motor"
    assert s.serving.claim_spec == "vehicle_claims" and s.models["kb"].registered_name == "ccrisk-kb"


def test_a_bad_value_from_the_environment_names_the_variable(monkeypatch):
    import pytest

    monkeypatch.setenv("CCRISK_SERVING__WORKERS", "zero")
    with pytest.raises(
        ValueError, match=r"serving\.workers \(from CCRISK_SERVING__WORKERS\): Input should be"
    ):
        load_settings(Path(__file__).resolve().parents[2] / "mlflow.yaml")


def test_a_state_dir_under_home_is_expanded(monkeypatch, tmp_path):
    """What a Bento's settings say (state outside the Bento), and CCRISK_STATE_DIR moves it."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("CCRISK_STATE_DIR", "~/.ccrisk")
    s = load_settings(Path(__file__).resolve().parents[2] / "mlflow.yaml")
    assert s.state_path == tmp_path / ".ccrisk"
    assert s.stores_url == f"sqlite:///{tmp_path / '.ccrisk' / 'stores.sqlite'}"
