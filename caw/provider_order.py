"""Provider fallback order: which providers an Agent may use, and in what order.

``Agent(provider=[...])`` or ``"auto"`` opts into fallback; a single name stays pinned. The
order for ``"auto"`` (or no provider) comes from :func:`set_provider_order`, else a
comma-separated ``$CAW_PROVIDER``. Selection is a no-network check: the first provider whose
CLI is installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from .providers import DEFAULT_PROVIDER, canonical_name, provider_class, provider_names, register
from .providers.base import Provider
from .tiers import ModelTier

ModelChoice = str | ModelTier

_order: list[str] | None = None
_models: dict[str, ModelChoice] = {}


def set_provider_order(
    order: Iterable[str | tuple[str, ModelChoice]] | None,
    models: Mapping[str, ModelChoice] | None = None,
) -> None:
    """The global fallback order used by ``provider="auto"``; ``None`` clears it.

    Items are names or ``(name, model)`` pairs; ``models`` maps names to models too. A model
    bound here is used for its provider (even as a fallback) when the Agent sets none."""
    global _order, _models
    if order is None:
        _order, _models = None, {}
        return
    names: list[str] = []
    bound: dict[str, ModelChoice] = {}
    for item in order:
        if isinstance(item, tuple):
            if len(item) != 2:
                raise ValueError(f"an order entry is a name or a (name, model) pair, not {item!r}")
            name, model = canonical_name(item[0]), item[1]
            bound[name] = model
        else:
            name = canonical_name(item)
        if name not in names:
            names.append(name)
    for name, model in (models or {}).items():
        bound[canonical_name(name)] = model
    if not names:
        raise ValueError("set_provider_order needs at least one provider")
    _order, _models = names, bound


def _env_order() -> list[str]:
    raw = os.environ.get("CAW_PROVIDER", "")
    return [canonical_name(part.strip()) for part in raw.split(",") if part.strip()]


def get_provider_order() -> list[str]:
    """The order ``provider="auto"`` uses: the global one, else ``$CAW_PROVIDER``, else every
    provider (the default first)."""
    if _order is not None:
        return list(_order)
    env = _env_order()
    if env:
        return env
    names = list(provider_names())
    names.remove(DEFAULT_PROVIDER)
    return [DEFAULT_PROVIDER, *names]


def get_provider_models() -> dict[str, ModelChoice]:
    """The models bound to providers by :func:`set_provider_order`."""
    return dict(_models)


def resolve_order(provider: str | Sequence[str] | None) -> tuple[list[str], bool]:
    """``(order, fallback)`` for an Agent's ``provider`` argument.

    A list, ``"auto"``, a comma list, or nothing with a global or comma order set: fallback.
    A single name (given or from ``$CAW_PROVIDER``) or nothing at all: that one provider."""
    if isinstance(provider, str):
        text = provider.strip()
        if text.lower() == "auto":
            return get_provider_order(), True
        if "," in text:
            return _dedupe(canonical_name(p.strip()) for p in text.split(",") if p.strip()), True
        return [canonical_name(text)], False
    if provider is None:
        if _order is not None or len(_env_order()) > 1:
            return get_provider_order(), True
        return [canonical_name(None)], False
    names = _dedupe(canonical_name(p) for p in provider)
    if not names:
        raise ValueError("provider=[] names no provider")
    return names, True


def _dedupe(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out


def is_installed(name: str, env: Mapping[str, str] | None = None) -> bool:
    return provider_class(name).find_cli(env) is not None


def first_installed(order: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """The first provider of ``order`` whose CLI is found (the first one if none is)."""
    for name in order:
        if is_installed(name, env):
            return name
    return order[0]


class InstalledProvider(NamedTuple):
    name: str
    provider: type[Provider]


def installed_providers(env: Mapping[str, str] | None = None) -> list[InstalledProvider]:
    """Every provider whose CLI is installed, in registry order."""
    return [
        InstalledProvider(name, provider_class(name))
        for name in provider_names()
        if is_installed(name, env)
    ]


def register_provider(name: str, cls: type[Provider]) -> None:
    """Make ``Agent(provider=name)`` use ``cls`` (a :class:`caw.providers.base.Provider`)."""
    register(name, cls)
