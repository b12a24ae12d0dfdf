"""A CawServer in this process, fed frames directly, its output captured as (message, droppable)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from caw_server.app import CawServer

TIMEOUT = 10
_HEADER = re.compile(rb"Content-Length: (\d+)\r\n\r\n")


class CaptureWriter:
    """The daemon's output: every frame checked for exact framing, then parsed."""

    def __init__(self) -> None:
        self.frames: asyncio.Queue[tuple[Any, bool]] = asyncio.Queue()

    def write(self, data: bytes, *, droppable: bool = False) -> None:
        header = _HEADER.match(data)
        assert header is not None, f"not framed as 'Content-Length: N\\r\\n\\r\\n': {data[:80]!r}"
        body = data[header.end() :]
        assert int(header.group(1)) == len(body), "Content-Length must count the body's bytes"
        self.frames.put_nowait((json.loads(body), droppable))

    def close(self) -> None:
        pass

    async def next(self) -> tuple[Any, bool]:
        return await asyncio.wait_for(self.frames.get(), TIMEOUT)

    async def next_message(self) -> Any:
        return (await self.next())[0]

    def drained(self) -> list[tuple[Any, bool]]:
        out = []
        while not self.frames.empty():
            out.append(self.frames.get_nowait())
        return out


class Daemon:
    def __init__(self, server: CawServer, out: CaptureWriter):
        self.server, self.out = server, out

    @property
    def protocol(self) -> Any:
        return self.server.protocol

    def send(self, message: Any) -> None:
        self.server.protocol.receive_frame(json.dumps(message).encode())

    async def request(self, method: str, params: Any = None, msg_id: Any = "r") -> Any:
        """Send a request; return its answer (a dict with result or error)."""
        self.send({"jsonrpc": "2.0", "id": msg_id, "method": method, "params": params})
        while True:
            message = await self.out.next_message()
            if isinstance(message, dict) and message.get("id", object()) == msg_id:
                return message

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})
