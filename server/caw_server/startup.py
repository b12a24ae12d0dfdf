"""What a fresh daemon does once ``initialize`` has been answered (issue 20: a cold daemon).

Before that answer the daemon only imports what the answer needs: not the session
stack (caw.agent, caw.session, the providers' adapters), and caw's pydantic models
are built on first use (``CawModel``'s ``defer_build``). Right after it, this
imports that stack and builds every model still unbuilt, one module or model per
turn of the event loop, so that the first ``session/start`` and the first turn do
not pay for them, and a message from the client is never kept waiting more than
one module's import or one model's build.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Iterator

from pydantic import BaseModel

from caw.models import CawModel

log = logging.getLogger("caw_server.startup")

# What the first session/start imports (with what they import), leaves first.
SESSION_STACK = (
    "caw.changes",
    "caw.recorder",
    "caw.session",
    "caw.agent",
    "caw.providers.claude_code",
    "caw.providers.codex",
    "caw.providers.opencode",
)


def _models(base: type[BaseModel]) -> Iterator[type[BaseModel]]:
    for cls in base.__subclasses__():
        yield cls
        yield from _models(cls)


def unbuilt_models() -> list[type[BaseModel]]:
    """caw's models (the daemon's wire models included) whose schema is not built yet."""
    return [cls for cls in dict.fromkeys(_models(CawModel)) if not cls.__pydantic_complete__]


async def build_models() -> int:
    """Build every unbuilt model, yielding to the event loop between two; returns how many."""
    built = 0
    for cls in unbuilt_models():
        try:
            cls.model_rebuild()
        except Exception:  # it is built (and fails clearly) on first use instead
            log.debug("could not build %s ahead", cls.__name__, exc_info=True)
        built += 1
        await asyncio.sleep(0)
    return built


async def warm_up() -> int:
    """Import the session stack, then build every unbuilt model; returns how many models."""
    for name in SESSION_STACK:
        try:
            importlib.import_module(name)
        except ImportError:  # imported (and failing clearly) on first use instead
            log.debug("could not import %s ahead", name, exc_info=True)
        await asyncio.sleep(0)
    return await build_models()
