"""Typed pipeline configs loaded from YAML with `--set key.path=value` CLI overrides."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel

T = TypeVar("T", bound=BaseModel)


def default_config_path(name: str) -> Path:
    return Path(str(resources.files("training") / "configs" / f"{name}.yaml"))


def _coerce(text: str) -> Any:
    return yaml.safe_load(text)  # "31" -> 31, "true" -> True, "[a, b]" -> list


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` overrides (values parsed as YAML) to a nested dict."""
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"override {item!r} must look like key.path=value")
        node = data
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ValueError(f"override {item!r}: {part!r} is not a section")
        node[parts[-1]] = _coerce(value)
    return data


def load_config(model: type[T], path: Path, overrides: list[str] | None = None) -> T:
    """Read YAML at `path`, apply overrides, validate into `model` (errors name the key)."""
    data = yaml.safe_load(Path(path).read_text()) or {}
    return model.model_validate(apply_overrides(data, overrides or []))
