"""The user's caw defaults: the model each tier means per provider, in a JSON file under the
platform's config dir (``platformdirs``; ``$CAW_HOME/config.json`` when ``CAW_HOME`` is set,
as caw 0.1.9 had it). Only overridden keys are stored; caw never fetches defaults itself.

``{"models": {"codex": {"fast": "gpt-5.3-codex-spark"}}}``
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .providers import canonical_name
from .store import atomic_write_text
from .tiers import ModelTier


class ConfigError(ValueError):
    """The config file is not valid JSON of the expected shape; the message names the file."""


def config_path() -> Path:
    home = os.environ.get("CAW_HOME", "").strip()
    if home:
        return Path(home).expanduser() / "config.json"
    from platformdirs import user_config_dir

    return Path(user_config_dir("caw")) / "config.json"


def load() -> dict[str, Any]:
    path = config_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read caw's config file {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        raise ConfigError(f"caw's config file {path} must be a JSON object with a 'models' object")
    return data


def _save(data: dict[str, Any]) -> None:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")


def tier_override(provider: str, tier: ModelTier) -> str | None:
    """The user's model for ``provider``'s ``tier``, if set."""
    value = load().get("models", {}).get(canonical_name(provider), {}).get(tier.value)
    return value if isinstance(value, str) and value.strip() else None


def set_tier_model(provider: str, tier: ModelTier, model: str) -> None:
    if not model.strip() or model.startswith("-"):
        raise ConfigError(f"not a model name: {model!r}")
    data = load()
    data.setdefault("models", {}).setdefault(canonical_name(provider), {})[tier.value] = model
    _save(data)


def unset_tier_model(provider: str, tier: ModelTier) -> bool:
    """Remove the user's model for ``provider``'s ``tier``; whether there was one."""
    data = load()
    models = data.get("models", {}).get(canonical_name(provider), {})
    if tier.value not in models:
        return False
    del models[tier.value]
    _save(data)
    return True
