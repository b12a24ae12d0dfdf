"""Which models (and reasoning levels) each CLI offers, as the CLI itself reports them.

codex lists its catalog through the app-server (``model/list``), opencode through serve
(``GET /config/providers``: its configured providers' models, reasoning levels as model
"variants"); claude has no listing request, so its list is the aliases its CLI accepts
(``--model``) with the effort levels of ``--effort``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from .models import CawModel

ModelSource = Literal["cli", "aliases"]


class ModelInfo(CawModel):
    id: str = Field(description="What session/start's and session/configure's model takes.")
    name: str
    reasoning_levels: list[str] = Field(
        default_factory=list, description="Values for reasoning (empty: the CLI names none)."
    )
    is_default: bool = False


class ModelList(CawModel):
    provider: str
    models: list[ModelInfo]
    source: ModelSource = Field(
        description="cli: listed by the CLI itself; aliases: names the CLI is known to accept."
    )


# claude 2.1.332 accepts these aliases for --model (its own list; "default" is the account's
# default) and these --effort levels (`claude --help`).
CLAUDE_ALIASES = (
    "default", "sonnet", "opus", "haiku", "fable", "best",
    "sonnet[1m]", "opus[1m]", "fable[1m]", "opusplan",
)  # fmt: skip
CLAUDE_EFFORTS = ["low", "medium", "high", "xhigh", "max"]


def claude_models() -> ModelList:
    return ModelList(
        provider="claude_code",
        source="aliases",
        models=[
            ModelInfo(
                id=alias, name=alias, reasoning_levels=CLAUDE_EFFORTS, is_default=alias == "default"
            )
            for alias in CLAUDE_ALIASES
        ],
    )


def codex_models(pages: Sequence[Mapping[str, Any]]) -> ModelList:
    """``model/list`` answers (``{data: [Model], nextCursor}``) as one list."""
    models = []
    for page in pages:
        for model in page.get("data") or []:
            if not isinstance(model, Mapping) or model.get("hidden"):
                continue
            ident = str(model.get("model") or model.get("id") or "")
            efforts = [
                str(option.get("reasoningEffort"))
                for option in model.get("supportedReasoningEfforts") or []
                if isinstance(option, Mapping) and option.get("reasoningEffort")
            ]
            models.append(
                ModelInfo(
                    id=ident,
                    name=str(model.get("displayName") or ident),
                    reasoning_levels=efforts,
                    is_default=bool(model.get("isDefault")),
                )
            )
    return ModelList(provider="codex", source="cli", models=models)


def opencode_models(providers: Mapping[str, Any], default: str | None) -> ModelList:
    """serve's ``GET /config/providers`` answer; ``default``: the configured ``model``."""
    models = []
    for provider in providers.get("providers") or []:
        if not isinstance(provider, Mapping):
            continue
        owner = str(provider.get("id") or "")
        catalog = provider.get("models") or {}
        for key, model in catalog.items() if isinstance(catalog, Mapping) else ():
            ident = f"{owner}/{key}"
            info = model if isinstance(model, Mapping) else {}
            variants = info.get("variants") or {}
            models.append(
                ModelInfo(
                    id=ident,
                    name=str(info.get("name") or key),
                    reasoning_levels=list(variants) if isinstance(variants, Mapping) else [],
                    is_default=ident == default,
                )
            )
    return ModelList(provider="opencode", source="cli", models=models)
