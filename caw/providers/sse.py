"""Reading Server-Sent Events from an httpx streaming response.

Implements the parsing rules of the WHATWG event-stream format that matter to a
client: ``data:`` lines of one event are joined with newlines, ``event:`` and
``id:`` are kept, ``retry:`` and ``:`` comment lines are skipped, a blank line
ends an event. Used by the opencode adapter for ``GET /event``; nothing here is
specific to one backend.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("caw.sse")


@dataclass(frozen=True)
class ServerSentEvent:
    data: str
    event: str = "message"
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


async def parse_lines(lines: AsyncIterable[str]) -> AsyncIterator[ServerSentEvent]:
    """Events from an iterator of lines (without their line endings)."""
    data: list[str] = []
    event = ""
    last_id: str | None = None
    async for line in lines:
        if not line:
            if data:
                yield ServerSentEvent(data="\n".join(data), event=event or "message", id=last_id)
            data, event = [], ""
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            last_id = value
        # "retry" and unknown fields are ignored, as the format asks
    if data:  # a stream that ends without the final blank line still delivers its last event
        yield ServerSentEvent(data="\n".join(data), event=event or "message", id=last_id)


async def iter_events(response: httpx.Response) -> AsyncIterator[ServerSentEvent]:
    """The events of a streaming response, until the server closes it."""
    async for event in parse_lines(response.aiter_lines()):
        yield event


async def iter_json(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    """The JSON objects carried by the events' data; other payloads are logged and skipped."""
    async for event in iter_events(response):
        try:
            obj = event.json()
        except ValueError:
            log.debug("skipping a non-JSON event: %.200r", event.data)
            continue
        if isinstance(obj, dict):
            yield obj
