"""The provider registry: names, aliases, and one shared Provider instance per name.

Providers are shared per process (per event loop) so that codex and opencode
keep one backend server for all their sessions.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import weakref
from collections.abc import Mapping

from ..errors import CawError
from .base import Conversation, ConversationOptions, Provider, find_command

_MODULES = {
    "claude_code": ("caw.providers.claude_code", "ClaudeCodeProvider"),
    "codex": ("caw.providers.codex", "CodexProvider"),
    "opencode": ("caw.providers.opencode", "OpenCodeProvider"),
}
# Each built-in provider's CLI (its class's ``cli``), so that finding the CLI does not import
# the adapter: tens of milliseconds each, before caw-server's initialize answer (issue 20).
CLI_NAMES = {"claude_code": "claude", "codex": "codex", "opencode": "opencode"}
ALIASES = {"claude": "claude_code", "cc": "claude_code", "claude-code": "claude_code"}
PROVIDER_NAMES = tuple(_MODULES)  # the built-in providers (registered ones: provider_names())
DEFAULT_PROVIDER = "claude_code"


class UnknownProvider(CawError, ValueError):
    kind = "unknownProvider"


def provider_names() -> tuple[str, ...]:
    """Every provider name, built-in first, then the registered ones."""
    return tuple(_MODULES)


def canonical_name(name: str | None) -> str:
    """``name`` (or ``$CAW_PROVIDER``, or the default) resolved through the aliases."""
    # CAW_PROVIDER may be a fallback order ("claude,codex"): its first name is the default.
    env_first = os.environ.get("CAW_PROVIDER", "").split(",")[0].strip()
    chosen = name or env_first or DEFAULT_PROVIDER
    chosen = ALIASES.get(chosen, chosen)
    if chosen not in _MODULES:
        raise UnknownProvider(f"unknown provider {chosen!r}; choose one of {', '.join(_MODULES)}")
    return chosen


_REGISTERED: dict[str, type[Provider]] = {}


def register(name: str, cls: type[Provider]) -> None:
    """Add a user's provider class under ``name`` (caw.register_provider)."""
    if not (isinstance(cls, type) and issubclass(cls, Provider)):
        raise TypeError(f"register_provider needs a caw.Provider subclass, not {cls!r}")
    key = name.strip()
    if not key or "," in key:
        raise ValueError(f"a provider name must be a non-empty word, not {name!r}")
    _REGISTERED[key] = cls
    _MODULES[key] = ("", key)


def provider_class(name: str) -> type[Provider]:
    key = canonical_name(name)
    if key in _REGISTERED:
        return _REGISTERED[key]
    module, attr = _MODULES[key]
    provider: type[Provider] = getattr(importlib.import_module(module), attr)
    return provider


def find_cli(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """``provider_class(name).find_cli(env)``, without importing a built-in provider's adapter."""
    key = canonical_name(name)
    if key in _REGISTERED:
        return _REGISTERED[key].find_cli(env)
    return find_command(CLI_NAMES[key], env)


_shared: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Provider]] = (
    weakref.WeakKeyDictionary()
)


def shared_provider(name: str) -> Provider:
    """This event loop's one instance of provider ``name`` (created on first use)."""
    pool = _shared.setdefault(asyncio.get_running_loop(), {})
    key = canonical_name(name)
    if key not in pool:
        pool[key] = provider_class(key)()
    return pool[key]


async def close_shared_providers() -> None:
    """End every backend server this loop's providers share (daemon shutdown)."""
    pool = _shared.pop(asyncio.get_running_loop(), {})
    for provider in pool.values():
        await provider.aclose()


__all__ = [
    "ALIASES", "CLI_NAMES", "DEFAULT_PROVIDER", "PROVIDER_NAMES", "Conversation", "ConversationOptions",
    "Provider", "UnknownProvider", "canonical_name", "close_shared_providers", "find_cli", "provider_class",
    "provider_names", "register", "shared_provider",
]  # fmt: skip
