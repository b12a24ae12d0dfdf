"""What a fresh daemon does once ``initialize`` has been answered (issue 20: a cold daemon).

Before that answer the daemon only imports what the answer needs; caw's pydantic
models are built on first use (``CawModel``'s ``defer_build``). Right after it,
this builds every model still unbuilt, one per turn of the event loop, so that
the first ``session/start`` and the first turn do not pay for them, and a
message from the client is never kept waiting more than one model's build.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator

from pydantic import BaseModel

from caw.models import CawModel

log = logging.getLogger("caw_server.startup")


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
