"""claude's one mode: a warm ``claude -p`` process per conversation, stream-json both ways.

Input is one JSON line per user turn; output is JSON lines (``system/init``,
``stream_event`` partials, full ``assistant``/``user`` messages, and a ``result``
that ends the turn). Interrupts and permission answers are control messages on stdin.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

from ...errors import BackendFailed
from ...events import Event, UsageUpdate
from ...permissions import PermissionBroker
from ...permissions import claude as claude_permissions
from ..base import Conversation, RawSink, model_error, tolerant
from ..process import ChildProcess
from .translate import TurnTranslator, context_tokens_of, usage_of
from .warm_up import WarmUp

_request_ids = itertools.count(1)
log = logging.getLogger("caw.claude")
SET_MODEL_TIMEOUT = 10.0  # seconds claude may take to answer set_model (it answers in ms)


class ClaudeConversation(Conversation):
    def __init__(
        self,
        process: ChildProcess,
        resume_key: str | None,
        permissions: PermissionBroker | None = None,
        warm_up: WarmUp | None = None,
    ):
        self.process = process
        self.warm_up = warm_up  # reads the process's output until the first send (warm_up.py)
        self.resume_key = resume_key
        self.permissions = permissions  # set in "ask" mode: claude's can_use_tool questions
        # claude reports the conversation's running cost; a resumed process starts from the
        # stored total, which we do not know, so its first turn's own cost is unknown.
        self._cumulative_cost: float | None = None if resume_key else 0.0
        self._interrupted = False

    @property
    def alive(self) -> bool:
        return self.process.alive

    async def _settle_warm_up(self) -> None:
        """From now on the conversation reads the process's output."""
        if self.warm_up is not None:
            await self.warm_up.settle()
            self.warm_up = None

    async def send(self, text: str, raw: RawSink) -> AsyncIterator[Event]:
        self._interrupted = False
        await self._settle_warm_up()
        try:
            await self.process.write_json(
                {"type": "user", "message": {"role": "user", "content": text}}
            )
        except (BrokenPipeError, ConnectionResetError):
            raise await self._died() from None
        translator = TurnTranslator()
        context: int | None = None  # the tokens of the last main-agent model call
        async for line in self.process.json_lines():
            raw(line)
            kind = line.get("type")
            if kind == "assistant" and not line.get("parent_tool_use_id"):
                context = context_tokens_of(line) or context
            if kind == "system" and line.get("subtype") == "init":
                self._adopt_key(line.get("session_id"))
            elif kind in ("stream_event", "assistant", "user"):
                for event in tolerant("claude", translator.events, line):
                    yield event
            elif self.permissions is not None and claude_permissions.is_permission_request(line):
                await self._answer_permission(line)
            elif kind == "result":
                self._adopt_key(line.get("session_id"))
                for event in translator.flush():
                    yield event
                for event in tolerant("claude", partial(self._usage, context=context), line):
                    yield event
                if line.get("is_error") and not self._interrupted:
                    errors = line.get("errors") or []
                    message = (
                        line.get("result")
                        or "; ".join(map(str, errors))
                        or line.get("subtype", "error")
                    )
                    if "No conversation found" in str(
                        message
                    ) or "No conversation found" in " ".join(map(str, errors)):
                        raise BackendFailed(
                            f"claude has no conversation with this resume key: {message}"
                        )
                    raise model_error(f"claude reported an error: {message}")
                return
        raise await self._died()

    def _adopt_key(self, key: object) -> None:
        if isinstance(key, str) and key:
            self.resume_key = key

    def _usage(self, result: dict[str, Any], context: int | None = None) -> list[Event]:
        total = result.get("total_cost_usd")
        cost = None
        if isinstance(total, (int, float)):
            if self._cumulative_cost is not None:
                cost = max(0.0, float(total) - self._cumulative_cost)
            self._cumulative_cost = float(total)
        return [UsageUpdate(usage=usage_of(result, cost, context))]

    async def _answer_permission(self, line: dict[str, Any]) -> None:
        assert self.permissions is not None
        decision = await self.permissions.decide(claude_permissions.permission_request(line))
        try:
            await self.process.write_json(claude_permissions.permission_response(line, decision))
        except (BrokenPipeError, ConnectionResetError):
            raise await self._died() from None

    async def _died(self) -> BackendFailed:
        return await self.process.exit_error("the claude process ended during the turn")

    async def set_model(self, model: str) -> bool:
        """claude's ``set_model`` control request (between turns: nothing else is read now)."""
        request_id = f"caw-{next(_request_ids)}"
        request = {"subtype": "set_model", "model": model}
        await self._settle_warm_up()
        try:
            await self.process.write_json(
                {"type": "control_request", "request_id": request_id, "request": request}
            )
            return await asyncio.wait_for(self._control_answer(request_id), SET_MODEL_TIMEOUT)
        except (BrokenPipeError, ConnectionResetError, asyncio.TimeoutError) as exc:
            log.warning("claude did not switch its model (%s); restarting it", type(exc).__name__)
        return False

    async def _control_answer(self, request_id: str) -> bool:
        """Whether claude's ``control_response`` to ``request_id`` is a success."""
        async for line in self.process.json_lines():
            response = line.get("response") or {}
            if line.get("type") == "control_response" and response.get("request_id") == request_id:
                return bool(response.get("subtype") == "success")
        return False

    async def interrupt(self) -> None:
        if not self.process.alive:
            return
        self._interrupted = True
        request = {
            "type": "control_request",
            "request_id": f"caw-{next(_request_ids)}",
            "request": {"subtype": "interrupt"},
        }
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            await self.process.write_json(request)

    async def close(self) -> None:
        await self._settle_warm_up()
        # Closing stdin lets claude finish writing its session file before we signal it.
        self.process.close_stdin()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.process.proc.wait(), 2.0)
        await self.process.stop()
