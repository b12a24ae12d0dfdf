"""Model tiers: ``ModelTier.STRONGEST`` / ``FAST`` mapped to each provider's own model.

A tier says what the caller wants, not which model, so it survives a fallback to another
provider. Resolution order for one provider and tier (highest first): the provider's own
environment variable (``ANTHROPIC_MODEL`` / ``ANTHROPIC_SMALL_FAST_MODEL``, ``OPENCODE_MODEL``
/ ``OPENCODE_SMALL_FAST_MODEL``), then the user's config file (caw.user_config, ``caw config``),
then the built-in table. ``None`` means "the CLI's own
default model". No defaults are fetched from the network.
"""

from __future__ import annotations

import enum
import os

from .providers import canonical_name


class ModelTier(str, enum.Enum):
    """An abstract model choice each provider maps to a concrete model."""

    STRONGEST = "strongest"
    FAST = "fast"


# None: leave the CLI's own default (which is its strongest model).
DEFAULT_MODELS: dict[str, dict[ModelTier, str | None]] = {
    "claude_code": {ModelTier.STRONGEST: "opus", ModelTier.FAST: "claude-haiku-4-5"},
    "codex": {ModelTier.STRONGEST: None, ModelTier.FAST: "gpt-5.3-codex-spark"},
    "opencode": {ModelTier.STRONGEST: None, ModelTier.FAST: None},
}

ENV_OVERRIDES: dict[str, dict[ModelTier, str]] = {
    "claude_code": {
        ModelTier.STRONGEST: "ANTHROPIC_MODEL",
        ModelTier.FAST: "ANTHROPIC_SMALL_FAST_MODEL",
    },
    "opencode": {
        ModelTier.STRONGEST: "OPENCODE_MODEL",
        ModelTier.FAST: "OPENCODE_SMALL_FAST_MODEL",
    },
}


def as_tier(model: object) -> ModelTier | None:
    """``model`` as a tier: a ModelTier, or its name as a string ("strongest", "FAST")."""
    if isinstance(model, ModelTier):
        return model
    if isinstance(model, str):
        try:
            return ModelTier(model.strip().lower())
        except ValueError:
            return None
    return None


def tier_model(provider: str, tier: ModelTier) -> str | None:
    """The concrete model ``tier`` means for ``provider`` (None: the CLI's default)."""
    name = canonical_name(provider)
    variable = ENV_OVERRIDES.get(name, {}).get(tier)
    if variable and os.environ.get(variable, "").strip():
        return os.environ[variable].strip()
    from .user_config import tier_override

    return tier_override(name, tier) or DEFAULT_MODELS.get(name, {}).get(tier)


def resolve_model(provider: str, model: str | ModelTier | None) -> str | None:
    """A concrete model string for ``provider``: tiers resolved, strings passed through."""
    tier = as_tier(model)
    if tier is not None:
        return tier_model(provider, tier)
    return model if isinstance(model, str) and model.strip() else None
