"""Shared by the ACP tests: ``caw acp`` spawned by the official Python SDK's client side.

:class:`Editor` is the client (what Zed or agent-shell would be): it records every
``session/update`` and answers ``session/request_permission`` from a script.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast

import acp
import pytest
from acp import schema
from acp.client.connection import ClientSideConnection

from caw.testing import RecordedRequest, Reply, ScriptedModelServer
from tests.support.procs import wait_until

TURN = 120  # seconds: a generous bound for one turn on a busy 2-core machine


class Editor:
    """An ACP client that records updates and answers permission questions in order.

    It declares no fs or terminal capability, so only these two client methods are used
    (hence the cast to ``acp.Client`` where it is handed to the SDK)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, Any]] = []
        self.asked: list[schema.RequestPermissionRequest] = []
        self.answers: list[str] = []  # option ids, used in order; empty: allow_once
        self.hold = False  # True: questions wait unanswered (until the agent withdraws them)
        self.changed = asyncio.Event()

    async def session_update(self, session_id: str, update: Any, **kwargs: Any) -> None:
        self.updates.append((session_id, update))
        self.changed.set()

    async def request_permission(
        self, session_id: str, tool_call: Any, options: list[Any], **kwargs: Any
    ) -> schema.RequestPermissionResponse:
        self.asked.append(
            schema.RequestPermissionRequest(
                session_id=session_id, tool_call=tool_call, options=options
            )
        )
        if self.hold:
            self.changed.set()
            await asyncio.Event().wait()  # cancelled when the agent stops waiting
        option = self.answers.pop(0) if self.answers else "allow_once"
        return schema.RequestPermissionResponse(
            outcome=schema.AllowedOutcome(outcome="selected", option_id=option)
        )

    def of(self, kind: str, since: int = 0) -> list[Any]:
        return [u for _, u in self.updates[since:] if u.session_update == kind]

    def text(self, kind: str = "agent_message_chunk", since: int = 0) -> str:
        return "".join(u.content.text for u in self.of(kind, since))

    async def wait_for(self, kind: str, since: int = 0, timeout: float = TURN) -> Any:
        async def seen() -> Any:
            while True:
                found = self.of(kind, since)
                if found:
                    return found[0]
                self.changed.clear()
                await self.changed.wait()

        return await asyncio.wait_for(seen(), timeout)


@contextlib.asynccontextmanager
async def caw_acp(
    editor: Editor, env: dict[str, str], cwd: Path, *flags: str, stderr: Path
) -> AsyncIterator[tuple[ClientSideConnection, asyncio.subprocess.Process]]:
    """``caw acp FLAGS`` with the SDK's client connected; its stderr goes to ``stderr``."""
    with stderr.open("ab") as log:
        async with acp.spawn_agent_process(
            cast(acp.Client, editor), sys.executable, "-m", "caw.cli", "acp", *flags,
            env=env, cwd=str(cwd), transport_kwargs={"stderr": log},
            use_unstable_protocol=True,
        ) as (conn, proc):  # fmt: skip
            init = await asyncio.wait_for(conn.initialize(protocol_version=1), 60)
            assert init.protocol_version == 1
            yield conn, proc


def stream_the_fact_slowly(scripted: ScriptedModelServer, data: Path) -> None:
    """The fact's answer streams over 0.3 s, as a real model's does, and its last delta waits
    until caw has recorded a delta in ``data``. From an instant model, or behind a stalled
    stream, a client may get the answer in one chunk (opencode's turn ends with its POST's
    answer, which fills in at once what its event stream has not delivered yet), and the flows
    check it streams."""

    def streamed() -> bool:
        return any(
            "delta" in path.read_text(errors="replace")
            for path in data.glob("sessions/*/turns/*_raw_output.jsonl")
        )

    def hold() -> None:
        # On a timeout the answer ends in one piece and the flow's own check fails.
        with contextlib.suppress(AssertionError):
            wait_until(streamed, timeout=TURN / 4, what="a streamed delta")

    def spread(request: RecordedRequest, reply: Reply) -> Reply | None:
        texts = request.user_texts()
        if request.kind == "main" and texts and "deploy target is staging-eu" in texts[-1]:
            reply.slow = 0.3
            reply.hold = hold
            return reply
        return None

    scripted.set_responder(spread)


def text_block(text: str) -> schema.TextContentBlock:
    return schema.TextContentBlock(type="text", text=text)


async def prompt(conn: ClientSideConnection, sid: str, *blocks: Any) -> str:
    answer = await asyncio.wait_for(conn.prompt(session_id=sid, prompt=list(blocks)), TURN)
    return str(answer.stop_reason)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path
