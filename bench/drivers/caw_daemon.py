"""caw-server: a stdio JSON-RPC client (caw.client.CawClient) timing ``session/send``.

    python bench/drivers/caw_daemon.py PROVIDER [--data-dir DIR]

The daemon is ``python -m caw_server`` of this interpreter, started on ``open``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import time
from typing import TYPE_CHECKING

from _proto import Deltas, serve_async

if TYPE_CHECKING:
    from caw.client import CawClient


class CawServerDriver:
    def __init__(self, provider: str, data_dir: str | None):
        self.provider = provider
        self.daemon_args = ["--data-dir", data_dir] if data_dir else ["--no-data-dir"]
        self.client: CawClient | None = None
        self.session_id: str | None = None
        self.handle: str | None = None

    async def op_open(self, resume: str | None = None) -> dict:
        from caw.client import CawClient

        started = time.monotonic()
        if self.client is None:
            self.client = await CawClient.spawn(*self.daemon_args)
            await self.client.initialize()
        daemon = time.monotonic()
        if resume:
            result = await self.client.resume(handle=resume, cwd=os.getcwd())
        else:
            result = await self.client.start_session(provider=self.provider, cwd=os.getcwd())
        self.session_id = result["sessionId"]
        now = time.monotonic()
        return {
            "seconds": now - started,
            "daemon_seconds": daemon - started,
            "session_seconds": now - daemon,
            "pid": self.client.pid,
        }

    async def op_turn(self, text: str) -> dict:
        deltas = Deltas()

        def on_update(update: dict) -> None:
            if update.get("kind") == "text":
                deltas.add(update.get("text") or "", time.monotonic())

        assert self.client is not None and self.session_id is not None, "op_open comes first"
        started = time.monotonic()
        result = await self.client.send(self.session_id, text, on_update=on_update)
        seconds = time.monotonic() - started
        turn = result["turn"]
        return {
            "seconds": seconds,
            "t_send": started,
            "text": turn.get("result") or "",
            "deltas": deltas.points,
            "key": result.get("resumeHandle"),
        }

    async def op_close(self) -> dict:
        if self.client is not None:
            if self.session_id:
                with contextlib.suppress(Exception):
                    await self.client.end(self.session_id)
            await self.client.aclose()
            self.client = None
        return {}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("provider")
    parser.add_argument("--data-dir")
    ns = parser.parse_args()
    serve_async(CawServerDriver(ns.provider, ns.data_dir))
